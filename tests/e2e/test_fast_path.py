"""The gateway's forwarding fast path (``McpEndpoint.fast_call``) answers exactly as the SDK's kernel:
the same JSON-RPC responses, byte for byte once parsed, in both protocol generations, for forwarded
calls that succeed or fail and for the requests it leaves to the kernel. A second endpoint over the
same gateway service, without the fast path, is the reference. Every other e2e test of the gateway
(the official SDK client in both generations) runs through the fast path as well.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mcp import types
from mcp.shared.inbound import MCP_METHOD_HEADER, MCP_NAME_HEADER, MCP_PROTOCOL_VERSION_HEADER
from mcp.types.version import LATEST_MODERN_VERSION

from tests.e2e.conftest import StartGateway
from tests.e2e.stub_upstream import Reply, StubUpstream
from toolmesh.common.mcp_aiohttp import McpEndpoint
from toolmesh.gateway import server as server_mod
from toolmesh.gateway.service import GatewayService
from toolmesh.testing.http import serving

pytestmark = pytest.mark.e2e
LEGACY = "2025-06-18"


def request(
    version: str, name: str, arguments: Any, request_id: int = 7
) -> tuple[dict[str, Any], dict[str, str]]:
    """A tools/call as each generation's client sends it: the 2026 envelope in ``_meta`` and its
    headers, or the 2025 header alone."""
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               MCP_PROTOCOL_VERSION_HEADER: version}  # fmt: skip
    if version == LATEST_MODERN_VERSION:
        params["_meta"] = {
            types.PROTOCOL_VERSION_META_KEY: version,
            types.CLIENT_INFO_META_KEY: {"name": "fast-path-test", "version": "1"},
            types.CLIENT_CAPABILITIES_META_KEY: {},
        }
        headers |= {MCP_METHOD_HEADER: "tools/call", MCP_NAME_HEADER: name}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}, headers


@pytest.fixture
async def kernel_only() -> AsyncIterator[Any]:
    """Serve a gateway service's MCP server without the fast path, on its own port."""
    async with contextlib.AsyncExitStack() as stack:

        async def serve(service: GatewayService) -> str:
            endpoint = McpEndpoint(server_mod.build(service))
            app = web.Application()
            app.router.add_route("*", "/mcp", endpoint.handle)
            app.cleanup_ctx.append(endpoint.lifespan)
            return f"{await stack.enter_async_context(serving(app))}/mcp"

        yield serve


CASES = [
    ("tasks__getTask", {"projectId": "apollo", "taskId": 7}),  # forwarded: a result
    ("tasks__getTask", {"projectId": "apollo"}),  # forwarded: the category server's isError result
    ("tasks__nope", {}),  # the gateway's own error result: an unknown tool
    ("call_tool", {"name": "tasks__getTask", "arguments": {"projectId": "apollo", "taskId": 7}}),
    ("call_tool", {"name": "tasks__getTask", "arguments": "not an object"}),  # left to the kernel: -32602
    ("call_tool", {"arguments": {}}),  # no name: left to the kernel
    ("search_tools", {"query": "get a task"}),  # not a forward: the kernel
]


@pytest.mark.parametrize("version", [LATEST_MODERN_VERSION, LEGACY])
async def test_the_fast_path_answers_as_the_kernel_does(
    version: str, start_gateway: StartGateway, upstream: StubUpstream, kernel_only: Any
) -> None:
    upstream.on("GET", "/v1/projects/apollo/tasks/7", Reply(body={"id": 7, "title": "Ship ✓"}))
    gateway = await start_gateway(direct_tools_limit=0)
    reference = await kernel_only(gateway.service)
    async with aiohttp.ClientSession() as http:
        for number, (name, arguments) in enumerate(CASES):
            body, headers = request(version, name, arguments, request_id=number)
            answers = []
            for url in (gateway.mcp_url, reference):
                async with http.post(url, data=json.dumps(body), headers=headers) as response:
                    answers.append((response.status, await response.json()))
            assert answers[0] == answers[1], (name, arguments)
            fast = answers[0][1]
            if name == "tasks__getTask" and "taskId" in arguments:
                assert json.loads(fast["result"]["content"][0]["text"]) == {"id": 7, "title": "Ship ✓"}
            if version == LATEST_MODERN_VERSION and "result" in fast:
                assert fast["result"]["resultType"] == "complete"
                assert fast["result"]["_meta"][types.SERVER_INFO_META_KEY]["name"] == "toolmesh-gateway"
            if version == LEGACY and "result" in fast:
                assert "resultType" not in fast["result"]  # 2026 vocabulary never reaches a 2025 client
    assert (
        sum(s.path == "/v1/projects/apollo/tasks/7" for s in upstream.seen) == 4
    )  # two forwards per endpoint
