"""The gateway's MCP face: the catalog's tools directly, or three meta-tools that reach all of them;
and federated servers' prompts, resources and resource templates, as the caller may use them.

Which of the two follows the catalog's size, and never goes back once it outgrew the direct limit,
so that clients' caches stay valid (docs/design/0006); for a caller with profiles, the size of
what its profiles select (docs/design/0021).
"""

from __future__ import annotations

from typing import Any

import jsonschema
from mcp import types
from mcp.server.lowlevel.server import Server
from mcp.server.subscriptions import ListenHandler
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry.trace import SpanKind

from toolmesh.common import mcp_backchannel as backchannel
from toolmesh.common import tools, tracing
from toolmesh.common.mcp_aiohttp import FastCall
from toolmesh.common.mcp_client import Resumption, ToolAnswer, tool_answer
from toolmesh.common.mcp_results import for_version, text_result
from toolmesh.common.mcp_sse import Progress, wants_progress
from toolmesh.gateway import federated_reads
from toolmesh.gateway.service import GatewayService

SEARCH, DESCRIBE, CALL = "search_tools", "describe_tools", "call_tool"
META_NAMES = frozenset({SEARCH, DESCRIBE, CALL})
#: Longest search query: a few sentences are plenty, and the query is embedded (CPU) as it comes.
MAX_QUERY_CHARS = 4096

READ_ONLY = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _meta_tool(
    name: str, description: str, properties: dict[str, Any], first: str, annotations: types.ToolAnnotations
) -> types.Tool:
    """A meta-tool whose arguments are ``properties``, of which ``first`` is required (and no others)."""
    schema = {"type": "object", "properties": properties, "required": [first], "additionalProperties": False}
    return types.Tool(name=name, description=description, input_schema=schema, annotations=annotations)


META_TOOLS = [
    _meta_tool(
        SEARCH,
        "Find tools for a task among all connected integrations. Describe what you want to do in plain words; "
        "returns the best matching tool names with one-line descriptions, then more by name. Then use "
        "describe_tools and call_tool.",
        {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_QUERY_CHARS,
                "description": "What you want to do, in plain words.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": "Most tools to return (unset: a few described, then more by name).",
            },
            "categories": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Only these categories.",
            },
        },
        "query",
        READ_ONLY,
    ),
    _meta_tool(
        DESCRIBE,
        "Get the full input schemas of tools by name, before calling them with call_tool.",
        {"names": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20}},
        "names",
        READ_ONLY,
    ),
    _meta_tool(
        CALL,
        "Call a tool found with search_tools, with arguments that match its input schema.",
        {
            "name": {"type": "string", "description": "The tool's name, as search_tools returned it."},
            "arguments": {"type": "object", "description": "The tool's arguments."},
        },
        "name",
        types.ToolAnnotations(open_world_hint=True),
    ),
]


VALIDATORS = {t.name: jsonschema.Draft202012Validator(t.input_schema) for t in META_TOOLS}


def _problem(error: jsonschema.ValidationError) -> str:
    """One error of a meta-tool's arguments, naming the field, never echoing the value (it may be huge)."""
    field = ".".join(str(p) for p in error.absolute_path) or "arguments"
    rule, bound = error.validator, error.validator_value
    sentences = {
        "type": f"{field} must be of type {bound}",
        "maxLength": f"{field} is longer than {bound} characters",
        "minLength": f"{field} must not be empty",
        "minimum": f"{field} must be at least {bound}",
        "maximum": f"{field} must be at most {bound}",
        "minItems": f"{field} needs at least {bound} item(s)",
        "maxItems": f"{field} takes at most {bound} items",
    }
    return sentences.get(str(rule), error.message[:200])


def _validate(name: str, arguments: dict[str, Any]) -> None:
    """Raise JSON-RPC invalid params (-32602) naming the field when ``arguments`` break the meta-tool's schema."""
    error = jsonschema.exceptions.best_match(VALIDATORS[name].iter_errors(arguments))
    if error is not None:
        raise MCPError(types.INVALID_PARAMS, f"invalid arguments for {name}: {_problem(error)}")


def _listed(service: GatewayService) -> list[types.Tool]:
    """The caller's tools when listed directly (a small catalog, or small profiles), else the meta-tools."""
    shown = service.listing()
    return META_TOOLS if shown is None else [tools.sdk(r.definition()) for r in shown]


