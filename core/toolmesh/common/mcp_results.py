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


#: What a 2025 client is told when the tool needs input it would give a 2026-07-28 client.
INPUT_NOT_RELAYED = (
    "this tool needs input from you first (elicitation or sampling), which toolmesh passes on only to "
    "MCP 2026-07-28 clients (as an input_required result); connect with a client that speaks "
    "2026-07-28 to use it"
)


def for_version(result: dict[str, Any], modern: bool) -> dict[str, Any]:
    """A tool result in wire form as a client of this generation can take it: an ``input_required``
    answer reaches a 2025 client as an error saying why (docs/design/0018)."""
    if modern or result.get("resultType") != "input_required":
        return result
    return wire(text_result(INPUT_NOT_RELAYED, error=True))
