"""OpenAPI document → MCP tools. Pure and deterministic: same document and options, same digest.

One operation becomes one tool. Path, query, header and cookie parameters become top-level
arguments (renamed where a client would reject the key, suffixed with their location where two
collide); the request body becomes one ``body`` argument, so body fields never clash with
parameters. Each tool keeps a :class:`~toolmesh.openapi.model.Route` that says where every argument
goes, which :mod:`toolmesh.openapi.request` uses to build the HTTP request.

Whatever cannot be compiled exactly is reported as a :class:`~toolmesh.openapi.model.Diagnostic`;
an operation is skipped only when no correct request could be built for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from toolmesh.common import tools
from toolmesh.openapi import budgets, endpoints, filters, naming, swagger2
from toolmesh.openapi import diagnostics as codes
from toolmesh.openapi.document import parse, version_of
from toolmesh.openapi.errors import SpecError
from toolmesh.openapi.model import (
    BodyRoute,
    CompiledSpec,
    CompileOptions,
    Diagnostic,
    Level,
    ParamRoute,
    Route,
    SecurityScheme,
    Server,
    Tool,
)  # fmt: skip
from toolmesh.openapi.responses import returned_fields
from toolmesh.openapi.schema import SchemaConverter, UnresolvableRef, deref, truncate

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LOCATIONS = ("path", "query", "header", "cookie")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})  # OpenAPI: described elsewhere
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_TEMPLATE = re.compile(r"{([^{}/]+)}")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _text(obj: dict[str, Any], key: str) -> str:
    """A string field, stripped; empty when absent or not a string."""
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _media_rank(media: str) -> int:
    m = media.lower().split(";")[0].strip()
    if m == "application/json":
        return 0
    if "json" in m:
        return 1
    order = [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
        "application/octet-stream",
        "*/*",
    ]
    return 2 + order.index(m) if m in order else 8


def pick_media_type(content: dict[str, Any]) -> str | None:
    """The media type a request is sent with: JSON first, then forms, text, binary, anything."""
    candidates = [k for k, v in content.items() if isinstance(k, str) and isinstance(v, dict | type(None))]
    return min(candidates, key=lambda m: (_media_rank(m), m)) if candidates else None


def _description(op: dict[str, Any], method: str, path: str, tags: list[str], limit: int) -> str:
    summary = _text(op, "summary")
    detail = _text(op, "description")
    if summary and detail and not detail.startswith(summary.rstrip(".")):
        text = f"{summary}\n\n{detail}"
    else:
        text = detail or summary
    if not text:
        text = f"{method.upper()} {path}" + (f" ({', '.join(tags)})" if tags else "")
    if op.get("deprecated") is True:
        text = "Deprecated. " + text
    return truncate(re.sub(r"\n{3,}", "\n\n", text), limit)


def _tags(op: dict[str, Any]) -> list[str]:
    return [str(t) for t in _list(op.get("tags")) if isinstance(t, str | int)]


def _operation_id(op: dict[str, Any]) -> str | None:
    return op["operationId"] if isinstance(op.get("operationId"), str) else None


def _hints(method: str) -> dict[str, bool]:
    """What an HTTP method promises: GET, HEAD and OPTIONS are safe; PUT and DELETE are idempotent."""
    return tools.hints(
        read_only=method in _SAFE,
        destructive=method in ("DELETE", "PUT"),
        idempotent=method in (*_SAFE, "PUT", "DELETE"),
    )


@dataclass
class _Arguments:
    """One operation's arguments as they are collected: schemas, required keys, placements, definitions."""

    props: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    routes: list[tuple[str, ParamRoute]] = field(default_factory=list)
    refs: set[str] = field(default_factory=set)  # definitions the schemas reference


