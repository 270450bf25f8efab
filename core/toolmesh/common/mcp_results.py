"""Small builders of MCP results shared by the gateway and the category server."""

from __future__ import annotations

from mcp import types


def text_result(text: str, *, error: bool = False) -> types.CallToolResult:
    """A tool result of one text block; ``error`` marks it ``isError`` for the model to see."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)
