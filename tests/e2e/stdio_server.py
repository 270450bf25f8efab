"""A small stdio MCP server built with the SDK, run by the category server as a child process."""

from __future__ import annotations

import os

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("notes")


@server.tool()
def greet(name: str) -> str:
    """Greets someone, with the greeting from the GREETING environment variable."""
    return f"{os.environ.get('GREETING', 'hello')}, {name} (pid {os.getpid()})"


@server.tool()
def crash() -> str:
    """Exits the process at once, as a crashing server would."""
    os._exit(3)


@server.tool()
async def remember(note: str, ctx: Context) -> str:
    """Remembers a note, telling its client so in its log: a warning, and a debug line."""
    await ctx.warning({"remembered": note}, logger_name="notes.memory")
    await ctx.debug(f"{len(note)} characters")
    return "remembered"


@server.prompt()
def summarize(topic: str) -> str:
    """Asks for a summary of the notes on a topic."""
    return f"Summarize my notes on {topic}."


@server.resource("notes://today", mime_type="text/plain")
def today() -> str:
    """Today's notes."""
    return "buy milk"


@server.resource("notes://day/{day}", mime_type="text/plain")
def day(day: str) -> str:
    """The notes of a day."""
    return f"notes of {day}"


if __name__ == "__main__":
    server.run("stdio")
