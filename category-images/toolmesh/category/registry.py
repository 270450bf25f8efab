"""The tools a category server offers: its integrations compiled, each with its own state.

Built once at start-up from the catalog. A broken integration (object invalid, spec missing or not
compilable, names clashing with another integration) is recorded with the reason and contributes
no tools; the others are served. ``status()`` is what the readiness endpoint reports.

An OpenAPI integration whose catalog object carries the operator's ``status.specDigest`` is checked
against it: a different digest (another compiler version, a document changed since) is still
served, but reported as a problem, since the gateway indexes the operator's tools.

Federated servers bring their prompts, resources and resource templates too (renamed and wrapped by
federation.py); ``/readyz`` reports them in full per integration (``discoveredPrompts``,
``discoveredResources``, ``discoveredResourceTemplates``), for local mode's gateway to list them
without asking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp import types
from pydantic import BaseModel

from toolmesh.api import MCPIntegration
from toolmesh.api.compile import compile_options
from toolmesh.catalog.folder import Entry
from toolmesh.category.federation import Remote
from toolmesh.common import tools
from toolmesh.openapi import Level, SpecError, Tool, compile_spec, naming
from toolmesh.openapi.schema import truncate


@dataclass
class IntegrationState:
    name: str
    kind: str  # openapi | mcp | stdio | unknown
    ready: bool
    message: str = ""
    tools: int = 0
    digest: str | None = None
    #: The digest the operator compiled (the catalog object's status.specDigest), when it says.
    expected_digest: str | None = None
    warnings: int = 0
    discovered: list[dict[str, str]] = field(default_factory=list)
    #: A federated server's prompts, resources and templates, in wire form as served.
    prompts: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    #: A document at a URL: the SHA-256 of the one compiled, and why a later fetch or compile of
    #: it failed (the tools of the last good one are served meanwhile).
    source_digest: str | None = None
    refresh_problem: str | None = None

    @property
    def digest_mismatch(self) -> bool:
        """Served, but not the tools the operator recorded (and the gateway indexes)."""
        return bool(self.digest and self.expected_digest and self.digest != self.expected_digest)

    @property
    def problem(self) -> str | None:
        """Why the integration is not served as the operator recorded it; None when it is."""
        if not self.ready:
            return self.message
        if self.refresh_problem:
            return self.refresh_problem
        if self.digest_mismatch:
            return (
                f"compiled to {self.digest}, but status.specDigest is {self.expected_digest}: the tools "
                "served here differ from the ones the operator recorded and the gateway searches (another "
                "compiler version, or a document that changed since); run the operator and the category "
                "image at the same version"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "ready": self.ready, "tools": self.tools}
        if self.message:
            out["message"] = self.message
        if self.digest:
            out["digest"] = self.digest
        if self.digest_mismatch:
            out["expectedDigest"] = self.expected_digest
        if self.source_digest:
            out["documentDigest"] = self.source_digest
        if self.warnings:
            out["warnings"] = self.warnings
        if self.discovered:
            out["discoveredTools"] = self.discovered
        if self.prompts:
            out["discoveredPrompts"] = self.prompts
        if self.resources:
            out["discoveredResources"] = self.resources
        if self.templates:
            out["discoveredResourceTemplates"] = self.templates
        return out


@dataclass(frozen=True)
class Binding:
    """An OpenAPI tool and the integration it calls through."""

    integration: MCPIntegration
    tool: Tool

    @property
    def name(self) -> str:
        return self.integration.metadata.name


def _kind(obj: MCPIntegration | None) -> str:
    if obj is None:
        return "unknown"
    return "openapi" if obj.spec.openapi else "mcp" if obj.spec.mcp else "stdio"


def to_mcp_tool(tool: Tool) -> types.Tool:
    """A compiled tool as the SDK serves it: its canonical wire form (what the digest covers)."""
    return tools.sdk(tool.to_mcp())


def _wire(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json", by_alias=True, exclude_none=True) for i in items]


def _summaries(served: list[types.Tool]) -> list[dict[str, str]]:
    """Tools as /readyz reports them: the name as served, and the start of the description."""
    return [
        {"name": t.name, "description": truncate(t.description or "", naming.SUMMARY_DESCRIPTION)}
        for t in served
    ]


class Registry:
    """Name → binding, plus per-integration state, in catalog order."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding | Remote] = {}
        self.states: dict[str, IntegrationState] = {}
        self.mcp_tools: list[types.Tool] = []
        #: Federated servers' prompts (by the name served), resources and templates, and each
        #: integration that serves resources (reads go to it by the name its URIs carry).
        self.prompts: dict[str, Remote] = {}
        self.mcp_prompts: list[types.Prompt] = []
        self.mcp_resources: list[types.Resource] = []
        self.mcp_templates: list[types.ResourceTemplate] = []
        self.readable: dict[str, Remote] = {}

    def fail(self, entry: Entry, message: str) -> None:
        self.states[entry.name] = IntegrationState(entry.name, _kind(entry.obj), ready=False, message=message)

    def add_openapi(self, entry: Entry, document: bytes, *, report: bool = False) -> None:
        """An OpenAPI integration's tools; ``report``: list them in /readyz as ``discoveredTools``
        (a document fetched from a URL, whose tools nobody else compiled: local mode's gateway
        indexes them from there)."""
        problem = self.replace_openapi(entry, document, report=report)
        if problem is not None:
            self.fail(entry, problem)

    def replace_openapi(self, entry: Entry, document: bytes, *, report: bool = False) -> str | None:
        """Compile ``document`` and serve its tools in place of the integration's current ones;
        the problem (the current tools kept) when it does not compile or its names clash."""
        assert entry.obj is not None
        try:
            compiled = compile_spec(document, compile_options(entry.obj), source=f"integration {entry.name}")
        except SpecError as exc:
            return f"spec.openapi.spec: {exc}"
        if not compiled.tools:
            return "spec.openapi: the document yields no tools (check include, exclude and readOnly)"
        clash = self._clash([t.name for t in compiled.tools], entry.name)
        if clash is not None:
            return clash
        self._drop(entry.name)
        for tool in compiled.tools:
            self.bindings[tool.name] = Binding(entry.obj, tool)
            self.mcp_tools.append(to_mcp_tool(tool))
        warnings = sum(1 for d in compiled.diagnostics if d.level == Level.WARNING)
        self.states[entry.name] = IntegrationState(
            entry.name,
            "openapi",
            ready=True,
            tools=len(compiled.tools),
            digest=compiled.digest,
            expected_digest=entry.obj.status.spec_digest if entry.obj.status else None,
            warnings=warnings,
            discovered=_summaries(self.mcp_tools[-len(compiled.tools) :]) if report else [],
        )
        return None

    def _drop(self, integration: str) -> None:
        """Stop serving the tools of an OpenAPI integration (replaced by a newer document's)."""
        gone = {n for n, b in self.bindings.items() if isinstance(b, Binding) and b.name == integration}
        if gone:
            self.bindings = {n: b for n, b in self.bindings.items() if n not in gone}
            self.mcp_tools = [t for t in self.mcp_tools if t.name not in gone]

    def _clash(self, names: list[str], integration: str) -> str | None:
        """Why these names cannot be served (another integration serves one of them), if they cannot."""
        clashes = sorted(n for n in names if n in self.bindings and self.bindings[n].name != integration)
        if not clashes:
            return None
        other = self.bindings[clashes[0]].name
        return (
            f"tool names clash with integration {other!r} ({clashes[0]}, ...): set a distinct spec.toolPrefix"
        )

    def add_remote(self, entry: Entry, remote: Remote) -> None:
        """A federated server's tools, prompts and resources, as discovered; recorded for the
        operator and local mode's gateway."""
        clash = self._clash([t.name for t in remote.tools], entry.name)
        if clash is not None:
            self.fail(entry, clash)
            return
        clashes = sorted(p.name for p in remote.prompts if p.name in self.prompts)
        if clashes:
            other = self.prompts[clashes[0]].name
            self.fail(
                entry,
                f"prompt names clash with integration {other!r} ({clashes[0]}, ...): set a distinct spec.toolPrefix",
            )
            return
        for tool in remote.tools:
            self.bindings[tool.name] = remote
            self.mcp_tools.append(tool)
        for prompt in remote.prompts:
            self.prompts[prompt.name] = remote
            self.mcp_prompts.append(prompt)
        self.mcp_resources.extend(remote.resources)
        self.mcp_templates.extend(remote.templates)
        if remote.resources or remote.templates:
            self.readable[remote.name] = remote
        self.states[entry.name] = IntegrationState(
            entry.name,
            _kind(entry.obj),
            ready=True,
            tools=len(remote.tools),
            discovered=_summaries(remote.tools),
            prompts=_wire(remote.prompts),
            resources=_wire(remote.resources),
            templates=_wire(remote.templates),
        )

    def problems(self) -> dict[str, str]:
        """Integration -> why it is not served as the operator recorded it (failed, or another digest)."""
        return {s.name: s.problem for s in self.states.values() if s.problem is not None}

    def status(self) -> dict[str, Any]:
        """What /readyz shows: each integration's state, the counts, and the problems."""
        states = list(self.states.values())
        return {
            "integrations": [s.to_dict() for s in states],
            "ready": sum(1 for s in states if s.ready),
            "failed": sum(1 for s in states if not s.ready),
            "tools": len(self.mcp_tools),
            "problems": self.problems(),
        }
