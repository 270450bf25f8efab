"""``/readyz`` in folder mode: a broken integration, a category that cannot start or died, a stale
index; all reported, none making the gateway unready (docs/operations/install.md, ops.py).
Cluster mode states the same problems (tests/integration/k8s/test_gateway_cluster.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.stub_upstream import StubUpstream
from tests.e2e.test_category_server import Connect, text
from tests.e2e.test_federation import free_port, remote_integration
from toolmesh.gateway.catalog import ToolRecord

pytestmark = pytest.mark.e2e

BROKEN = {
    "broken.yaml": """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {name: broken}
        spec:
          category: pm
          openapi:
            spec: {configMapKeyRef: {name: tasks-openapi, key: broken.yaml}}
            baseUrl: http://127.0.0.1:9/v1
    """,
    "tasks-openapi/broken.yaml": "swagger: nonsense\n",
}


async def readyz(gateway: Gateway) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(gateway.mcp_url.replace("/mcp", "/readyz")) as response,
    ):
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_a_healthy_catalog_reports_no_problem(start_gateway: StartGateway) -> None:
    status, body = await readyz(await start_gateway())
    assert status == 200
    assert body == {
        "mode": "direct",
        "tools": 8,
        "categories": ["pm"],
        "running": [],
        "problems": {"integrations": {}, "categories": {}, "index": None},
    }


async def test_a_broken_integration_and_a_category_that_cannot_start_are_problems_not_unreadiness(
    start_gateway: StartGateway, connect: Connect
) -> None:
    gateway = await start_gateway(BROKEN, category_start_seconds=0.01)
    async with connect(gateway.mcp_url) as client:
        failed = await client.call_tool("tasks__listProjects", {})
    assert failed.is_error is True
    assert "category pm is unavailable: the category server was not ready within 0.01 s" in text(failed)
    status, body = await readyz(gateway)
    assert status == 200, "a failing integration or category leaves the gateway ready: the rest is served"
    assert body["tools"] == 8
    assert body["problems"] == {
        "integrations": {"broken": "broken: unsupported Swagger version 'nonsense' (supported: 2.0)"},
        "categories": {"pm": "the category server was not ready within 0.01 s"},
        "index": None,
    }


async def test_an_unreachable_remote_mcp_server_is_a_problem_naming_it_as_soon_as_the_gateway_serves(
    start_gateway: StartGateway, connect: Connect
) -> None:
    """An mcp integration's tools are known only from its category server, which local mode starts
    before it listens: the server's reason for not serving it (here its remote does not answer) is
    the integration's problem from the start, and the category's other tools are served."""
    url = f"http://127.0.0.1:{free_port()}/mcp"
    calculator = remote_integration(url).replace("category: ai", "category: pm")
    gateway = await start_gateway({"calc.yaml": calculator})
    status, body = await readyz(gateway)
    assert status == 200
    assert list(body["problems"]["integrations"]) == ["calculator"]
    assert body["problems"]["integrations"]["calculator"].startswith(
        f"spec.mcp.url: cannot list the tools of {url}: "
    )
    assert body["problems"]["categories"] == {}
    async with connect(gateway.mcp_url) as client:
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False


async def test_a_category_server_that_does_not_start_to_discover_is_a_problem_of_each_waiting_integration(
    start_gateway: StartGateway,
) -> None:
    calculator = remote_integration(f"http://127.0.0.1:{free_port()}/mcp")
    gateway = await start_gateway({"calc.yaml": calculator}, category_start_seconds=0.01)
    status, body = await readyz(gateway)
    assert status == 200
    assert body["problems"]["integrations"] == {
        "calculator": "its tools are not indexed: its category server (ai) did not start: "
        "the category server was not ready within 0.01 s"
    }
    assert body["problems"]["categories"] == {"ai": "the category server was not ready within 0.01 s"}
    assert body["tools"] == 8, "the folder's own document is indexed all the same"


async def test_a_category_that_died_is_down_until_the_next_call_starts_it_again(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway()
    async with connect(gateway.mcp_url) as client:
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
        assert (await readyz(gateway))[1]["running"] == ["pm"]
        process = gateway.service.categories.running["pm"].process  # type: ignore[attr-defined]
        process.kill()
        await process.wait()
        _, body = await readyz(gateway)
        assert body["problems"]["categories"] == {
            "pm": f"the category server exited with code {process.returncode}; the next call starts it again"
        }
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
    _, body = await readyz(gateway)
    assert body["problems"]["categories"] == {}


async def test_an_index_behind_the_catalog_or_whose_build_failed_is_stale(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    tools, router = gateway.service.catalog.tools, gateway.service.router
    record = tools["tasks__getTask"]
    tools["tasks__getTaskAgain"] = ToolRecord(
        "tasks__getTaskAgain", record.description, {"type": "object"}, record.category, record.integration
    )
    status, body = await readyz(gateway)
    assert status == 200
    assert body["problems"]["index"] == (
        "the index lags the catalog: 1 tools not indexed yet, 0 removed tools still indexed "
        "(it is rebuilt after each change)"
    )
    router.rebuild()
    assert (await readyz(gateway))[1]["problems"]["index"] is None

    def broken(_: ToolRecord) -> str:
        raise RuntimeError("no room left")

    gateway.service.catalog.document = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        router.rebuild()
    status, body = await readyz(gateway)
    assert status == 200
    assert body["problems"]["index"] == (
        "the last index build failed (RuntimeError: no room left); searches use the index built before it"
    )
