"""Remote (``spec.mcp``) and packaged stdio (``spec.stdio``) MCP servers, federated under the
integration's prefix.

Each server gets one :class:`toolmesh.common.mcp_client.OwnedClient` (an SDK ``Client`` owned by a
task of its own, restarted when the server goes away), speaking whatever protocol generation the
remote offers. Its tools
are listed once at start-up, renamed ``<prefix>__<tool>`` (shortened like compiled names), and
recorded in the integration's state so that the operator can copy them into the resource's
``status.discoveredTools`` for the gateway to index while the category is at zero (docs/design/0004).
Calls are forwarded with the caller's arguments; the remote's result passes through unchanged.
A remote whose callers bring their own credentials (``spec.auth.perUser``, or the authorization-code
flow's tokens) is listed on a connection without them, and each caller's calls go over a
connection of their own, opened with their credential (toolmesh.category.caller_clients).

Its prompts are renamed like its tools; its resources and resource templates are served under
``toolmesh://<integration>/<its URI>`` (toolmesh.common.resource_uri), unwrapped again before a read
reaches it. A server that fails fails only its own reads, with an MCP error naming the integration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from toolmesh.api import MCPIntegration
from toolmesh.api.auth import Auth, AuthType
from toolmesh.category import server_logs
from toolmesh.category.auth import (
    AuthUnavailable,
    Lookup,
    mapping_lookup,
    secret_lookup,
    static_credential,
)
from toolmesh.category.caller_clients import CallerClients
from toolmesh.category.mid_call import MidCallRelay
from toolmesh.common import resource_uri
from toolmesh.common.mcp_client import OwnedClient, Resumption, ServerUnavailable, ToolAnswer
from toolmesh.common.mcp_sse import Progress
from toolmesh.common.secrets import MissingCredential, SecretStore
from toolmesh.openapi import naming

#: Environment a stdio server inherits from the category server; everything else is explicit.
INHERITED_ENV = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"})
T = TypeVar("T")


class RemoteUnavailable(Exception):
    """The remote MCP server could not be reached, or its auth cannot be applied."""


class CredentialsMissing(RemoteUnavailable):
    """The caller brought none of the credentials this remote takes from each caller."""


def auth_headers(
    integration: MCPIntegration, store: SecretStore, get: Lookup | None = None
) -> dict[str, str]:
    """Static headers for the remote: its non-secret headers plus the integration's credential.

    ``get``: the credential lookup already resolved (a Vault path is read once, when the connection
    opens; a caller's own credentials, for their connection); by default, the integration's Secret.
    An integration whose callers bring their own credentials, without ``get``: the non-secret
    headers alone (its shared connection, which lists the tools: docs/design/0022).
    """
    spec = integration.spec
    assert spec.mcp is not None
    headers = dict(spec.mcp.headers)
    if spec.auth is None or spec.auth.type == AuthType.NONE:
        return headers
    if spec.auth.per_caller and get is None:
        return headers
    try:
        credential = static_credential(spec.auth, get or secret_lookup(spec.auth, store))
    except AuthUnavailable as exc:
        raise (CredentialsMissing if spec.auth.per_caller else RemoteUnavailable)(
            f"spec.auth: {exc}"
        ) from None
    if credential is None or credential.location != "header":
        raise RemoteUnavailable(unsupported(spec.auth))
    headers[credential.name] = credential.value
    return headers


def unsupported(auth: Auth) -> str:
    return f"spec.auth.type {auth.type.value} is not supported for spec.mcp (use bearer, basic or a header API key)"


def takes_headers(auth: Auth) -> bool:
    """Can this auth go in a remote's request headers (the only place an MCP client puts it)?"""
    if auth.type == AuthType.API_KEY:
        return auth.api_key is not None and auth.api_key.location == "header"
    return auth.type in (AuthType.BEARER, AuthType.BASIC, AuthType.OAUTH2_AUTHORIZATION_CODE)


def caller_headers(integration: MCPIntegration, user: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of a caller's own connection: the non-secret ones and the caller's credential,
    which the gateway sent with this call (RemoteUnavailable: the caller brought none)."""
    auth = integration.spec.auth
    assert auth is not None
    if user is None:
        raise CredentialsMissing(
            "this integration uses each user's own credentials, which the gateway sends with the "
            "call: call it through the gateway as a signed-in user"
        )
    return auth_headers(integration, SecretStore(None), mapping_lookup(user, "the caller's credentials"))


def stdio_parameters(integration: MCPIntegration, store: SecretStore) -> StdioServerParameters:
    """How to start a stdio server: its command, arguments and environment (Secret values resolved)."""
    spec = integration.spec.stdio
    assert spec is not None
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV}
    try:
        for var in spec.env:
            if var.value is not None:
                env[var.name] = var.value
            elif var.secret_key_ref is not None:
                env[var.name] = store.get(var.secret_key_ref.name, var.secret_key_ref.key)
    except MissingCredential as exc:
        raise RemoteUnavailable(f"spec.stdio.env: {exc}") from None
    if shutil.which(spec.command) is None:
        raise RemoteUnavailable(
            f"spec.stdio.command: {spec.command!r} is not installed in this image (not on PATH)"
        )
    return StdioServerParameters(command=spec.command, args=list(spec.args), env=env)


def connector(
    integration: MCPIntegration,
    store: SecretStore,
    timeout: float,
    relay: MidCallRelay,
    get: Lookup | None = None,
) -> Callable[[], AbstractAsyncContextManager[Client]]:
    """A function that opens a fresh SDK client to the integration's server, whose questions
    (elicitation, sampling) go to the agent through ``relay``."""
    if integration.spec.stdio is not None:
        params = stdio_parameters(integration, store)
        options = {**relay.callbacks(), **server_logs.client_options(integration.metadata.name)}
        return lambda: Client(params, read_timeout_seconds=timeout, **options)
    assert integration.spec.mcp is not None
    return http_connector(
        integration.metadata.name,
        integration.spec.mcp.url,
        auth_headers(integration, store, get),
        timeout,
        relay,
    )


def http_connector(
    name: str, url: str, headers: Mapping[str, str], timeout: float, relay: MidCallRelay
) -> Callable[[], AbstractAsyncContextManager[Client]]:
    """A function that opens a fresh SDK client to integration ``name``'s remote at ``url``,
    sending ``headers``."""
    options = {**relay.callbacks(), **server_logs.client_options(name)}

    @contextlib.asynccontextmanager
    async def open_http() -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(
            headers=dict(headers), timeout=httpx2.Timeout(timeout), follow_redirects=False
        )
        async with http, Client(streamable_http_client(url, http_client=http), **options) as client:
            yield client

    return open_http


def caller_clients(
    integration: MCPIntegration, max_clients: int, idle_after: float, relay: MidCallRelay
) -> CallerClients | None:
    """The per-caller clients of a remote whose callers bring their own credentials; else None."""
    remote, auth = integration.spec.mcp, integration.spec.auth
    if remote is None or auth is None or not auth.per_caller:
        return None
    if not takes_headers(auth):
        raise RemoteUnavailable(unsupported(auth))
    name, url, timeout = integration.metadata.name, remote.url, integration.spec.timeout_seconds
    return CallerClients(
        name,
        lambda headers: http_connector(name, url, headers, timeout, relay),
        timeout,
        max_clients=max_clients,
        idle_after=idle_after,
    )


@dataclass
class Remote:
    """One federated server: an owned client, and the map from our tool names to the server's."""

    name: str
    integration: MCPIntegration
    client: OwnedClient
    tools: list[types.Tool] = field(default_factory=list)  # renamed, as we serve them
    remote_names: dict[str, str] = field(default_factory=dict)  # ours -> theirs
    prompts: list[types.Prompt] = field(default_factory=list)  # renamed, as we serve them
    prompt_names: dict[str, str] = field(default_factory=dict)  # ours -> theirs
    resources: list[types.Resource] = field(default_factory=list)  # URIs wrapped
    templates: list[types.ResourceTemplate] = field(default_factory=list)  # URI templates wrapped
    #: Each caller's own connection, when callers bring their own credentials; ``client`` then
    #: lists the tools (and serves prompts and resources) with the non-secret headers alone.
    callers: CallerClients | None = None
    #: The questions a 2025-era server asks mid-call, relayed to the agent (the connections'
    #: callbacks ask through it; mid_call.py).
    relay: MidCallRelay = field(default_factory=MidCallRelay)

    @property
    def running(self) -> bool:
        return self.client.running

    async def start(self) -> None:
        try:
            await self.client.start()
        except ServerUnavailable as exc:
            raise RemoteUnavailable(f"{self.where()}: {exc}") from None
        prefix = self.integration.spec.tool_prefix or self.name
        for tool in self.client.tools:
            ours = naming.federated(prefix, tool.name)
            self.remote_names[ours] = tool.name
            self.tools.append(tool.model_copy(update={"name": ours}))
        for prompt in self.client.prompts:
            ours = naming.federated(prefix, prompt.name)
            self.prompt_names[ours] = prompt.name
            self.prompts.append(prompt.model_copy(update={"name": ours}))
        try:
            self.resources = [
                r.model_copy(update={"uri": resource_uri.wrap(self.name, r.uri)})
                for r in self.client.resources
            ]
            self.templates = [
                t.model_copy(update={"uri_template": resource_uri.wrap(self.name, t.uri_template)})
                for t in self.client.templates
            ]
        except resource_uri.BadResourceUri as exc:
            await self.client.stop()
            raise RemoteUnavailable(f"metadata.name: its resources cannot be served: {exc}") from None

    def where(self) -> str:
        """The field and the server it names, for a message saying the server cannot be listed."""
        stdio, remote = self.integration.spec.stdio, self.integration.spec.mcp
        if stdio is not None:
            return f"spec.stdio.command: {stdio.command!r} did not answer as an MCP server"
        assert remote is not None
        if self.callers is not None:
            return (
                f"spec.mcp.url: cannot list the tools of {remote.url} without a user's credential (its "
                "callers bring their own, spec.auth): the remote must let a connection without one list its tools"
            )
        return f"spec.mcp.url: cannot list the tools of {remote.url}"

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
        user: Mapping[str, str] | None = None,
    ) -> ToolAnswer:
        """Our tool ``name`` called on the server: on the caller's own connection when callers
        bring their own credentials (``user``, sent by the gateway with this call), else the shared
        one. The answer is its result, or (MCP 2026-07-28) the input it needs first, passed back to
        the agent as it is; the agent's retry brings ``resume``. A 2025-era server's question asked
        mid-call is passed back the same way, its call held open until the retry (mid_call.py)."""
        client = self.client
        if self.callers is not None:
            client = self.callers.client(caller_headers(self.integration, user))
        theirs = self.remote_names[name]
        upstream = resume if resume is not None else Resumption()

        async def run(report: Progress) -> ToolAnswer:
            return await client.call(
                theirs, arguments, report if progress is not None else None, resume=upstream
            )

        try:
            return await self.relay.call(run, progress, upstream)
        except ServerUnavailable as exc:
            raise RemoteUnavailable(str(exc)) from None

    async def get_prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        """Our prompt ``name`` got from the server (an MCPError naming the integration if it fails)."""
        theirs = self.prompt_names[name]
        return await self._request(lambda client: client.get_prompt(theirs, arguments))

    async def read_resource(self, original: str) -> types.ReadResourceResult:
        """The server's resource at its own URI ``original``; the contents' URIs wrapped again."""
        result = await self._request(lambda client: client.read_resource(original))
        contents = [
            c.model_copy(update={"uri": resource_uri.wrap(self.name, c.uri)}) if c.uri else c
            for c in result.contents
        ]
        return result.model_copy(update={"contents": contents})

    async def _request(self, run: Callable[[Client], Awaitable[T]]) -> T:
        try:
            return await self.client.request(run)
        except ServerUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, f"integration {self.name}: {exc}") from None
        except MCPError as exc:  # the server's own answer (not found, invalid params), said by whom
            raise MCPError(exc.code, f"integration {self.name}: {exc.message}", exc.data) from None

    async def stop(self) -> None:
        await self.relay.close()
        if self.callers is not None:
            await self.callers.stop()
        await self.client.stop()
