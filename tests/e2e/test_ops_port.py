"""With an ops port, /healthz, /readyz and /metrics are served there only; the MCP port answers MCP
and nothing about the process (the chart and the operator set it; local development leaves it unset,
and all is served on one port). A busy ops port stops the start, naming it."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from mcp import Client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.conftest import StartGateway
from tests.e2e.stub_upstream import StubUpstream
from tests.e2e.test_category_server import tasks_integration
from toolmesh.testing.cluster import free_port

pytestmark = pytest.mark.e2e
OPS = ("/healthz", "/readyz", "/metrics")


async def statuses(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    found = {}
    for path in OPS:
        async with http.get(base + path) as response:
            found[path] = response.status
    return found


async def test_the_gateways_ops_endpoints_move_to_their_own_port(start_gateway: StartGateway) -> None:
    ops_port = free_port()
    gateway = await start_gateway(ops_port=ops_port)
    base = gateway.mcp_url.removesuffix("/mcp")
    async with aiohttp.ClientSession() as http:
        assert await statuses(http, base) == dict.fromkeys(OPS, 404)
        assert await statuses(http, f"http://127.0.0.1:{ops_port}") == dict.fromkeys(OPS, 200)
        async with http.get(f"http://127.0.0.1:{ops_port}/readyz") as response:
            assert (await response.json())["tools"] > 0
        async with http.post(f"http://127.0.0.1:{ops_port}/mcp", json={}) as response:
            assert response.status == 404  # and MCP is not on the ops port
    async with Client(gateway.mcp_url) as client:
        assert (await client.list_tools()).tools


async def test_without_an_ops_port_all_is_served_on_one(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    async with aiohttp.ClientSession() as http:
        assert await statuses(http, gateway.mcp_url.removesuffix("/mcp")) == dict.fromkeys(OPS, 200)


async def test_the_category_servers_ops_endpoints_move_to_their_own_port(
    start_category: StartCategory, upstream: StubUpstream
) -> None:
    ops_port = free_port()
    files = {
        "tasks.yaml": tasks_integration(upstream.url),
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    }
    server = await start_category(files, ops_port=ops_port)
    async with aiohttp.ClientSession() as http:
        assert await statuses(http, server.url) == dict.fromkeys(OPS, 404)
        assert await statuses(http, f"http://127.0.0.1:{ops_port}") == dict.fromkeys(OPS, 200)
        async with http.get(f"http://127.0.0.1:{ops_port}/readyz") as response:
            assert (await response.json())["tools"] > 0


async def test_a_busy_ops_port_stops_the_start_naming_it(start_category: StartCategory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"the ops port 127.0.0.1:{port} is not free"):
            await start_category({}, ops_port=port)
