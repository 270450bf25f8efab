"""Tools of a federated MCP server (``spec.mcp``), listed by the operator and recorded in status,
with its prompts, resources and resource templates when it advertises them.

The gateway indexes an integration's tools from its status, so a category at zero replicas still
has its federated tools found. Names are made exactly as the category server makes them
(``<prefix>__<tool>``, shortened by the shared naming rules). Only what needs no user can be
listed here: no auth, or a shared bearer token or header API key from ``auth.secretRef``;
anything else stays "discovery pending" until a category server reports it. Prompts are named as
tools are; resource URIs and templates are wrapped as the category server serves them
(``toolmesh://<integration>/<URI>``, toolmesh.common.resource_uri).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from toolmesh.api import AuthType, MCPIntegration
from toolmesh.api.integration import (
    PromptArgumentSummary,
    PromptSummary,
    ResourceSummary,
    ResourceTemplateSummary,
    ToolSummary,
)
from toolmesh.common import resource_uri
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


@dataclass
class Discovered:
    """What a federated server offers, named as a category server serves it."""

    tools: list[ToolSummary]
    prompts: list[PromptSummary] = field(default_factory=list)
    resources: list[ResourceSummary] = field(default_factory=list)
    templates: list[ResourceTemplateSummary] = field(default_factory=list)


async def discover(obj: MCPIntegration, client: KubeClient, namespace: str, timeout: float) -> Discovered:
    """The remote server's tools, prompts, resources and templates, named as the category server
    will serve them."""
    spec = obj.spec
    assert spec.mcp is not None
    headers = await _headers(obj, client, namespace)
    try:
        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=httpx2.Timeout(timeout), follow_redirects=False
            ) as http,
            Client(streamable_http_client(spec.mcp.url, http_client=http)) as remote,
        ):
            tools = (await remote.list_tools()).tools
            prompts, resources, templates = await _offered(remote)
    except Exception as exc:
        raise Undiscoverable(
            f"spec.mcp.url: cannot list tools of {spec.mcp.url}: {type(exc).__name__}"
        ) from None
    return summarise(obj, tools, prompts, resources, templates)


async def _offered(
    remote: Client,
) -> tuple[list[types.Prompt], list[types.Resource], list[types.ResourceTemplate]]:
    capabilities = remote.server_capabilities
    prompts: list[types.Prompt] = []
    resources: list[types.Resource] = []
    templates: list[types.ResourceTemplate] = []
    if capabilities.prompts is not None:
        prompts = list((await remote.list_prompts()).prompts)
    if capabilities.resources is not None:
        resources = list((await remote.list_resources()).resources)
        templates = list((await remote.list_resource_templates()).resource_templates)
    return prompts, resources, templates


def summarise(
    obj: MCPIntegration,
    tools: list[types.Tool],
    prompts: list[types.Prompt],
    resources: list[types.Resource],
    templates: list[types.ResourceTemplate],
) -> Discovered:
    """Status entries for what a server offers (pure); items beyond the status' limits, or whose
    URI cannot be served, are left out."""
    prefix = obj.spec.tool_prefix or obj.metadata.name
    name = obj.metadata.name

    def short(text: str | None) -> str:
        return truncate(text or "", naming.SUMMARY_DESCRIPTION)

    def wrapped(uri: str) -> str | None:
        try:
            out = resource_uri.wrap(name, uri)
        except resource_uri.BadResourceUri:
            return None
        return out if len(out) <= 2048 else None

    return Discovered(
        tools=[
            ToolSummary(name=naming.federated(prefix, t.name), description=short(t.description))
            for t in tools[:2048]
        ],
        prompts=[
            PromptSummary(
                name=naming.federated(prefix, p.name),
                description=short(p.description),
                arguments=[
                    PromptArgumentSummary(
                        name=a.name[:128], description=short(a.description), required=bool(a.required)
                    )
                    for a in (p.arguments or [])[:32]
                ],
            )
            for p in prompts[:256]
        ],
        resources=[
            ResourceSummary(
                uri=uri, name=r.name[:256], description=short(r.description), mime_type=_mime(r.mime_type)
            )
            for r in resources[:512]
            if (uri := wrapped(r.uri)) is not None
        ],
        templates=[
            ResourceTemplateSummary(
                uri_template=uri,
                name=t.name[:256],
                description=short(t.description),
                mime_type=_mime(t.mime_type),
            )
            for t in templates[:256]
            if (uri := wrapped(t.uri_template)) is not None
        ],
    )


def _mime(value: str | None) -> str | None:
    return value[:128] if value else None
