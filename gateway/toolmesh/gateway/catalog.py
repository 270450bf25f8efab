"""The gateway's view of the catalog: every tool, with its category and routing text.

Built from the same objects a cluster holds (here, a folder). OpenAPI integrations whose document
is in the folder are compiled with the shared compiler, so their tools are known, and searchable,
before any category server runs. The tools of ``mcp`` and ``stdio`` integrations, and of documents
at a URL, are known from the category server that serves them: it reports them when it starts
(:meth:`GatewayCatalog.learn`), and local mode starts those category servers before it listens
(discovery.py); in a cluster the operator records them in the resources' status. Federated
servers' prompts, resources and resource templates are learnt the same way (offered.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolmesh.api import MCPIntegration
from toolmesh.api.auth import Auth
from toolmesh.api.compile import compile_options
from toolmesh.api.integration import Access, Limits
from toolmesh.catalog.folder import Catalog
from toolmesh.common import tools
from toolmesh.gateway import profiles as profiles_mod
from toolmesh.gateway.compile_pool import (
    WORKER_ABOVE,
    Compiled,
    Job,
    PackedSchema,
    Workers,
    compile_all,
    compile_job,
    pack_schema,
)
from toolmesh.gateway.index import graph, text
from toolmesh.gateway.offered import OfferedCatalog
from toolmesh.openapi import SpecError


class ToolRecord:
    """One tool the gateway knows. The input schema is kept as compact JSON (deflated when long) and
    parsed when asked for; what routing reads of it, the parameters' names and descriptions, is kept
    as text, so an index build parses no schema.

    Schemas are most of a catalogue's memory: 50,000 real tools hold 105-314 MB of schema JSON, which
    as Python dicts took about 500 MB (docs/design/0005, "A new replica").
    """

    __slots__ = (
        "_chars", "_features", "_produces", "_returned", "_schema", "annotations", "category", "description",
        "integration", "name", "parameters", "title",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        description: str,
        input_schema: Mapping[str, Any] | PackedSchema,
        category: str,
        integration: str,
        title: str | None = None,
        annotations: dict[str, Any] | None = None,
        returns: Sequence[str] = (),
    ) -> None:
        """``input_schema``: the schema, or what :func:`pack_schema` made of it (compile_pool.py)."""
        self.name = name
        self.description = description
        packed = input_schema if isinstance(input_schema, PackedSchema) else pack_schema(input_schema)
        self._schema, self._chars = packed.data, packed.chars
        #: The parameters' names and descriptions, as the routing text reads them (index/text.py).
        self.parameters = packed.parameters
        self.category = category
        self.integration = integration
        self.title = title
        self.annotations = annotations or {}
        #: Identifier fields of the tool's response (shared sets: most tools of an API return ``id``).
        self._returned = graph.identifier_fields(returns) if returns else graph.EMPTY  # one shared set
        self._features: tuple[frozenset[str], frozenset[str]] | None = None
        self._produces: frozenset[str] | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Identifier arguments, for the tool graph (index/graph.py); worked out when first asked for."""
        return self._graph_features()[0]

    @property
    def words(self) -> frozenset[str]:
        """Resource words of the name, for the tool graph."""
        return self._graph_features()[1]

    @property
    def produces(self) -> frozenset[str]:
        """Identifier arguments the tool's response can fill, for the tool graph. From the name and
        the response's fields alone, never the schema: a search asks it of every tool of a found
        tool's integration (graph.prerequisites), and parsing hundreds of schemas for that cost a
        first search up to milliseconds at 50,000 tools."""
        if self._produces is None:
            self._produces = (
                graph.produced_keys(self._returned, graph.resource_words(self.name))
                if self._returned
                else graph.EMPTY
            )
        return self._produces

    def _graph_features(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._features is None:
            self._features = (graph.identifier_arguments(self.input_schema), graph.resource_words(self.name))
        return self._features

    @property
    def schema_chars(self) -> int:
        """The length of the input schema as compact JSON (UTF-8 bytes: about its characters)."""
        return self._chars

    @property
    def input_schema(self) -> dict[str, Any]:
        return PackedSchema(self._schema, self._chars, self.parameters).schema()

    def __repr__(self) -> str:
        return f"ToolRecord({self.name!r}, category={self.category!r}, integration={self.integration!r})"

    def definition(self) -> dict[str, Any]:
        """The tool as MCP shows it (``describe_tools``, a direct ``tools/list``), behaviour hints
        included when the category server has them, as it lists them itself."""
        return tools.wire(
            self.name,
            description=self.description,
            input_schema=self.input_schema,
            title=self.title,
            annotations=self.annotations or None,
        )


@dataclass
class GatewayCatalog:
    tools: dict[str, ToolRecord]
    category_descriptions: dict[str, str]
    problems: dict[str, str]  # integration -> why its tools are missing
    #: Integrations whose tools only some callers may use (spec.access); the others are open.
    access: dict[str, Access] = field(default_factory=dict)
    #: Integrations whose calls carry each caller's own credentials (perUser, authorization code).
    auth: dict[str, Auth] = field(default_factory=dict)
    #: Integrations with their own rate limits (spec.limits); the others take the gateway's defaults.
    limits: dict[str, Limits] = field(default_factory=dict)
    #: Integrations compiled here to another digest than their status.specDigest (cluster mode).
    digest_mismatches: set[str] = field(default_factory=set)
    #: Each integration's category as its object names it, tools or not (the console groups by it).
    integration_categories: dict[str, str] = field(default_factory=dict)
    #: Federated servers' prompts, resources and resource templates.
    offered: OfferedCatalog = field(default_factory=OfferedCatalog)
    #: The MCPProfiles, by name: which callers get which tools (profiles.py).
    profiles: dict[str, profiles_mod.Profile] = field(default_factory=dict)
    #: Integrations whose problem a category server reported (local mode), cleared when it serves them.
    _reported: set[str] = field(default_factory=set, repr=False)

    def note_served(self, integration: str, problem: str | None) -> None:
        """What a category server said of ``integration`` when it started: why it does not serve it,
        or None when it does (which clears only a problem a server reported)."""
        if problem is not None:
            self.problems[integration] = problem
            self._reported.add(integration)
        elif integration in self._reported:
            self._reported.discard(integration)
            self.problems.pop(integration, None)

    def note_auth(self, integration: str, auth: Auth | None) -> None:
        if auth is not None and auth.per_caller:
            self.auth[integration] = auth
        else:
            self.auth.pop(integration, None)

    def allowed(self, record: ToolRecord, groups: frozenset[str], scopes: frozenset[str]) -> bool:
        return self.allows(record.integration, groups, scopes)

    def allows(self, integration: str, groups: frozenset[str], scopes: frozenset[str]) -> bool:
        """May a caller with these groups and scopes use what ``integration`` offers (spec.access)?"""
        rule = self.access.get(integration)
        return rule is None or rule.allows(groups, scopes)

    def scope(self, caller: profiles_mod.Caller) -> profiles_mod.Scope | None:
        """The profiles that apply to ``caller``; None: no profile limits it."""
        return profiles_mod.scope(self.profiles.values(), caller) if self.profiles else None

    def document(self, record: ToolRecord) -> str:
        context = (
            f"{record.integration} {record.category} {self.category_descriptions.get(record.category, '')}"
        )
        return text.document(record.name, record.description, None, context, parameters=record.parameters)

    def dense_document(self, record: ToolRecord) -> str:
        return text.dense_document(record.name, record.description, f"{record.integration} {record.category}")

    def learn(
        self, category: str, status: Mapping[str, Any], listed: Sequence[Mapping[str, Any]] = ()
    ) -> bool:
        """What a category server said when it started (local mode): each integration it could not
        serve becomes a problem (cleared once it serves it), and the tools it discovered (federated
        servers, documents fetched from a URL) are added under the names it serves them by, with
        their definitions from ``listed`` (its tools/list); its federated servers' prompts and
        resources replace what was known of them. True when the tools changed."""
        definitions = {str(t["name"]): t for t in listed}
        changed = False
        for state in status.get("integrations", []):
            name = str(state["name"])
            failing = state.get("ready") is False
            self.note_served(name, str(state.get("message") or "not ready") if failing else None)
            for summary in state.get("discoveredTools") or []:
                changed |= self._add_discovered(category, name, definitions.get(summary["name"], summary))
            self.offered.replace(
                name,
                category,
                state.get("discoveredPrompts") or [],
                state.get("discoveredResources") or [],
                state.get("discoveredResourceTemplates") or [],
            )
        return changed

    def _add_discovered(self, category: str, integration: str, tool: Mapping[str, Any]) -> bool:
        """One discovered tool, added or brought up to date; True when the catalog changed."""
        current = self.tools.get(tool["name"])
        if current is not None and current.integration != integration:
            return False  # another integration's name: the category server refuses such a clash too
        record = ToolRecord(
            str(tool["name"]),
            str(tool.get("description") or ""),
            tool.get("inputSchema") or {"type": "object"},
            category,
            integration,
            tool.get("title"),
            tool.get("annotations"),
        )
        if current is not None and current.definition() == record.definition():
            return False
        self.tools[record.name] = record
        return True


def records(obj: MCPIntegration, name: str, spec: bytes) -> list[ToolRecord]:
    """The tools of one OpenAPI integration (SpecError when the document does not compile)."""
    return compiled_records(obj, name, spec)[0]


def compiled_records(
    obj: MCPIntegration, name: str, spec: bytes, workers: Workers | None = None
) -> tuple[list[ToolRecord], str]:
    """The tools of one OpenAPI integration and the digest they compiled to (SpecError when the
    document does not compile); by one of ``workers`` when the document is large (WORKER_ABOVE)."""
    job = Job(name, compile_options(obj), spec)
    compiled = workers.compile(job) if workers is not None and len(spec) >= WORKER_ABOVE else compile_job(job)
    if isinstance(compiled, SpecError):
        raise compiled
    return to_records(compiled, obj.spec.category, name), compiled.digest


def to_records(compiled: Compiled, category: str, integration: str) -> list[ToolRecord]:
    return [
        ToolRecord(t.name, t.description, t.schema, category, integration, t.title, t.annotations, t.returns)
        for t in compiled.tools
    ]


def build(catalog: Catalog) -> GatewayCatalog:
    """The gateway's catalog of a folder's objects; its OpenAPI documents compiled in worker
    processes when they are many (compile_pool.py)."""
    tools: dict[str, ToolRecord] = {}
    problems: dict[str, str] = {}
    access: dict[str, Access] = {}
    auth: dict[str, Auth] = {}
    limits: dict[str, Limits] = {}
    categories: dict[str, str] = {}
    jobs: list[tuple[Job, str]] = []  # and the category
    for entry in catalog.entries:
        obj = entry.obj
        if obj is not None:
            categories[entry.name] = obj.spec.category
        if obj is None or entry.error:
            problems[entry.name] = entry.error or "invalid object"
            continue
        if obj.spec.access is not None:
            access[entry.name] = obj.spec.access
        if obj.spec.auth is not None and obj.spec.auth.per_caller:
            auth[entry.name] = obj.spec.auth
        if obj.spec.limits is not None:
            limits[entry.name] = obj.spec.limits
        if obj.spec.openapi is None or entry.spec is None:
            continue  # a federated server or a URL: its category server discovers the tools (discovery.py)
        jobs.append((Job(entry.name, compile_options(obj), entry.spec), obj.spec.category))
    for (job, category), compiled in zip(jobs, compile_all([j for j, _ in jobs]), strict=True):
        if isinstance(compiled, SpecError):
            problems[job.name] = str(compiled)
            continue
        for record in to_records(compiled, category, job.name):
            tools.setdefault(record.name, record)
    descriptions = {name: c.spec.description for name, c in catalog.categories.items()}
    return GatewayCatalog(
        tools, descriptions, problems, access, auth, limits, integration_categories=categories,
        profiles={name: profiles_mod.Profile.of(p) for name, p in catalog.profiles.items()},
    )  # fmt: skip
