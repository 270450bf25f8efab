"""A remote MCP server that toolmesh did not write (the SDK's own MCPServer on uvicorn), recording
the headers of every request it receives; the ``remote`` fixture in tests/e2e/conftest.py serves it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from toolmesh.testing.cluster import free_port


class HeaderRecorder:
    """ASGI middleware that keeps the headers of every request the remote receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def serve_remote() -> AsyncIterator[tuple[str, HeaderRecorder]]:
    """The SDK's own MCPServer on uvicorn: a server toolmesh did not write, with two tools, a
    prompt, a static resource and a resource template."""
    mcp = MCPServer("calculator")

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Adds two integers."""
        return a + b

    @mcp.tool()
    def divide(a: float, b: float) -> float:
        """Divides a by b."""
        return a / b

    @mcp.prompt()
    def explain(operation: str) -> str:
        """Asks for an explanation of an arithmetic operation."""
        return f"Explain how to {operation} two numbers."

    @mcp.resource("calc://constants/pi", mime_type="text/plain")
    def pi() -> str:
        """The constant pi."""
        return "3.14159"

    @mcp.resource("calc://square/{n}", mime_type="text/plain")
    def square(n: str) -> str:
        """The square of n."""
        return str(int(n) ** 2)

    app = HeaderRecorder(mcp.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    ))  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp", app
    finally:
        server.should_exit = True
        await task
