"""Tools of a federated MCP server (``spec.mcp``), listed by the operator and recorded in status.

The gateway indexes an integration's tools from its status, so a category at zero replicas still
has its federated tools found. Names are made exactly as the category server makes them
(``<prefix>__<tool>``, shortened by the shared naming rules). Only what needs no user can be
listed here: no auth, or a shared bearer token or header API key from ``auth.secretRef``;
anything else stays "discovery pending" until a category server reports it.
"""

from __future__ import annotations

import base64

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from toolmesh.api import AuthType, MCPIntegration
from toolmesh.api.integration import ToolSummary
from toolmesh.kube import KubeClient
from toolmesh.openapi import naming
from toolmesh.openapi.schema import truncate


class Undiscoverable(Exception):
    """The tools cannot be listed from here; the message says why (safe to show)."""


async def _headers(obj: MCPIntegration, client: KubeClient, namespace: str) -> dict[str, str]:
    spec = obj.spec
    assert spec.mcp is not None
    headers = dict(spec.mcp.headers)
    auth = spec.auth
    if auth is None or auth.type == AuthType.NONE:
        return headers
    if auth.secret_ref is None or auth.type not in (AuthType.BEARER, AuthType.API_KEY):
        raise Undiscoverable(
            "its tools are listed by its category server (credentials per user, from Vault, or from OAuth)"
        )
    key = "token" if auth.type == AuthType.BEARER else "apiKey"
    secret = await client.get("Secret", namespace, auth.secret_ref.name)
    encoded = ((secret or {}).get("data") or {}).get(key)
    if not isinstance(encoded, str):
        raise Undiscoverable(f"spec.auth.secretRef: Secret {auth.secret_ref.name!r} has no key {key!r}")
    value = base64.b64decode(encoded).decode()
    if auth.type == AuthType.BEARER:
        headers["Authorization"] = f"Bearer {value}"
    elif auth.api_key is not None and auth.api_key.location == "header":
        headers[auth.api_key.name] = value
    else:
        raise Undiscoverable("spec.auth.apiKey.in must be header for spec.mcp")
    return headers


async def list_tools(
    obj: MCPIntegration, client: KubeClient, namespace: str, timeout: float
) -> list[ToolSummary]:
    """The remote server's tools, named as the category server will serve them."""
    spec = obj.spec
    assert spec.mcp is not None
    headers = await _headers(obj, client, namespace)
    prefix = spec.tool_prefix or obj.metadata.name
    try:
        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=httpx2.Timeout(timeout), follow_redirects=False
            ) as http,
            Client(streamable_http_client(spec.mcp.url, http_client=http)) as remote,
        ):
            tools = (await remote.list_tools()).tools
    except Exception as exc:
        raise Undiscoverable(
            f"spec.mcp.url: cannot list tools of {spec.mcp.url}: {type(exc).__name__}"
        ) from None
    return [
        ToolSummary(
            name=naming.federated(prefix, t.name),
            description=truncate(t.description or "", naming.SUMMARY_DESCRIPTION),
        )
        for t in tools[:2048]
    ]