class _Compiler:
    def __init__(self, doc: dict[str, Any], options: CompileOptions, oas30: bool, source: str) -> None:
        self.doc = doc
        self.source = source
        self.options = options
        self.schemas = SchemaConverter(doc, oas30=oas30)
        self.diagnostics: list[Diagnostic] = []
        self.servers = endpoints.servers(doc.get("servers"))
        self.security = endpoints.security(doc.get("security"))

    def diag(self, level: Level, code: str, message: str, where: str | None) -> None:
        self.diagnostics.append(Diagnostic(level, code, message, where))

    def reporter(self, where: str) -> Any:
        def report(code: str, message: str) -> None:
            level = Level.WARNING if code == codes.UNRESOLVABLE_REF else Level.INFO
            self.diag(level, code, message, where)

        return report

    # -- parameters --------------------------------------------------------------------------

    def parameters(self, shared: Any, own: Any, where: str) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(shared if isinstance(shared, list) else []), *(own if isinstance(own, list) else [])]:
            try:
                p = deref(self.doc, raw)
            except UnresolvableRef as exc:
                self.diag(Level.WARNING, codes.UNRESOLVABLE_REF, f"parameter left out: {exc}", where)
                continue
            if not (isinstance(p, dict) and isinstance(p.get("name"), str) and p.get("in") in LOCATIONS):
                self.diag(
                    Level.WARNING,
                    codes.INVALID_PARAMETER,
                    f"parameter without a valid name and location left out: {str(p)[:120]}",
                    where,
                )
                continue
            merged[(p["name"], p["in"])] = p
        return list(merged.values())

    def param_schema(self, p: dict[str, Any], refs: set[str], report: Any) -> tuple[Any, str | None]:
        content_type = None
        raw: Any = p.get("schema")
        if raw is None and isinstance(p.get("content"), dict) and p["content"]:
            content_type = next(iter(p["content"]))
            raw = _dict(p["content"][content_type]).get("schema", {})
        if raw is None:
            raw = {"type": "string"}
        schema, own = self.schemas.convert(raw, report)
        refs |= own
        if isinstance(p.get("description"), str) and p["description"].strip() and isinstance(schema, dict):
            schema = {**schema, "description": truncate(p["description"], 1024)}
        return schema, content_type

    def path_template(self, path: str, params: list[dict[str, Any]], where: str) -> list[str]:
        """The path's template variables; one no parameter declares is added to ``params`` as a string."""
        template = list(dict.fromkeys(_TEMPLATE.findall(path)))
        declared = {p["name"] for p in params if p["in"] == "path"}
        for missing in template:
            if missing not in declared:
                self.diag(
                    Level.INFO,
                    codes.UNDECLARED_PATH_PARAMETER,
                    f"path parameter {missing!r} is not declared; accepted as a string",
                    where,
                )
                params.append({"name": missing, "in": "path", "required": True, "schema": {"type": "string"}})
        return template

    def arguments(self, path: str, params: list[dict[str, Any]], report: Any, where: str) -> _Arguments:
        """The parameters as top-level arguments, in order; path ones the template lacks are left out."""
        template = self.path_template(path, params, where)
        args = _Arguments()
        for p in params:
            if p["in"] == "path" and p["name"] not in template:
                continue  # declared but not in the template: nothing to fill
            if p["in"] == "header" and p["name"].lower() in _IGNORED_HEADERS:
                continue
            self.argument(args, p, report, where)
        return args

    def argument_key(self, name: str, loc: str, taken: dict[str, Any], where: str) -> str | None:
        """The argument key of a parameter: its name made safe, suffixed with its location on a clash."""
        key = naming.argument_key(name)
        if key in taken:
            key = naming.argument_key(f"{name}__{loc}")
        if key in taken:
            self.diag(
                Level.WARNING,
                codes.INVALID_PARAMETER,
                f"parameter {name!r} ({loc}) collides with another; left out",
                where,
            )
            return None
        if key != name:
            self.diag(
                Level.INFO,
                codes.ARGUMENT_RENAMED,
                f"parameter {name!r} ({loc}) is the argument {key!r}",
                where,
            )
        return key

    def argument(self, args: _Arguments, p: dict[str, Any], report: Any, where: str) -> None:
        """One parameter: its schema as an argument, and its placement and serialization in the request."""
        name, loc = p["name"], p["in"]
        key = self.argument_key(name, loc, args.props, where)
        if key is None:
            return
        args.props[key], content_type = self.param_schema(p, args.refs, report)
        style = _text(p, "style") or _DEFAULT_STYLE[loc]
        explode = p["explode"] if isinstance(p.get("explode"), bool) else style == "form"
        args.routes.append(
            (key, ParamRoute(loc, name, style, explode, p.get("allowReserved") is True, content_type))
        )
        if loc == "path" or p.get("required") is True:
            args.required.append(key)

    def input_schema(self, args: _Arguments) -> dict[str, Any]:
        """The tool's input schema: a closed object, with the definitions its arguments reach."""
        schema: dict[str, Any] = {"type": "object", "properties": args.props}
        if args.required:
            schema["required"] = args.required
        schema["additionalProperties"] = False
        defs = self.schemas.closure(args.refs)
        if defs:
            schema["$defs"] = {n: self.schemas.defs[n] for n in defs}
        return schema

    # -- operations --------------------------------------------------------------------------

    def operation(self, path: str, method: str, op: dict[str, Any], item: dict[str, Any]) -> tuple[str, Tool]:
        """One operation as an unnamed tool, and the part of the name it contributes."""
        where = f"{method.upper()} {path}"
        report = self.reporter(where)
        params = self.parameters(item.get("parameters"), op.get("parameters"), where)
        args = self.arguments(path, params, report, where)
        body = self.request_body(op["requestBody"], args, report, where) if "requestBody" in op else None
        tags = _tags(op)
        operation_id = _operation_id(op)
        summary = _text(op, "summary")
        route = Route(
            method=method.upper(),
            path=path,
            params=tuple(args.routes),
            body=body,
            servers=endpoints.servers(op.get("servers"))
            or endpoints.servers(item.get("servers"))
            or self.servers,
            security=endpoints.security(op["security"]) if "security" in op else self.security,
            operation_id=operation_id,
        )
        tool = Tool(
            name="",  # named once all operations are known
            title=truncate(summary, 128) if summary else None,
            description=_description(op, method, path, tags, self.options.max_description),
            input_schema=self.input_schema(args),
            annotations=_hints(route.method),
            route=route,
            tags=tuple(tags),
            returns=returned_fields(self.doc, op),
        )
        return naming.operation_part(operation_id, method, path), tool

    def request_body(self, raw: Any, args: _Arguments, report: Any, where: str) -> BodyRoute | None:
        """The request body as one argument (``body``, or another name if a parameter has it)."""
        try:
            body = deref(self.doc, raw)
        except UnresolvableRef as exc:
            self.diag(Level.WARNING, codes.UNRESOLVABLE_REF, f"request body left out: {exc}", where)
            return None
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content:
            return None
        media = pick_media_type(content)
        if media is None:
            return None
        schema, encoding = self.body_schema(media, content[media], args.refs, report, where)
        if _text(body, "description") and isinstance(schema, dict):
            schema = {**schema, "description": truncate(body["description"], 1024)}
        key = next(k for k in ("body", "requestBody", "body__request") if k not in args.props)
        args.props[key] = schema
        is_required = body.get("required") is True
        if is_required:
            args.required.append(key)
        return BodyRoute(argument=key, media_type=media, required=is_required, encoding=tuple(encoding))

    def body_schema(
        self, media: str, entry: Any, refs: set[str], report: Any, where: str
    ) -> tuple[Any, list[tuple[str, str]]]:
        """The body argument's schema for a media type: JSON and forms converted, text and binary as strings."""
        raw_schema = (entry or {}).get("schema", {}) if isinstance(entry, dict | type(None)) else {}
        m = media.lower().split(";")[0].strip()
        if "json" in m or m in ("application/x-www-form-urlencoded", "multipart/form-data"):
            schema, own = self.schemas.convert(raw_schema, report)
            refs |= own
            if m == "multipart/form-data" and isinstance(schema, dict):
                return self.binary_parts(schema, raw_schema, where)
            return schema, []
        if m.startswith("text/") or "xml" in m:
            if "xml" in m:
                self.diag(
                    Level.INFO, codes.UNSUPPORTED_MEDIA_TYPE, f"{media} body is passed through as text", where
                )
            return {"type": "string", "description": f"The request body, sent as {media}."}, []
        self.diag(Level.INFO, codes.BINARY_AS_BASE64, f"{media} body is taken base64-encoded", where)
        return {
            "type": "string",
            "contentEncoding": "base64",
            "description": f"The request body ({media}), base64-encoded.",
        }, []

    def binary_parts(
        self, schema: dict[str, Any], raw: Any, where: str
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Multipart file fields are taken base64-encoded and sent as octet-stream parts."""
        try:
            raw = deref(self.doc, raw)
        except UnresolvableRef:
            return schema, []
        raw_props = raw.get("properties") if isinstance(raw, dict) else None
        props = schema.get("properties")
        if not isinstance(raw_props, dict) or not isinstance(props, dict):
            return schema, []
        encoding = []
        props = dict(props)
        for name, p in raw_props.items():
            if isinstance(p, dict) and p.get("format") == "binary" and isinstance(props.get(name), dict):
                props[name] = {**props[name], "contentEncoding": "base64"}
                props[name].pop("format", None)
                encoding.append((str(name), "application/octet-stream"))
        if encoding:
            self.diag(
                Level.INFO,
                codes.BINARY_AS_BASE64,
                f"file fields {[n for n, _ in encoding]} are taken base64-encoded",
                where,
            )
        return {**schema, "properties": props}, encoding

    def compile(self) -> tuple[list[Tool], int]:
        paths = self.doc.get("paths")
        named: list[tuple[str, Tool]] = []
        total = 0
        for path, raw_item in paths.items() if isinstance(paths, dict) else ():
            try:
                item = deref(self.doc, raw_item)
            except UnresolvableRef as exc:
                self.diag(Level.WARNING, codes.OPERATION_SKIPPED, f"path item left out: {exc}", str(path))
                continue
            if not isinstance(item, dict):
                continue
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                total += 1
                if not filters.selected(self.options, _operation_id(op), method, str(path), _tags(op)):
                    continue
                if len(named) == budgets.MAX_OPERATIONS:
                    raise SpecError(
                        f"{self.source}: more than {budgets.MAX_OPERATIONS:,} operations are selected; the "
                        "document is not compiled (select fewer with spec.openapi.include or exclude)"
                    )
                named.append(self.operation(str(path), method, op, item))
        return self.name(named), total

    def name(self, named: list[tuple[str, Tool]]) -> list[Tool]:
        proposed = [naming.tool_name(self.options.prefix, op) for op, _ in named]
        counts: dict[str, int] = {}
        for n in proposed:
            counts[n] = counts.get(n, 0) + 1
        tools = []
        taken: set[str] = set()
        for name, (_, tool) in zip(proposed, named, strict=True):
            final = name
            if counts[name] > 1:
                final = naming.disambiguate(name, tool.route.method, tool.route.path)
                self.diag(Level.INFO, codes.NAME_COLLISION, f"tool name {name!r} is shared by {counts[name]} operations; this one is {final!r}",
                          f"{tool.route.method} {tool.route.path}")  # fmt: skip
            if final in taken:  # a disambiguated name met a natural one: extremely rare, still deterministic
                final = naming.disambiguate(final, tool.route.method, tool.route.path + "#")
            taken.add(final)
            tools.append(_renamed(tool, final))
        return tools


def _renamed(tool: Tool, name: str) -> Tool:
    return Tool(
        name,
        tool.title,
        tool.description,
        tool.input_schema,
        tool.annotations,
        tool.route,
        tool.tags,
        tool.returns,
    )


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(tools: list[Tool], servers: tuple[Server, ...], schemes: tuple[SecurityScheme, ...]) -> str:
    h = hashlib.sha256()
    for tool in tools:
        h.update(canonical_json(tool.to_dict()).encode())
        h.update(b"\n")
    h.update(canonical_json([s.to_dict() for s in servers]).encode())
    h.update(canonical_json({s.name: s.to_dict() for s in schemes}).encode())
    return "sha256:" + h.hexdigest()


def compile_document(
    doc: dict[str, Any], options: CompileOptions | None = None, *, source: str = "<spec>"
) -> CompiledSpec:
    """Compile a parsed document. Raises SpecError only when it is not an OpenAPI document."""
    options = options or CompileOptions()
    kind, version = version_of(doc, source=source)
    early: list[Diagnostic] = []
    if kind == "swagger":
        doc, early = swagger2.to_openapi3(doc)
    oas30 = kind == "swagger" or version.startswith("3.0")
    compiler = _Compiler(doc, options, oas30, source)
    tools, total = compiler.compile()
    diagnostics = [*early, *compiler.diagnostics]
    if total == 0:
        diagnostics.append(
            Diagnostic(Level.WARNING, codes.OPERATION_SKIPPED, "the document has no operations under paths")
        )
    if not compiler.servers and any(not t.route.servers for t in tools):
        diagnostics.append(
            Diagnostic(
                Level.INFO,
                codes.NO_SERVER,
                "the document names no server; set a base URL for the integration",
            )
        )
    schemes = endpoints.security_schemes(doc)
    info = _dict(doc.get("info"))
    return CompiledSpec(
        title=str(info.get("title") or ""),
        version=str(info.get("version") or ""),
        source_format=f"{kind} {version}",
        tools=tuple(tools),
        servers=compiler.servers,
        security_schemes=schemes,
        diagnostics=tuple(diagnostics),
        digest=digest_of(tools, compiler.servers, schemes),
        operations_total=total,
    )


def compile_spec(
    data: bytes | str, options: CompileOptions | None = None, *, source: str = "<spec>"
) -> CompiledSpec:
    """Parse and compile a document given as JSON or YAML text (or gzip bytes)."""
    return compile_document(parse(data, source=source), options, source=source)


__all__ = ["SpecError", "canonical_json", "compile_document", "compile_spec", "pick_media_type"]
