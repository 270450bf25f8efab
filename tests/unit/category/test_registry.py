"""The category server's registry: integrations compiled into served tools, each with its state,
and the digest the operator recorded checked against the one compiled here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolmesh.api import MCPIntegration
from toolmesh.catalog.folder import Entry
from toolmesh.category.registry import Registry, to_mcp_tool
from toolmesh.openapi import CompileOptions, compile_spec

SPEC = b"""
openapi: 3.0.3
info: {title: Pets, version: "1"}
servers: [{url: https://pets.example}]
paths:
  /pets:
    get: {operationId: listPets, summary: List pets, responses: {"200": {description: ok}}}
  /pets/{id}:
    delete:
      operationId: deletePet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"204": {description: gone}}
"""


def entry(name: str, *, prefix: str | None = None, status: dict[str, Any] | None = None) -> Entry:
    spec: dict[str, Any] = {"category": "pets", "openapi": {"spec": {"inline": "(read from SPEC)"}}}
    if prefix:
        spec["toolPrefix"] = prefix
    obj = MCPIntegration.model_validate({
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
        "metadata": {"name": name}, "spec": spec, **({"status": status} if status else {}),
    })  # fmt: skip
    return Entry(name=name, source_file=Path(f"{name}.yaml"), obj=obj, spec=SPEC)


def compiled_digest(prefix: str) -> str:
    return compile_spec(SPEC, CompileOptions(prefix=prefix)).digest


def test_an_openapi_integration_serves_its_tools_in_the_compilers_wire_form() -> None:
    registry = Registry()
    registry.add_openapi(entry("pets"), SPEC)
    assert [t.name for t in registry.mcp_tools] == ["pets__listPets", "pets__deletePet"]
    listed = registry.mcp_tools[1]
    compiled = compile_spec(SPEC, CompileOptions(prefix="pets")).tool("pets__deletePet")
    assert listed.model_dump(by_alias=True, exclude_none=True) == compiled.to_mcp()
    assert listed.annotations is not None
    assert (listed.annotations.destructive_hint, listed.annotations.read_only_hint) == (True, False)
    assert to_mcp_tool(compiled) == listed
    state = registry.states["pets"]
    assert (state.ready, state.kind, state.tools, state.digest) == (
        True,
        "openapi",
        2,
        compiled_digest("pets"),
    )


def test_a_second_integration_with_the_same_tool_names_fails_and_names_the_first() -> None:
    registry = Registry()
    registry.add_openapi(entry("pets"), SPEC)
    registry.add_openapi(entry("more-pets", prefix="pets"), SPEC)
    state = registry.states["more-pets"]
    assert state.ready is False
    assert state.message == (
        "tool names clash with integration 'pets' (pets__deletePet, ...): set a distinct spec.toolPrefix"
    )
    assert len(registry.mcp_tools) == 2


def test_a_document_that_is_not_openapi_or_yields_no_tools_fails_with_the_field() -> None:
    registry = Registry()
    registry.add_openapi(entry("junk"), b"hello: world")
    assert registry.states["junk"].message.startswith("spec.openapi.spec: ")
    empty = b'openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths: {}\n'
    registry.add_openapi(entry("empty"), empty)
    assert registry.states["empty"].message == (
        "spec.openapi: the document yields no tools (check include, exclude and readOnly)"
    )
    assert registry.mcp_tools == []


def test_status_counts_and_lists_failed_integrations_as_problems() -> None:
    registry = Registry()
    registry.add_openapi(entry("pets"), SPEC)
    registry.fail(entry("broken"), "spec.openapi.spec.url: answered HTTP 404")
    status = registry.status()
    assert (status["ready"], status["failed"], status["tools"]) == (1, 1, 2)
    assert status["problems"] == {"broken": "spec.openapi.spec.url: answered HTTP 404"}
    assert [s["name"] for s in status["integrations"]] == ["pets", "broken"]
    assert status["integrations"][1] == {
        "name": "broken", "kind": "openapi", "ready": False, "tools": 0,
        "message": "spec.openapi.spec.url: answered HTTP 404",
    }  # fmt: skip


def test_the_digest_the_operator_recorded_is_checked_and_a_match_is_no_problem() -> None:
    registry = Registry()
    registry.add_openapi(entry("pets", status={"specDigest": compiled_digest("pets")}), SPEC)
    state = registry.states["pets"]
    assert state.expected_digest == state.digest
    assert state.digest_mismatch is False
    assert state.problem is None
    assert registry.status()["problems"] == {}
    assert "expectedDigest" not in state.to_dict()


def test_another_digest_is_still_served_but_reported_with_both_digests() -> None:
    registry = Registry()
    recorded = "sha256:" + "0" * 64
    registry.add_openapi(entry("pets", status={"specDigest": recorded}), SPEC)
    state = registry.states["pets"]
    assert state.ready is True
    assert len(registry.mcp_tools) == 2
    assert state.digest_mismatch is True
    problem = registry.status()["problems"]["pets"]
    assert f"compiled to {compiled_digest('pets')}, but status.specDigest is {recorded}" in problem
    assert problem.endswith("run the operator and the category image at the same version")
    assert state.to_dict()["expectedDigest"] == recorded
    assert state.to_dict()["digest"] == compiled_digest("pets")


def test_without_a_recorded_digest_nothing_is_checked() -> None:
    registry = Registry()
    registry.add_openapi(entry("pets", status={"tools": 2}), SPEC)
    registry.add_openapi(entry("cats", prefix="cats"), SPEC)
    assert registry.states["pets"].expected_digest is None
    assert registry.states["cats"].expected_digest is None
    assert registry.status()["problems"] == {}
