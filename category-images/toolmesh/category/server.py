"""The category server's MCP face: a low-level SDK ``Server`` over a :class:`CategoryService`: its
tools, and its federated servers' prompts, resources and resource templates (empty lists when none)."""

from __future__ import annotations

from typing import Any

from mcp import types
from mcp.server.lowlevel.server import Server

from toolmesh.category.service import CategoryService
from toolmesh.common.credentials_meta import credentials_from_meta
from toolmesh.common.mcp_client import Resumption, ToolAnswer
from toolmesh.common.mcp_sse import wants_progress

SERVER_NAME = "toolmesh-category"


def build(service: CategoryService, *, name: str = SERVER_NAME, version: str = "0.1.0") -> Server[Any]:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=service.registry.mcp_tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> ToolAnswer:
        # Steps of a federated server's call go back on this request's stream, when it asked for them.
        progress = ctx.session.report_progress if wants_progress(params) else None
        resume = Resumption.of(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        user = credentials_from_meta(params.meta)
        return await service.call(params.name, params.arguments, user, progress, resume)

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=service.registry.mcp_prompts)

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await service.get_prompt(params.name, params.arguments)

    async def list_resources(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=service.registry.mcp_resources)

    async def list_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=service.registry.mcp_templates)

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await service.read_resource(params.uri)

    return Server(
        name, version=version, on_list_tools=list_tools, on_call_tool=call_tool,
        on_list_prompts=list_prompts, on_get_prompt=get_prompt, on_list_resources=list_resources,
        on_list_resource_templates=list_templates, on_read_resource=read_resource,
    )  # fmt: skip
