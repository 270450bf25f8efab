"""The category server's MCP face: a low-level SDK ``Server`` over a :class:`CategoryService`."""

from __future__ import annotations

from typing import Any

from mcp import types
from mcp.server.lowlevel.server import Server

from toolmesh.category.service import CategoryService
from toolmesh.common.credentials_meta import credentials_from_meta
from toolmesh.common.mcp_sse import wants_progress

SERVER_NAME = "toolmesh-category"


def build(service: CategoryService, *, name: str = SERVER_NAME, version: str = "0.1.0") -> Server[Any]:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=service.registry.mcp_tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        # Steps of a federated server's call go back on this request's stream, when it asked for them.
        progress = ctx.session.report_progress if wants_progress(params) else None
        return await service.call(params.name, params.arguments, credentials_from_meta(params.meta), progress)

    return Server(name, version=version, on_list_tools=list_tools, on_call_tool=call_tool)
