"""An SDK MCP client owned by a task of its own, shared by every caller: for proxies and federation.

The SDK's client task groups must be entered and left in one task, and a call made from a request
handler's task is cancelled with that request when the server goes away. So one task owns the
client; calls arrive on a queue and run inside the owner's task group. When the server goes away
(a stdio child crashes, a remote closes, a category server restarts), only the owner unwinds; each
pending caller gets a ServerUnavailable, calls that were queued but never sent are sent once more,
and the next call starts a fresh connection. An idle limit lets a child process go after a quiet
spell (``idle_after``); the next call starts it again.

Besides its tools, the first start lists the server's prompts, resources and resource templates
when its capabilities advertise them; :meth:`OwnedClient.request` runs any other request (a prompt
got, a resource read) through the owner the same way, the server's own MCP errors passing through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx2
from mcp import Client, types
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED

from toolmesh.common.mcp_sse import Progress

START_TIMEOUT = 15.0
#: Extra seconds a caller waits beyond the call timeout (the SDK enforces the timeout itself).
CALL_GRACE = 5.0
#: Most pages of prompts, resources or templates read from one server at start-up.
MAX_PAGES = 20
T = TypeVar("T")


class ServerUnavailable(Exception):
    """The server could not be reached, went away, or did not answer in time; the text is for the agent."""


@dataclass
class OwnedClient:
    """One server's client, owned by a task; ``tools`` is the server's list from the first start."""

    name: str  # for messages
    connect: Callable[[], AbstractAsyncContextManager[Client]]
    timeout: float
    #: Close the connection after this many idle seconds; the next call opens it again.
    idle_after: float | None = None
    #: List the server's tools (and prompts, resources, templates) at the first start; False for a
    #: caller's own connection to a server already listed (toolmesh.category.caller_clients).
    discover: bool = True
    tools: list[types.Tool] = field(default_factory=list)
    #: The server's prompts, resources and resource templates, listed at the first start when its
    #: capabilities advertise them (else empty).
    prompts: list[types.Prompt] = field(default_factory=list)
    resources: list[types.Resource] = field(default_factory=list)
    templates: list[types.ResourceTemplate] = field(default_factory=list)
    _described: bool = False
    _queue: asyncio.Queue[_Call | _Op | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _start_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
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
            raise ServerUnavailable(f"no answer within {START_TIMEOUT:g} s") from None
        if not self._alive:
            raise ServerUnavailable(describe(self._error) if self._error else "closed")

    @property
    def running(self) -> bool:
        return self._alive

    async def _own_client(self) -> None:
        try:
            async with self.connect() as client, asyncio.TaskGroup() as calls:
                if self.discover:
                    listed = await client.list_tools()
                    if not self.tools:  # the first start lists the tools; a restart keeps the list
                        self.tools = list(listed.tools)
                if self.discover and not self._described:
                    self.prompts, self.resources, self.templates = await _described(client)
                    self._described = True
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
                    if isinstance(call, _Op):
                        calls.create_task(self._run_op(client, call))
                    else:
                        call.task = calls.create_task(self._run(client, call))
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
        if call.future.done():  # its caller gave up while it waited in the queue
            return
        self._in_flight += 1
        try:
            # The session's call, not the Client's: a server's input_required result (MCP 2026-07-28)
            # comes back to the caller, who asks its own client and retries (docs/design/0018).
            result = await client.session.call_tool(
                call.name,
                call.arguments,
                read_timeout_seconds=self.timeout,
                progress_callback=call.progress,
                input_responses=call.resume.input_responses,  # wire form: the SDK validates it
                request_state=call.resume.request_state,
                allow_input_required=True,
            )
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:  # end the owner first: the next call starts the server again
                self._alive = False
                self._queue.put_nowait(None)
            if not call.future.done():
                call.future.set_exception(ServerUnavailable(f"{self.name}: {exc.message}"))
        except (httpx2.HTTPError, OSError) as exc:
            if not call.future.done():
                call.future.set_exception(ServerUnavailable(f"{self.name}: {describe(exc)}"))
        else:
            if not call.future.done():
                call.future.set_result(result)
        finally:
            self._in_flight -= 1
            if not call.future.done():
                call.future.set_exception(
                    ServerUnavailable(f"{self.name}: the server went away during the call")
                )

    async def _run_op(self, client: Client, op: _Op) -> None:
        """A request other than a tool call (:meth:`request`); the server's own MCP errors pass
        through as MCPError, its going away is ServerUnavailable."""
        self._in_flight += 1
        try:
            result = await op.run(client)
        except MCPError as exc:
            failure: Exception = exc
            if exc.code == CONNECTION_CLOSED:
                self._alive = False
                self._queue.put_nowait(None)
                failure = ServerUnavailable(f"{self.name}: {exc.message}")
            if not op.future.done():
                op.future.set_exception(failure)
        except (httpx2.HTTPError, OSError) as exc:
            if not op.future.done():
                op.future.set_exception(ServerUnavailable(f"{self.name}: {describe(exc)}"))
        else:
            if not op.future.done():
                op.future.set_result(result)
        finally:
            self._in_flight -= 1
            if not op.future.done():
                op.future.set_exception(
                    ServerUnavailable(f"{self.name}: the server went away during the request")
                )

    async def request(self, run: Callable[[Client], Awaitable[T]]) -> T:
        """``run`` with the server's client (a prompt got, a resource read), in the owner's task;
        starts the connection when needed. The server's MCP errors are raised as MCPError."""
        for _ in range(2):  # a request queued while the server went away was never sent: once more
            await self._start_if_needed()
            op = _Op(run, asyncio.get_running_loop().create_future())
            self._queue.put_nowait(op)
            try:
                return cast(T, await asyncio.wait_for(asyncio.shield(op.future), self.timeout + CALL_GRACE))
            except TimeoutError:
                raise ServerUnavailable(f"{self.name}: no answer within {self.timeout:g} s") from None
            except _NotRun:
                continue
        raise ServerUnavailable(f"{self.name}: the server went away")

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None = None,
        *,
        resume: Resumption | None = None,
    ) -> ToolAnswer:
        """Call the server's tool ``name`` (its own name); starts the connection when needed.

        ``progress`` is told each step the server reports (the SDK then asks for them). A caller
        that is cancelled cancels its call: the SDK tells the server (``notifications/cancelled``,
        or the closed stream under 2026-07-28). A server that needs input first answers
        ``InputRequiredResult``; the retry carries ``resume``.
        """
        resume = resume or Resumption()
        try:
            return await self._call_once(name, arguments, progress, resume)
        except _NotRun:  # queued while the server went away, never sent: safe to send again
            try:
                return await self._call_once(name, arguments, progress, resume)
            except _NotRun:
                raise ServerUnavailable(f"{self.name}: the server went away") from None

    async def _call_once(
        self, name: str, arguments: dict[str, Any] | None, progress: Progress | None, resume: Resumption
    ) -> ToolAnswer:
        await self._start_if_needed()
        call = _Call(
            name, dict(arguments or {}), asyncio.get_running_loop().create_future(), progress, resume
        )
        self._queue.put_nowait(call)
        try:
            return await asyncio.wait_for(asyncio.shield(call.future), self.timeout + CALL_GRACE)
        except TimeoutError:
            raise ServerUnavailable(f"{self.name}: no answer within {self.timeout:g} s") from None
        except asyncio.CancelledError:
            call.abandon()
            raise

    async def _start_if_needed(self) -> None:
        if self._stopped:
            raise ServerUnavailable(f"{self.name}: the server is stopped")
        if not self._alive:
            async with self._start_lock:  # concurrent first calls share one start
                if not self._alive and not self._stopped:
                    if self._task is not None:  # a previous owner is unwinding (idle, or the server died)
                        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                            await asyncio.wait_for(asyncio.shield(self._task), START_TIMEOUT)
                    await self.start()

    async def stop(self) -> None:
        self._stopped = True
        self._queue.put_nowait(None)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, START_TIMEOUT)


