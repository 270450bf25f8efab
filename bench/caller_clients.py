"""Memory of a remote MCP server's per-caller clients (toolmesh.category.caller_clients): Python
heap traced while N callers each hold an open session. Prints figures; asserts nothing.

    python bench/caller_clients.py [N]     # default 50

The remote is the SDK's own MCPServer on uvicorn in the same process, so its side of each session
is counted too: the figure is an upper bound for the category server's side.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from toolmesh.category.caller_clients import CallerClients
from toolmesh.category.federation import http_connector
from toolmesh.category.mid_call import MidCallRelay
from toolmesh.testing.cluster import free_port


async def main(n: int) -> None:
    mcp = MCPServer("bench")

    @mcp.tool()
    def ping() -> str:
        """Pong."""
        return "pong"

    app = mcp.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}/mcp"
    clients = CallerClients(
        "bench",
        lambda headers: http_connector("bench", url, headers, 10.0, MidCallRelay()),
        10.0,
        max_clients=n + 1,
        idle_after=600,
    )
    await clients.client({"Authorization": "Bearer warm-up"}).call("ping", {})
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        await clients.client({"Authorization": f"Bearer caller-{i}"}).call("ping", {})
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    print(f"{n} open caller sessions: {used / 1024:.0f} KiB traced, {used / n / 1024:.1f} KiB each")
    print(f"at the default bound of 256 per integration: {used / n * 256 / 1024 / 1024:.1f} MiB")
    await clients.stop()
    server.should_exit = True
    await task


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
