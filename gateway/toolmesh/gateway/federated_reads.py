"""Federated servers' prompts and resources, got and read through their category servers (woken
if needed), with the same authorization as their tools (docs/design/0017)."""

from __future__ import annotations

from typing import Any

import structlog
from mcp import types
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS
from pydantic import ValidationError

from toolmesh.common import resource_uri
from toolmesh.common.mcp_client import ServerUnavailable
from toolmesh.common.mcp_forward import CategoryError
from toolmesh.gateway.service import GatewayService
from toolmesh.gateway.supervisor import CategoryUnavailable

log = structlog.get_logger("toolmesh.gateway")
EV_READ = "offered.forwarded"


async def get_prompt(
    service: GatewayService, name: str, arguments: dict[str, str] | None
) -> types.GetPromptResult:
    """A federated server's prompt, got through its category server (woken if needed)."""
    found = service.catalog.offered.prompts.get(name)
    if found is None or not service.may_use(found.integration):
        raise MCPError(INVALID_PARAMS, f"unknown prompt {name!r}; list the prompts to see what is offered")
    params = {"name": name, "arguments": arguments or {}}
    result = await _ask_category(service, found.category, found.integration, "prompts/get", params, name)
    try:
        return types.GetPromptResult.model_validate(result)
    except ValidationError:
        raise MCPError(INTERNAL_ERROR, f"category {found.category}: not a prompts/get result") from None


async def read_resource(service: GatewayService, uri: str) -> types.ReadResourceResult:
    """A federated server's resource, read through its category server (woken if needed); the
    URI names its integration, so one a template expands to is routed without being listed."""
    try:
        integration, _ = resource_uri.unwrap(uri)
    except resource_uri.BadResourceUri as exc:
        raise MCPError(INVALID_PARAMS, f"unknown resource {uri[:200]!r}: {exc}") from None
    category = service.catalog.offered.readable.get(integration)
    if category is None or not service.may_use(integration):
        raise MCPError(
            INVALID_PARAMS, f"unknown resource {uri[:200]!r}; list the resources to see what is offered"
        )
    result = await _ask_category(service, category, integration, "resources/read", {"uri": uri}, uri)
    try:
        return types.ReadResourceResult.model_validate(result)
    except ValidationError:
        raise MCPError(INTERNAL_ERROR, f"category {category}: not a resources/read result") from None


async def _ask_category(
    service: GatewayService, category: str, integration: str, method: str, params: dict[str, Any], name: str
) -> Any:
    """One request to a category server; its MCP error passes on with its code, anything else
    that goes wrong is an internal error naming the category."""
    try:
        client = await service.categories.client(category)
        result = await client.request_wire(method, params, name)
    except CategoryError as exc:
        log.info(EV_READ, method=method, integration=integration, outcome="error", reason=str(exc))
        raise MCPError(exc.code, str(exc), exc.data) from None
    except (CategoryUnavailable, ServerUnavailable) as exc:
        log.warning(EV_READ, method=method, integration=integration, outcome="unavailable", reason=str(exc))
        raise MCPError(INTERNAL_ERROR, f"category {category} is unavailable: {exc}") from None
    log.info(EV_READ, method=method, integration=integration, outcome="ok")
    return result
