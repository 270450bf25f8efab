"""The MCP-over-aiohttp bridge refuses hostile transport input with clear answers, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mcp import Client, types
from mcp.server.lowlevel.server import Server

from toolmesh.common.mcp_aiohttp import MAX_DEPTH, McpEndpoint, OriginPolicy, host_guard

CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def echo_server() -> Server[Any]:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name="echo", input_schema={"type": "object"})])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        text = json.dumps(params.arguments)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server("echo", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve(policy: OriginPolicy) -> tuple[web.AppRunner, str]:
    endpoint = McpEndpoint(echo_server(), policy)
    app = web.Application(middlewares=[host_guard(policy)])
    app.cleanup_ctx.append(endpoint.lifespan)
    app.router.add_route("*", "/mcp", endpoint.handle)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/ping", ping)  # as /readyz and /metrics: no Origin on a same-origin GET
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"


@pytest.fixture
async def url() -> AsyncIterator[str]:
    policy = OriginPolicy.for_server(
        "127.0.0.1", ["https://inspector.example:*"], allowed_hosts=["tunnel.example"]
    )
    runner, address = await serve(policy)
    yield address
    await runner.cleanup()


async def post(url: str, body: bytes | str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_client_still_lists_and_calls(url: str, mode: str) -> None:
    async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
        assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
        result = await client.call_tool("echo", {"a": [1, {"b": 2}]})
    assert json.loads(result.content[0].text) == {"a": [1, {"b": 2}]}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example:8080",  # a rebound name: the browser sends its own origin
        "http://evil.example",
        "null",  # sandboxed frames, file:// pages
        "http://localhost:1",  # loopback, but another port: another origin
        "https://inspector.example.evil.example:443",
    ],
)
async def test_a_foreign_origin_is_refused_403(url: str, origin: str) -> None:
    status, body = await post(url, json.dumps(CALL), {"Origin": origin})
    assert status == 403
    assert "not allowed" in body


async def test_the_servers_own_and_allow_listed_origins_and_none_pass(url: str) -> None:
    port = url.split(":")[2].split("/")[0]
    for origin in (f"http://localhost:{port}", f"http://127.0.0.1:{port}", "https://inspector.example:6274"):
        status, _ = await post(url, json.dumps(CALL), {"Origin": origin})
        assert status == 200, origin
    status, _ = await post(url, json.dumps(CALL))
    assert status == 200


def test_origin_policy_honours_the_public_url_and_the_wildcard() -> None:
    policy = OriginPolicy.for_server("0.0.0.0", public_url="https://mcp.example.com/")
    assert policy.permits("https://mcp.example.com", 8080)
    assert not policy.permits("https://other.example.com", 8080)
    assert policy.permits("http://localhost:8080", 8080)
    assert OriginPolicy.for_server("10.0.0.5", ["*"]).permits("http://anything.example", 1)
    assert not OriginPolicy.for_server("10.0.0.5").permits("http://localhost:8080", 8080)
    assert not OriginPolicy().permits("http://localhost:8080", 8080), "the default allows no origin"


async def test_a_server_on_loopback_answers_only_its_loopback_and_allowed_host_names(url: str) -> None:
    port = url.split(":")[2].split("/")[0]
    ping = url.replace("/mcp", "/ping")
    async with aiohttp.ClientSession() as http:
        for host, status in [
            (f"evil.example:{port}", 421),  # a rebound name: refused on every route, GET included
            ("evil.example", 421),
            (f"localhost:{port}", 200),
            (f"[::1]:{port}", 200),
            (f"tunnel.example:{port}", 200),
        ]:
            async with http.get(ping, headers={"Host": host}) as response:
                assert response.status == status, host
        async with http.post(url, json=CALL, headers={"Host": f"evil.example:{port}"}) as response:
            assert response.status == 421


def test_a_server_beyond_loopback_checks_no_host_and_the_public_url_is_a_host() -> None:
    assert OriginPolicy.for_server("0.0.0.0").permits_host("gateway.toolmesh.svc:8080")
    assert OriginPolicy.for_server("10.0.0.5").permits_host("anything")
    on_loopback = OriginPolicy.for_server("127.0.0.1", public_url="https://mcp.example.com")
    assert on_loopback.permits_host("mcp.example.com")
    assert not on_loopback.permits_host(None)
    assert not on_loopback.permits_host("[broken")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_refused_415(url: str, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as http,
        http.post(url, data=json.dumps(CALL).encode(), headers=headers) as response,
    ):
        assert response.status == 415
    ok, _ = await post(url, json.dumps(CALL), {"Content-Type": "application/json; charset=utf-8"})
    assert ok == 200


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
async def test_deeply_nested_json_is_a_json_rpc_error_not_a_500(url: str, depth: int) -> None:
    arguments = "[" * depth + "]" * depth
    body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"a":%s}}}'
    status, answer = await post(url, body % arguments)
    assert status == 400
    assert answer["error"]["code"] in (types.PARSE_ERROR, types.INVALID_REQUEST)
    assert (await post(url, json.dumps(CALL)))[0] == 200, "still serving"


async def test_nesting_within_the_limit_is_served(url: str) -> None:
    depth = MAX_DEPTH - 6  # the envelope takes the rest
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
    body = json.dumps(call)[:-1] + ',"params":{"name":"echo","arguments":{"a":%s}}}'
    status, answer = await post(url, body % ("[" * depth + "]" * depth))
    assert status == 200, answer


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo"}},
        {"jsonrpc": "2.0", "method": "tools/list"},
        {"jsonrpc": "2.0"},
        {},
        {"method": "notifications/initialized"},  # no jsonrpc member: not a JSON-RPC 2.0 message
    ],
)
async def test_a_message_without_id_that_is_not_a_notification_is_a_json_rpc_error(
    url: str, message: dict[str, Any]
) -> None:
    status, answer = await post(url, json.dumps(message))
    assert status == 400
    assert answer["error"]["code"] == types.INVALID_REQUEST
    assert answer["id"] is None


async def test_a_notification_is_acknowledged_202(url: str) -> None:
    status, _ = await post(url, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert status == 202
