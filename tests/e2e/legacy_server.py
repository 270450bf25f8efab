"""A 2025-era MCP server over stdio, written with the MCP SDK 1.x (FastMCP) and run by the Python of
a venv that has it (mcp-proxy's, hack/install-stdio-servers.sh): its tools ask the client mid-call,
as servers before 2026-07-28 do, with server-to-client requests while the call is open.

    python legacy_server.py

Not imported by the tests (it needs the 1.x SDK); started by the category server as ``spec.stdio``.
"""

import asyncio

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

mcp = FastMCP("legacy")


class Name(BaseModel):
    name: str


@mcp.tool()
async def greet(ctx: Context) -> str:
    """Greets whoever the client says it is (asked by elicitation, mid-call)."""
    answer = await ctx.elicit("Who is asking?", Name)
    if answer.action != "accept":
        return f"no name given ({answer.action})"
    return f"hello {answer.data.name}"


@mcp.tool()
async def greet_after(seconds: float, ctx: Context) -> str:
    """Waits, then asks who is asking (so that calls made together are all open when they ask)."""
    await asyncio.sleep(min(seconds, 5.0))
    return await greet(ctx)


@mcp.tool()
async def introduce(ctx: Context) -> str:
    """Asks twice, one question after the other: a first name, then a family name."""
    first = await ctx.elicit("First name?", Name)
    family = await ctx.elicit("Family name?", Name)
    if first.action != "accept" or family.action != "accept":
        return "declined"
    return f"pleased to meet you, {first.data.name} {family.data.name}"


@mcp.tool()
async def haiku(topic: str, ctx: Context) -> str:
    """Asks the client's model for a haiku (sampling, mid-call)."""
    result = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=f"a haiku about {topic}"))],
        max_tokens=60,
    )
    content = result.content
    return f"the model wrote: {content.text if isinstance(content, TextContent) else content}"


@mcp.tool()
async def remember(note: str, ctx: Context) -> str:
    """Remembers a note, telling its client so in its log: a warning, and a debug line."""
    await ctx.warning(f"remembered {note}")
    await ctx.debug(f"{len(note)} characters")
    return "remembered"


if __name__ == "__main__":
    mcp.run()
