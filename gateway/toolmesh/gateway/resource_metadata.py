"""The OAuth protected resource metadata (RFC 9728) of ``/mcp``: where MCP clients learn which
authorization server issues the tokens the gateway accepts (the 401 challenge points here), and
the resource identifier they ask those tokens for (RFC 8707), which is the audience the gateway
requires unless TOOLMESH_AUTH_AUDIENCE names another."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from toolmesh.gateway import auth
from toolmesh.gateway.settings import GatewaySettings

DEFAULT_PORTS = {"http": 80, "https": 443}


def resource(base: str) -> str:
    """The resource identifier of ``<base>/mcp`` as MCP clients send it: the SDK takes it from this
    metadata parsed as a URL, so scheme and host in lower case, no default port, no fragment."""
    parts = urlsplit(base.rstrip("/") + "/mcp")
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host if parts.port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def add_routes(app: web.Application, settings: GatewaySettings, base: str, issuer: str | None) -> None:
    """At the well-known path, and at it suffixed with the resource's path (RFC 9728 §3.1);
    ``issuer`` is the authorization server clients go to (the gateway itself, when it is one)."""
    document = auth.metadata(resource(base), issuer, settings.auth_scopes)

    async def resource_metadata(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(auth.METADATA_PATH, resource_metadata)
    app.router.add_get(auth.METADATA_PATH + "/mcp", resource_metadata)
