"""A federated MCP server's tools are discovered by the operator and recorded in the integration's
status, named exactly as a category server federating it names them (so the gateway can index
them while the category runs no pod)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from mcp import Client

from tests.conftest import DEMO_SPEC
from tests.integration.k8s.conftest import OperatorThread, condition
from tests.integration.k8s.test_operator import category, create, ready
from toolmesh.category.app import create_app
from toolmesh.category.settings import CategorySettings
from toolmesh.kube import KubeClient

pytestmark = pytest.mark.k8s


@pytest.fixture
async def serve_folder(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, str]], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(files: dict[str, str]) -> str:
        folder = tmp_path / f"catalog{len(runners)}"
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(textwrap.dedent(text))
        runner = web.AppRunner(create_app(CategorySettings(catalog=folder, log_format="console")))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_federated_tools_are_recorded_under_the_names_a_category_server_serves(
    kube: KubeClient, operator: OperatorThread, namespace: str, serve_folder: Any
) -> None:
    remote = await serve_folder({
        "tasks.yaml": """
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {name: tasks}
            spec:
              category: pm
              openapi:
                spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}
                baseUrl: http://127.0.0.1:9/v1
        """,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })  # fmt: skip
    federated = {
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
        "metadata": {"name": "remote-tasks", "namespace": namespace},
        "spec": {"category": "pm", "toolPrefix": "remote", "mcp": {"url": remote}},
    }  # fmt: skip
    await create(kube, category("pm", namespace), federated)
    obj = await ready(kube, "MCPIntegration", namespace, "remote-tasks")
    assert condition(obj, "SpecValid")["reason"] == "ToolsDiscovered"
    recorded = {t["name"] for t in obj["status"]["discoveredTools"]}
    assert obj["status"]["tools"] == len(recorded) == 8

    # A category server federating the same remote serves exactly these names.
    import yaml

    local = await serve_folder(
        {"remote.yaml": yaml.safe_dump({k: v for k, v in federated.items() if k != "status"})}
    )
    async with Client(local) as client:
        served = {t.name for t in (await client.list_tools()).tools}
    assert served == recorded
