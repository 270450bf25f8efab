"""The category server's behaviour without a transport: loading a catalog into served tools,
publishing each integration's state (digest check included), and calls that fail before any
request is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from mcp import types

from toolmesh.api import MCPIntegration
from toolmesh.catalog.folder import Catalog, Entry
from toolmesh.category.service import EV_DIGEST_MISMATCH, CategoryService
from toolmesh.category.settings import CategorySettings
from toolmesh.openapi import CompileOptions, compile_spec

SPEC = b"""
openapi: 3.0.3
info: {title: Pets, version: "1"}
servers: [{url: "https://pets.example"}]
paths:
  /pets/{id}:
    get:
      operationId: getPet
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {"200": {description: ok}}
"""
WRONG = "sha256:" + "0" * 64


def entry(name: str, status: dict[str, Any] | None = None) -> Entry:
    obj = MCPIntegration.model_validate({
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration", "metadata": {"name": name},
        "spec": {"category": "pets", "openapi": {"spec": {"inline": "(in the entry)"}}},
        **({"status": status} if status else {}),
    })  # fmt: skip
    return Entry(name=name, source_file=Path(f"{name}.yaml"), obj=obj, spec=SPEC)


def digest(name: str) -> str:
    return compile_spec(SPEC, CompileOptions(prefix=name)).digest


@pytest.fixture
def logs() -> list[MutableMapping[str, Any]]:
    """What the service logs while it loads the catalog (filled by ``service``)."""
    return []


@pytest.fixture
async def service(tmp_path: Path, logs: list[MutableMapping[str, Any]]) -> AsyncIterator[CategoryService]:
    catalog = Catalog(entries=[
        entry("drifted", {"specDigest": WRONG}),
        entry("current", {"specDigest": digest("current")}),
        entry("local"),
        Entry(name="broken", source_file=Path("broken.yaml"), error="broken.yaml: spec: Field required"),
    ])  # fmt: skip
    service = CategoryService.create(CategorySettings(catalog=tmp_path), catalog)
    with structlog.testing.capture_logs() as captured:
        await service.load(catalog)
    logs.extend(captured)
    yield service
    await service.close()


def sample(service: CategoryService, name: str, **labels: str) -> float | None:
    return service.metrics.registry.get_sample_value(name, labels)


async def test_a_drifted_digest_is_served_counted_logged_and_listed(
    service: CategoryService, logs: list[MutableMapping[str, Any]]
) -> None:
    assert service.loaded is True
    assert "drifted__getPet" in {t.name for t in service.registry.mcp_tools}
    assert sample(service, "toolmesh_category_spec_digest_mismatch", integration="drifted") == 1
    assert sample(service, "toolmesh_category_integration_ready", integration="drifted") == 1
    warnings = [e for e in logs if e["event"] == EV_DIGEST_MISMATCH]
    assert len(warnings) == 1
    assert warnings[0]["integration"] == "drifted"
    assert (warnings[0]["compiled"], warnings[0]["expected"]) == (digest("drifted"), WRONG)
    assert warnings[0]["log_level"] == "warning"
    problems = service.registry.status()["problems"]
    assert set(problems) == {"drifted", "broken"}
    assert problems["drifted"].startswith(
        f"compiled to {digest('drifted')}, but status.specDigest is {WRONG}"
    )


async def test_a_matching_or_absent_digest_is_no_mismatch(service: CategoryService) -> None:
    for name in ("current", "local", "broken"):
        assert sample(service, "toolmesh_category_spec_digest_mismatch", integration=name) == 0
    assert sample(service, "toolmesh_category_integration_tools", integration="current") == 1
    assert sample(service, "toolmesh_category_integration_ready", integration="broken") == 0
    status = service.registry.status()
    assert (status["ready"], status["failed"], status["tools"]) == (3, 1, 3)


async def test_an_unknown_tool_is_an_error_result_and_counted(service: CategoryService) -> None:
    result = await service.call("nope", {})
    assert result.is_error is True
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "unknown tool 'nope': list the tools to see what this server offers"
    assert (
        sample(service, "toolmesh_category_tool_calls_total", integration="", tool="", outcome="unknown_tool")
        == 1
    )


async def test_bad_arguments_fail_the_call_before_any_request(service: CategoryService) -> None:
    result = await service.call("current__getPet", {"id": "seven"})
    assert result.is_error is True
    assert isinstance(result.content[0], types.TextContent)
    assert "id" in result.content[0].text
    labels = {"integration": "current", "tool": "current__getPet", "outcome": "invalid_arguments"}
    assert sample(service, "toolmesh_category_tool_calls_total", **labels) == 1
