"""The compiler's output: tools, the routes that map them back to HTTP, and diagnostics.

Plain frozen dataclasses, cheap to build by the hundred thousand (the corpus benchmark compiles
125k operations). ``to_dict`` gives the canonical JSON form that the digest is computed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from toolmesh.common import tools

ParamLocation = Literal["path", "query", "header", "cookie"]


class Level(StrEnum):
    """How much a diagnostic matters to the integration's owner."""

    WARNING = "warning"  # an operation was skipped, or a tool is less precise than its spec
    INFO = "info"  # a harmless simplification


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something the compiler skipped or simplified, with the operation it concerns."""

    level: Level
    code: str  # CamelCase, stable; see toolmesh.openapi.diagnostics
    message: str
    operation: str | None = None  # "GET /pets/{id}"

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{self.level}: {where}{self.message} [{self.code}]"


@dataclass(frozen=True, slots=True)
class ParamRoute:
    """Where one top-level argument goes in the HTTP request."""

    location: ParamLocation
    name: str  # the name on the wire (the argument key may have been sanitized)
    style: str
    explode: bool
    allow_reserved: bool = False
    content_type: str | None = None  # parameters described with `content` are serialized whole

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "in": self.location,
            "name": self.name,
            "style": self.style,
            "explode": self.explode,
        }
        if self.allow_reserved:
            out["allowReserved"] = True
        if self.content_type:
            out["contentType"] = self.content_type
        return out


@dataclass(frozen=True, slots=True)
class BodyRoute:
    """How the ``body`` argument becomes the request body."""

    argument: str
    media_type: str
    required: bool
    #: Per-property content types for form and multipart bodies (the OpenAPI `encoding` object).
    encoding: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "argument": self.argument,
            "mediaType": self.media_type,
            "required": self.required,
        }
        if self.encoding:
            out["encoding"] = dict(self.encoding)
        return out


@dataclass(frozen=True, slots=True)
class Server:
    """A server URL template and its variables' defaults and allowed values."""

    url: str
    variables: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, default, enum)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url}
        if self.variables:
            out["variables"] = {
                n: {"default": d, **({"enum": list(e)} if e else {})} for n, d, e in self.variables
            }
        return out


@dataclass(frozen=True, slots=True)
class Route:
    """The HTTP operation behind a tool."""

    method: str
    path: str
    params: tuple[tuple[str, ParamRoute], ...]  # argument key -> placement
    body: BodyRoute | None
    servers: tuple[Server, ...]  # the operation's own servers, or the document's
    #: Alternatives of security requirements: each is a tuple of (scheme name, scopes).
    security: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
    operation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "operationId": self.operation_id,
            "params": {k: p.to_dict() for k, p in self.params},
            "body": self.body.to_dict() if self.body else None,
            "servers": [s.to_dict() for s in self.servers],
            "security": [{n: list(s) for n, s in alt} for alt in self.security],
        }


@dataclass(frozen=True, slots=True)
class Tool:
    """One MCP tool made from one operation."""

    name: str
    title: str | None
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, bool]
    route: Route
    tags: tuple[str, ...] = ()
    #: Field names of the success response (openapi/responses.py), for the gateway's tool graph.
    #: Not served and not in the digest: a category server's tools do not change with them.
    returns: tuple[str, ...] = ()
    #: Compiled argument validator, built on first use (see toolmesh.openapi.request).
    _validator: list[Any] = field(default_factory=list, compare=False, repr=False)

    def to_mcp(self) -> dict[str, Any]:
        """The tool as MCP's ``tools/list`` shows it (camelCase wire form)."""
        return tools.wire(
            self.name,
            description=self.description,
            input_schema=self.input_schema,
            title=self.title,
            annotations=self.annotations,
        )

    def to_dict(self) -> dict[str, Any]:
        """The MCP form plus the route and tags: everything the digest covers."""
        return {**self.to_mcp(), "tags": list(self.tags), "route": self.route.to_dict()}


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """A security scheme of the document, reduced to what request building needs."""

    name: str
    type: str  # apiKey | http | oauth2 | openIdConnect | mutualTLS
    location: str | None = None  # apiKey: header | query | cookie
    param_name: str | None = None  # apiKey: the header/query/cookie name
    scheme: str | None = None  # http: basic | bearer | ...
    token_url: str | None = None  # oauth2 client credentials / authorization code
    authorization_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (
            ("type", self.type), ("in", self.location), ("name", self.param_name), ("scheme", self.scheme),
            ("tokenUrl", self.token_url), ("authorizationUrl", self.authorization_url),
        ) if v is not None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Selector:
    """Selects operations: every criterion that is set must match; a list matches if any entry does."""

    operations: tuple[str, ...] = ()  # globs over operationId
    tags: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()  # upper case
    paths: tuple[str, ...] = ()  # globs over path templates


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How to compile: the tool-name prefix and which operations to keep."""

    prefix: str | None = None
    include: Selector | None = None
    exclude: Selector | None = None
    read_only: bool = False
    #: Longest tool description kept; the rest is cut at a word boundary and marked.
    max_description: int = 1024


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    """The result of compiling one document."""

    title: str
    version: str
    source_format: str  # "openapi 3.0.3", "swagger 2.0", ...
    tools: tuple[Tool, ...]
    servers: tuple[Server, ...]
    security_schemes: tuple[SecurityScheme, ...]
    diagnostics: tuple[Diagnostic, ...]
    digest: str  # "sha256:<hex>" over the canonical JSON of tools, servers and schemes
    operations_total: int  # operations in the document, before filtering

    def tool(self, name: str) -> Tool:
        for t in self.tools:
            if t.name == name:
                return t
        raise KeyError(name)

    def scheme(self, name: str) -> SecurityScheme | None:
        return next((s for s in self.security_schemes if s.name == name), None)
