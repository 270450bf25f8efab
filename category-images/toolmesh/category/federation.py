"""Remote (``spec.mcp``) and packaged stdio (``spec.stdio``) MCP servers, federated under the
integration's prefix.

Each server gets one SDK ``Client`` owned by a task of its own (the SDK's task groups must be
entered and left in one task), speaking whatever protocol generation the remote offers. Its tools
are listed once at start-up, renamed ``<prefix>__<tool>`` (shortened like compiled names), and
recorded in the integration's state so that the operator can copy them into the resource's
``status.discoveredTools`` for the gateway to index while the category is at zero (docs/design/0004).
Calls are forwarded with the caller's arguments; the remote's result passes through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED

from toolmesh.api import MCPIntegration
from toolmesh.api.integration import AuthType
from toolmesh.category.auth import AuthUnavailable, static_credential
from toolmesh.category.credentials import MissingCredential, SecretStore
from toolmesh.openapi import naming

START_TIMEOUT = 15.0
#: Extra seconds a caller waits beyond the integration's timeout (the SDK enforces the timeout itself).
CALL_GRACE = 5.0
#: Environment a stdio server inherits from the category server; everything else is explicit.
INHERITED_ENV = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"})


class RemoteUnavailable(Exception):
    """The remote MCP server could not be reached, or its auth cannot be applied."""


def auth_headers(integration: MCPIntegration, store: SecretStore) -> dict[str, str]:
    """Static headers for the remote: its non-secret headers plus the integration's credential."""
    spec = integration.spec
    assert spec.mcp is not None
    headers = dict(spec.mcp.headers)
    if spec.auth is None or spec.auth.type == AuthType.NONE:
        return headers
    try:
        credential = static_credential(spec.auth, store)
    except AuthUnavailable as exc:
        raise RemoteUnavailable(f"spec.auth: {exc}") from None
    if credential is None or credential.location != "header":
        raise RemoteUnavailable(
            f"spec.auth.type {spec.auth.type.value} is not supported for spec.mcp (use bearer, basic or a header API key)"
        )
    headers[credential.name] = credential.value
    return headers


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
    integration: MCPIntegration, store: SecretStore, timeout: float
) -> Callable[[], AbstractAsyncContextManager[Client]]:
    """A function that opens a fresh SDK client to the integration's server."""
    if integration.spec.stdio is not None:
        params = stdio_parameters(integration, store)
        return lambda: Client(params, read_timeout_seconds=timeout)
    assert integration.spec.mcp is not None
    url, headers = integration.spec.mcp.url, auth_headers(integration, store)

    @contextlib.asynccontextmanager
    async def open_http() -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout), follow_redirects=False)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            yield client

    return open_http


@dataclass
class Remote:
    """One federated server. A task of its own owns the SDK client and runs every call.

    Calls arrive on a queue and run inside the owner's task group, so when the server goes away
    (a stdio child crashes, a remote closes) only the owner's scope unwinds; each pending caller
    gets a RemoteUnavailable, and the next call starts the server again.
    """

    name: str
    integration: MCPIntegration
    connect: Callable[[], AbstractAsyncContextManager[Client]]
    timeout: float
    #: Stop the server after this many idle seconds (stdio children); the next call starts it again.
    idle_after: float | None = None
    tools: list[types.Tool] = field(default_factory=list)  # renamed, as we serve them
    remote_names: dict[str, str] = field(default_factory=dict)  # ours -> theirs
    _queue: asyncio.Queue[_Call | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _alive: bool = False
    _in_flight: int = 0
    _stopped: bool = False
    _error: BaseException | None = None

    async def start(self) -> None:
        self._ready, self._error, self._queue = asyncio.Event(), None, asyncio.Queue()
        self._task = asyncio.create_task(self._own_client(), name=f"mcp-client-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready.wait()), START_TIMEOUT)
        except TimeoutError:
            await self.stop()
            raise RemoteUnavailable(f"{self._where()}: no answer within {START_TIMEOUT:g} s") from None
        if not self._alive:
            raise RemoteUnavailable(f"{self._where()}: {_describe(self._error) if self._error else 'closed'}")

    @property
    def running(self) -> bool:
        return self._alive

    def _where(self) -> str:
        return "spec.stdio.command" if self.integration.spec.stdio is not None else "spec.mcp.url"

    async def _own_client(self) -> None:
        try:
            async with self.connect() as client, asyncio.TaskGroup() as calls:
                listed = await client.list_tools()
                if not self.tools:  # the first start names the tools; a restart keeps them
                    prefix = self.integration.spec.tool_prefix or self.name
                    for tool in listed.tools:
                        ours = naming.tool_name(prefix, naming.clean(tool.name) or "tool")
                        self.remote_names[ours] = tool.name
                        self.tools.append(tool.model_copy(update={"name": ours}))
                self._alive = True
                self._ready.set()
                while True:
                    try:
                        call = await asyncio.wait_for(self._queue.get(), self.idle_after)
                    except TimeoutError:
                        if self._in_flight:
                            continue
                        self._alive = False  # idle: let the child go; the next call starts it again
                        break
                    if call is None:
                        break
                    calls.create_task(self._run(client, call))
        except BaseException as exc:  # the server's failure is this integration's state, never the process's
            self._error = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._alive = False
            self._ready.set()
            while not self._queue.empty():
                if (call := self._queue.get_nowait()) is not None and not call.future.done():
                    call.future.set_exception(_NotRun())

    async def _run(self, client: Client, call: _Call) -> None:
        self._in_flight += 1
        try:
            result = await client.call_tool(
                self.remote_names[call.name], call.arguments, read_timeout_seconds=self.timeout
            )
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:  # end the owner first: the next call starts the server again
                self._alive = False
                self._queue.put_nowait(None)
            if not call.future.done():
                call.future.set_exception(RemoteUnavailable(f"{self.name}: {exc.message}"))
        except (httpx2.HTTPError, OSError) as exc:
            if not call.future.done():
                call.future.set_exception(RemoteUnavailable(f"{self.name}: {_describe(exc)}"))
        else:
            if not call.future.done():
                call.future.set_result(result)
        finally:
            if not call.future.done():
                call.future.set_exception(
                    RemoteUnavailable(f"{self.name}: the server went away during the call")
                )

    async def call(self, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        try:
            return await self._call_once(name, arguments)
        except _NotRun:  # queued while the server went away, never sent: safe to send again
            try:
                return await self._call_once(name, arguments)
            except _NotRun:
                raise RemoteUnavailable(f"{self.name}: the server went away") from None

    async def _call_once(self, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        if self._stopped:
            raise RemoteUnavailable(f"{self.name}: the server is stopped")
        if not self._alive:
            if self._task is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._task), START_TIMEOUT)
            await self.start()
        call = _Call(name, dict(arguments or {}), asyncio.get_running_loop().create_future())
        self._queue.put_nowait(call)
        try:
            return await asyncio.wait_for(asyncio.shield(call.future), self.timeout + CALL_GRACE)
        except TimeoutError:
            raise RemoteUnavailable(
                f"{self.name}: no answer within {self.timeout:g} s (spec.timeoutSeconds)"
            ) from None

    async def stop(self) -> None:
        self._stopped = True
        self._queue.put_nowait(None)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, START_TIMEOUT)


class _NotRun(Exception):
    """A queued call that was never sent because the server went away first."""


@dataclass
class _Call:
    name: str
    arguments: dict[str, Any]
    future: asyncio.Future[types.CallToolResult]


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
