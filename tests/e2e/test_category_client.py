"""The gateway's hop to its own category servers (toolmesh.common.mcp_forward): the same results as
the SDK's client from a real category server, and every failure a ServerUnavailable for that call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from mcp import Client

from tests.conftest import StartCategory
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import tasks_server
from toolmesh.common.mcp_client import ServerUnavailable
from toolmesh.common.mcp_forward import CategoryClient
from toolmesh.common.mcp_results import text_result
from toolmesh.testing.cluster import free_port

pytestmark = pytest.mark.e2e


async def test_results_are_those_the_sdk_client_gets(
    start_category: StartCategory, upstream: StubUpstream
) -> None:
    upstream.on("GET", "/v1/projects/apollo/tasks/7", Reply(body={"id": 7, "title": "Ship ✓"}))
    url = await tasks_server(start_category, upstream)
    forward = CategoryClient("category pm", url, timeout=5)
    try:
        async with Client(url) as sdk:
            for name, arguments in [
                ("tasks__getTask", {"projectId": "apollo", "taskId": 7}),
                ("tasks__getTask", {"projectId": "apollo"}),  # invalid arguments: an isError result
                ("tasks__nope", {}),  # unknown tool: an isError result
            ]:
                ours = await forward.call(name, arguments)
                theirs = await sdk.call_tool(name, arguments)
                assert ours.model_dump() == theirs.model_dump()
        assert (await forward.call("tasks__getTask", {"projectId": "apollo", "taskId": 7})).is_error is False
    finally:
        await forward.stop()


@pytest.fixture
async def broken_server() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        kind = body["params"]["name"]
        if kind == "html":
            return web.Response(status=502, text="<html>bad gateway</html>", content_type="text/html")
        if kind == "error":
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32602, "message": "bad params"}}
            )
        if kind == "echo-meta":
            result = text_result(str(sorted(body["params"]["_meta"])))
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "result": result.model_dump(mode="json", by_alias=True)}
            )
        return web.json_response(
            {"jsonrpc": "2.0", "id": body["id"], "result": {"nonsense": True, "content": 3}}
        )

    app = web.Application()
    app.router.add_post("/mcp", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"
    await runner.cleanup()


async def test_every_failure_is_a_clear_server_unavailable(broken_server: str) -> None:
    client = CategoryClient("category x", broken_server, timeout=5)
    try:
        with pytest.raises(ServerUnavailable, match="category x: HTTP 502 without a JSON-RPC answer"):
            await client.call("html", {})
        with pytest.raises(ServerUnavailable, match="category x: bad params"):
            await client.call("error", {})
        with pytest.raises(ServerUnavailable, match="not a tools/call result"):
            await client.call("garbage", {})
        echoed = await client.call("echo-meta", {}, meta={"toolmesh.dev/credentials": {"apiKey": "k"}})
        assert "toolmesh.dev/credentials" in echoed.content[0].text  # type: ignore[union-attr]
        assert "io.modelcontextprotocol/protocolVersion" in echoed.content[0].text  # type: ignore[union-attr]
    finally:
        await client.stop()
    down = CategoryClient("category y", f"http://127.0.0.1:{free_port()}/mcp", timeout=5)
    with pytest.raises(ServerUnavailable, match="category y: ClientConnectorError"):
        await down.call("anything", {})
    await down.stop()
