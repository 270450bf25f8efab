"""The gateway's hop to its own category servers (toolmesh.common.mcp_forward): the same results as
the SDK's client from a real category server, every failure a ServerUnavailable for that call, and
a connection that cannot be established tried again within a bound (but never a request that was
sent)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from mcp import Client
from mcp.types import SERVER_INFO_META_KEY

from tests.conftest import StartCategory
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import tasks_server
from toolmesh.common.http1 import ConnectFailed
from toolmesh.common.mcp_client import ServerUnavailable
from toolmesh.common.mcp_forward import CategoryClient
from toolmesh.common.mcp_results import text_result
from toolmesh.testing.cluster import free_port
from toolmesh.testing.http import serving

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
                assert ours.model_dump(exclude={"meta"}) == theirs.model_dump(exclude={"meta"})
                # The category server's serverInfo stamp is dropped: whoever passes the result on
                # (the gateway) stamps its own. It is all the category server puts in _meta.
                assert theirs.meta is not None
                assert set(theirs.meta) == {SERVER_INFO_META_KEY}
                assert ours.meta is None
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
        if kind == "streamed":  # an SSE answer to a request that asked for no progress
            stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await stream.prepare(request)
            note = {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": "x"},
            }
            result = text_result("streamed").model_dump(mode="json", by_alias=True)
            await stream.write(b"data: " + json.dumps(note).encode() + b"\n\n")
            await stream.write(
                b"data: " + json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
            )
            await stream.write(b"\n\n")
            await stream.write_eof()
            return stream
        return web.json_response(
            {"jsonrpc": "2.0", "id": body["id"], "result": {"nonsense": True, "content": 3}}
        )

    app = web.Application()
    app.router.add_post("/mcp", answer)
    async with serving(app) as url:
        yield f"{url}/mcp"


async def test_every_failure_is_a_clear_server_unavailable(broken_server: str) -> None:
    client = CategoryClient("category x", broken_server, timeout=5)
    try:
        with pytest.raises(ServerUnavailable, match="category x: HTTP 502 without a JSON-RPC answer"):
            await client.call("html", {})
        with pytest.raises(ServerUnavailable, match="category x: bad params"):
            await client.call("error", {})
        with pytest.raises(ServerUnavailable, match="not a tools/call result"):
            await client.call("garbage", {})
        streamed = await client.call("streamed", {})
        assert streamed.content[0].text == "streamed"  # type: ignore[union-attr]
        echoed = await client.call("echo-meta", {}, meta={"toolmesh.dev/credentials": {"apiKey": "k"}})
        assert "toolmesh.dev/credentials" in echoed.content[0].text  # type: ignore[union-attr]
        assert "io.modelcontextprotocol/protocolVersion" in echoed.content[0].text  # type: ignore[union-attr]
    finally:
        await client.stop()
    port = free_port()
    down = CategoryClient("category y", f"http://127.0.0.1:{port}/mcp", timeout=5)
    with pytest.raises(
        ServerUnavailable, match=f"^category y: cannot connect to 127.0.0.1:{port}: Connection refused$"
    ):
        await down.call("anything", {})
    await down.stop()


@pytest.fixture
def closed_port() -> Iterator[socket.socket]:
    """A loopback socket bound but not listening: connections to its port are refused until it listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


async def test_a_connection_refused_until_the_server_listens_is_tried_again_and_the_call_succeeds(
    start_category: StartCategory, upstream: StubUpstream, closed_port: socket.socket
) -> None:
    upstream.on("GET", "/v1/projects/apollo/tasks/7", Reply(body={"id": 7, "title": "Ship"}))
    refused: list[ConnectFailed] = []
    refused_enough = asyncio.Event()

    def retried(attempt: int, error: ConnectFailed) -> None:
        refused.append(error)
        if attempt == 4:  # 0.05 + 0.1 + 0.2 s of pauses: the Service still catching up
            refused_enough.set()

    port = closed_port.getsockname()[1]
    client = CategoryClient(
        "category pm", f"http://127.0.0.1:{port}/mcp", timeout=5, connect_retry=10, on_connect_retry=retried
    )
    call = asyncio.create_task(client.call("tasks__getTask", {"projectId": "apollo", "taskId": 7}))
    try:
        await asyncio.wait_for(refused_enough.wait(), 5)
        await tasks_server(start_category, upstream, listen=closed_port)
        result = await asyncio.wait_for(call, 5)
    finally:
        call.cancel()
        await client.stop()
    assert not result.is_error, result
    assert len(refused) >= 4
    assert {type(e.os_error) for e in refused} == {ConnectionRefusedError}
    assert len(upstream.seen) == 1  # sent once, when it could be


async def test_a_connection_refused_past_the_deadline_fails_the_call_with_a_clear_error(
    closed_port: socket.socket,
) -> None:
    port = closed_port.getsockname()[1]
    client = CategoryClient("category pm", f"http://127.0.0.1:{port}/mcp", timeout=5, connect_retry=0.5)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as raised:
        await client.call("anything", {})
    took = time.monotonic() - started
    await client.stop()
    assert 0.5 <= took < 1.5
    assert re.fullmatch(
        rf"category pm: cannot connect to 127\.0\.0\.1:{port}: Connection refused \(\d+ attempts in \d+\.\d s\)",
        str(raised.value),
    ), raised.value
    # A wake's deadline replaces the usual bound while it lasts.
    client = CategoryClient("category pm", f"http://127.0.0.1:{port}/mcp", timeout=5, connect_retry=0)
    client.connect_until = time.monotonic() + 0.3
    with pytest.raises(ServerUnavailable, match=r"attempts in \d+\.\d s\)$"):
        await client.call("anything", {})
    await client.stop()


async def test_a_request_that_was_sent_is_never_sent_again() -> None:
    received: list[bytes] = []

    async def hang_up(request: web.Request) -> web.Response:
        received.append(await request.read())
        assert request.transport is not None
        request.transport.close()  # the request arrived; the answer never leaves
        return web.Response()

    app = web.Application()
    app.router.add_post("/mcp", hang_up)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = CategoryClient(
        "category pm", f"http://127.0.0.1:{runner.addresses[0][1]}/mcp", timeout=5, connect_retry=10
    )
    try:
        with pytest.raises(
            ServerUnavailable,
            match=r"^category pm: the server closed the connection before its answer was complete$",
        ):
            await client.call("tasks__createTask", {"projectId": "apollo", "body": {"title": "Once"}})
    finally:
        await client.stop()
        await runner.cleanup()
    assert len(received) == 1
