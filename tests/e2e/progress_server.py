"""A remote MCP server (the SDK's own MCPServer on uvicorn) with a tool that reports progress, one that
asks the client who it is (elicitation) and one that runs until it is cancelled: the far end of the
passthrough tests (test_protocol_passthrough)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel

from toolmesh.testing.cluster import free_port

#: Longest a ``wait`` call runs before it answers on its own (a test that fails never hangs on it).
WAIT_LIMIT = 30.0


@dataclass
class Waits:
    """What the remote saw of its ``wait`` calls."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class Name(BaseModel):
    name: str


def ask_name() -> Elicit[Name]:
    return Elicit("Who is asking?", Name)


@contextlib.asynccontextmanager
async def serve_progress_remote() -> AsyncIterator[tuple[str, Waits]]:
    mcp = MCPServer("worker")
    waits = Waits()

    @mcp.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Counts to steps, reporting each step as progress."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
            await asyncio.sleep(0.01)
        return f"counted to {steps}"

    @mcp.tool()
    async def greet(who: Annotated[Name, Resolve(ask_name)]) -> str:
        """Greets whoever the client says it is (asked by elicitation)."""
        return f"hello {who.name}"

    @mcp.tool()
    async def wait() -> str:
        """Waits until cancelled."""
        waits.started.set()
        try:
            await asyncio.sleep(WAIT_LIMIT)
        except asyncio.CancelledError:
            waits.cancelled.set()
            raise
        return "waited"

    app = mcp.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp", waits
    finally:
        server.should_exit = True
        await task
