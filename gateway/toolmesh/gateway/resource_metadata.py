"""The OAuth protected resource metadata (RFC 9728) of ``/mcp``: where MCP clients learn which
authorization server issues the tokens the gateway accepts (the 401 challenge points here)."""

from __future__ import annotations

from aiohttp import web

from toolmesh.gateway import auth
from toolmesh.gateway.settings import GatewaySettings


def add_routes(app: web.Application, settings: GatewaySettings, base: str) -> None:
    """At the well-known path, and at it suffixed with the resource's path (RFC 9728 §3.1)."""
    document = auth.metadata(base + "/mcp", settings.auth_issuer, settings.auth_scopes)

    async def resource_metadata(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(auth.METADATA_PATH, resource_metadata)
    app.router.add_get(auth.METADATA_PATH + "/mcp", resource_metadata)