def forwarded(service: GatewayService, name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The tool and arguments a call forwards to a category server, or None for a call the gateway
    answers itself (a search, a describe, a call_tool whose arguments are not valid).

    A tool listed directly, or any tool name that is not a meta-tool, is forwarded as it is; so is
    ``call_tool``'s target. The one decision, for the SDK's handler and the fast path alike.
    """
    if name not in META_NAMES or (service.direct and name in service.catalog.tools):
        return name, args
    if name != CALL or not VALIDATORS[CALL].is_valid(args):  # its schema requires a string name
        return None
    arguments = args.get("arguments")
    return str(args["name"]), arguments if isinstance(arguments, dict) else {}


def fast_call(service: GatewayService) -> FastCall:
    """The forwarding hot path of the MCP endpoint (toolmesh.common.mcp_aiohttp): forwarded calls
    in wire form; everything else (None) to the SDK's kernel and :func:`build`'s handler."""

    async def forward(
        name: str, args: dict[str, Any], progress: Progress | None, resume: Resumption
    ) -> dict[str, Any] | None:
        target = forwarded(service, name, args)
        if target is None:
            return None
        if not tracing.enabled():
            return await service.call_wire(
                *target, progress=progress, resume=resume, ask=backchannel.current()
            )
        # The span the SDK's kernel opens for each request it serves (mcp.server._otel), which this
        # path skips: the same name and attributes.
        with tracing.span(
            f"tools/call {name}", tracing.server_call_attributes(name), SpanKind.SERVER
        ) as span:
            result = await service.call_wire(
                *target, progress=progress, resume=resume, ask=backchannel.current()
            )
            if result.get("isError") is True:
                tracing.failed(span, "tool_error")
            return result

    return forward


def build(service: GatewayService) -> Server[Any]:
    """The MCP server: a small catalog's tools listed as they are, a larger one behind the meta-tools.

    Calls accept both faces whatever is listed now, so a client whose cached list predates the
    catalog outgrowing the direct limit keeps working.
    """

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        # Direct listings show only what the caller may call (spec.access, its profiles).
        return types.ListToolsResult(tools=_listed(service))

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> ToolAnswer:
        args = params.arguments or {}
        target = forwarded(service, params.name, args)
        if target is not None:
            progress = ctx.session.report_progress if wants_progress(params) else None
            resume = Resumption.of(params.model_dump(mode="json", by_alias=True, exclude_none=True))
            answer = await service.call_wire(
                *target, progress=progress, resume=resume, ask=backchannel.current()
            )
            return tool_answer(for_version(answer, ctx.protocol_version in MODERN_PROTOCOL_VERSIONS))
        if params.name in VALIDATORS:
            _validate(params.name, args)
        if params.name == SEARCH:
            query = args.get("query")
            if not isinstance(query, str) or not query.strip():
                return text_result(
                    "search_tools needs a query: what you want to do, in plain words", error=True
                )
            limit = args.get("limit") if isinstance(args.get("limit"), int) else None
            categories = [c for c in args.get("categories") or [] if isinstance(c, str)]
            return await service.search(query, limit, categories)
        if params.name == DESCRIBE:
            names = args.get("names")
            if not isinstance(names, list) or not names:
                return text_result(
                    "describe_tools needs names: a list of tool names from search_tools", error=True
                )
            return await service.describe([str(n) for n in names])
        # call_tool gets here only with arguments forwarded() found invalid, which _validate refused.
        raise AssertionError(f"unhandled meta-tool {params.name}")  # pragma: no cover

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        prompts = service.offered(service.catalog.offered.prompts)
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in prompts])

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await federated_reads.get_prompt(service, params.name, params.arguments)

    async def list_resources(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        resources = service.offered(service.catalog.offered.resources)
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in resources])

    async def list_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        templates = service.offered(service.catalog.offered.templates)
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(t) for t in templates]
        )

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await federated_reads.read_resource(service, params.uri)

    return GatewayServer(
        service, "toolmesh-gateway", version="0.1.0", on_list_tools=list_tools, on_call_tool=call_tool,
        on_list_prompts=list_prompts, on_get_prompt=get_prompt, on_list_resources=list_resources,
        on_list_resource_templates=list_templates, on_read_resource=read_resource,
        on_subscriptions_listen=ListenHandler(service.events),
    )  # fmt: skip


class GatewayServer(Server[Any]):
    """The SDK server, advertising ``prompts`` and ``resources`` only while the catalog holds some
    (federated servers that offer them): a gateway of OpenAPI tools alone says it has tools only."""

    def __init__(self, service: GatewayService, name: str, **handlers: Any) -> None:
        super().__init__(name, **handlers)
        self.service = service

    def get_capabilities(self, *args: Any, **kwargs: Any) -> types.ServerCapabilities:
        capabilities = super().get_capabilities(*args, **kwargs)
        offered = self.service.catalog.offered
        return capabilities.model_copy(
            update={
                "prompts": capabilities.prompts if offered.any_prompts else None,
                "resources": capabilities.resources if offered.any_resources else None,
            }
        )
