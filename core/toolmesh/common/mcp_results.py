"""Small builders of MCP results shared by the gateway and the category server."""

from __future__ import annotations

from typing import Any

from mcp import types


def text_result(text: str, *, error: bool = False) -> types.CallToolResult:
    """A tool result of one text block; ``error`` marks it ``isError`` for the model to see."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


def wire(result: types.CallToolResult) -> dict[str, Any]:
    """A result as JSON, as the SDK dumps it for the wire."""
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)