class _NotRun(Exception):
    """A queued call that was never sent because the server went away first."""


@dataclass(frozen=True)
class Resumption:
    """What a client sends back when it retries a call that answered ``input_required`` (MCP
    2026-07-28's multi-round-trip requests), in wire form: its answers and the server's state."""

    input_responses: dict[str, Any] | None = None
    request_state: str | None = None

    @classmethod
    def of(cls, params: Any) -> Resumption:
        """From a request's parameters (wire form: ``inputResponses``, ``requestState``)."""
        if not isinstance(params, dict):
            return cls()
        responses, state = params.get("inputResponses"), params.get("requestState")
        return cls(
            responses if isinstance(responses, dict) else None, state if isinstance(state, str) else None
        )

    def wire(self) -> dict[str, Any]:
        fields = {"inputResponses": self.input_responses, "requestState": self.request_state}
        return {k: v for k, v in fields.items() if v is not None}


#: A tool call's answer: its result, or the input the server needs first (MCP 2026-07-28).
ToolAnswer = types.CallToolResult | types.InputRequiredResult


def is_input_required(result: Any) -> bool:
    """Is a result in wire form an ``input_required`` answer (the server needs input first)?"""
    return isinstance(result, dict) and result.get("resultType") == "input_required"


def tool_answer(result: dict[str, Any]) -> ToolAnswer:
    """A tools/call result in wire form, typed (pydantic's ValidationError when it is neither)."""
    if is_input_required(result):
        return types.InputRequiredResult.model_validate(result)
    return types.CallToolResult.model_validate(result)


@dataclass
class _Call:
    name: str
    arguments: dict[str, Any]
    future: asyncio.Future[ToolAnswer]
    progress: Progress | None = None
    resume: Resumption = field(default_factory=Resumption)
    task: asyncio.Task[None] | None = None

    def abandon(self) -> None:
        """The caller is gone: never send the call, or cancel it where it runs."""
        self.future.cancel()
        if self.task is not None:
            self.task.cancel()


@dataclass
class _Op:
    run: Callable[[Client], Awaitable[Any]]
    future: asyncio.Future[Any]


async def _described(
    client: Client,
) -> tuple[list[types.Prompt], list[types.Resource], list[types.ResourceTemplate]]:
    """The prompts, resources and templates a server advertises (each list read page by page, bounded)."""
    capabilities = client.server_capabilities
    prompts: list[types.Prompt] = []
    resources: list[types.Resource] = []
    templates: list[types.ResourceTemplate] = []
    if capabilities.prompts is not None:
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_prompts(cursor=cursor)
            prompts.extend(page.prompts)
            if not (cursor := page.next_cursor):
                break
    if capabilities.resources is not None:
        cursor = None
        for _ in range(MAX_PAGES):
            listed = await client.list_resources(cursor=cursor)
            resources.extend(listed.resources)
            if not (cursor := listed.next_cursor):
                break
        cursor = None
        for _ in range(MAX_PAGES):
            found = await client.list_resource_templates(cursor=cursor)
            templates.extend(found.resource_templates)
            if not (cursor := found.next_cursor):
                break
    return prompts, resources, templates


def describe(exc: BaseException) -> str:
    """The innermost meaningful error, as one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
