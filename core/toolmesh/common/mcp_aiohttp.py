"""MCP Streamable HTTP served from aiohttp, by driving the official SDK's per-request kernel.

Stateless and JSON-response: each POST carries one JSON-RPC request and gets one JSON answer. MCP
2026-07-28 requests carry their own envelope (``MCP-Protocol-Version`` and ``_meta``), which the SDK
classifies; the 2025 revisions are served statelessly (``initialize`` is answered by the kernel; the
session id it issues is only a name for cancelling, ``mcp_cancel``, never state). This is the fastest correct bridge measured on these machines (about 1.1 ms
per ``tools/call`` against 1.4 to 2.2 ms through the SDK's own Starlette app; docs/design/0004),
and it needs no ASGI adapter. It uses ``serve_one`` and ``Connection``, which the SDK lists in its
modules' ``__all__`` but does not document, so ``mcp`` is pinned to a minor version and a test
drives this bridge with the SDK's own client in both protocol generations.

Before the SDK sees a message, the transport refuses what a browser or a hostile client could send
(the MCP transport spec's DNS-rebinding rule, docs/design/security.md): an ``Origin`` that is neither
the server's own nor allow-listed (403; clients outside browsers send none and pass), a body that is
not ``application/json`` (415), JSON nested deeper than :data:`MAX_DEPTH` and a message without an
``id`` that is not a notification (JSON-RPC errors, never a 500 or a silent 202).

A request that asks for progress (``_meta.progressToken``) and accepts ``text/event-stream`` is
answered as an SSE stream once the handler reports a step (``mcp_sse``: notifications tied to the
request, then the response; a handler that reports nothing is still answered with JSON). An
``input_required`` result (2026-07-28) passes as it is, and a 2025 client is told instead that the
tool needs input it cannot take (``mcp_results.for_version``). What it does not do: server-to-client requests, ``subscriptions/listen``. Authentication belongs to
middleware in front of the route.

The forwarding hot path (``fast_call``): a ``tools/call`` that a server only forwards can skip the
kernel (its per-request runner, context, middleware and result model) and hand back the result in
wire form. The SDK's types still decide what is valid: the request passes the same per-version
surface validation (``mcp_types.methods.validate_client_request``), and the
result the same per-version sieve (``serialize_server_result``), ``resultType`` and ``serverInfo``
stamp as the kernel gives it; anything the hook declines, or any request that does not validate, goes
to the kernel, which answers it as before (docs/design/0014-forwarding-fast-path.md).

Both run in the caller's trace context, from the request's ``_meta`` or its ``traceparent`` header
(toolmesh.common.tracing; nothing is read while tracing is off).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.subscriptions import SubscriptionBus
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
)
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.shared.transport_context import TransportContext
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    SERVER_INFO_META_KEY,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from mcp_types import methods
from pydantic import BaseModel, ValidationError

from toolmesh.common import tracing
from toolmesh.common.mcp_backchannel import Questions, asking, is_answer
from toolmesh.common.mcp_cancel import SESSION_HEADER, CancelledByPeer, InFlight, new_session
from toolmesh.common.mcp_client import Resumption
from toolmesh.common.mcp_events import keep_alive, standing_stream
from toolmesh.common.mcp_results import for_version
from toolmesh.common.mcp_sse import EventStream, Progress, progress_params, reporter, wants_stream

LEGACY_DEFAULT_VERSION = "2025-03-26"  # what a 2025 client that sends no version header speaks
#: Deepest JSON nesting accepted in a message (arrays and objects); tool arguments need far less.
MAX_DEPTH = 64
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: The error a request cancelled by its client is answered with (no MCP code exists; LSP's).
REQUEST_CANCELLED = -32800


@dataclass(frozen=True)
class OriginPolicy:
    """Which browser origins may POST to the MCP route, and which ``Host`` names a server on
    loopback answers at all (DNS-rebinding defence).

    A page whose name an attacker rebinds to this server's address is same-origin with itself, not
    with this server, so the ``Origin`` is checked against names configured here, never against
    the request's own ``Host``. A request without ``Origin`` (every client outside a browser) passes.
    Such a page's GETs carry no ``Origin`` but its own name as ``Host``: a server listening on
    loopback (``toolmesh dev``) answers only its loopback names there (:func:`host_guard`); one
    listening beyond it is reached under names it cannot know and checks no ``Host``.
    """

    #: Host names that are the server's own, on the port the request arrived at (any scheme).
    own_hosts: frozenset[str] = frozenset()
    #: Origins allowed besides: ``scheme://host[:port]``, ``scheme://host:*`` for any port, or ``*``.
    allowed: frozenset[str] = frozenset()
    #: Origins that are the server's own wherever it listens (its public URL's).
    own_origins: frozenset[str] = frozenset()
    #: Host names the ``Host`` header may carry; empty: any.
    hosts: frozenset[str] = frozenset()

    @classmethod
    def for_server(
        cls,
        host: str,
        allowed: Iterable[str] = (),
        public_url: str | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> OriginPolicy:
        """The policy of a server bound to ``host``: its own names, loopback's when it listens there."""
        own = {host.strip("[]").lower()} if host else set()
        if not host or _unspecified_or_loopback(host):
            own |= LOOPBACK_NAMES
        own.discard("")
        own_origins = frozenset({_origin_of(public_url)} if public_url else ())
        hosts: frozenset[str] = frozenset()
        if _loopback(host):
            public_host = urlsplit(public_url).hostname if public_url else None
            hosts = frozenset(
                {*own, *(h.lower() for h in allowed_hosts), *([public_host] if public_host else [])}
            )
        return cls(frozenset(own), frozenset(a.rstrip("/").lower() for a in allowed), own_origins, hosts)

    def permits_host(self, host: str | None) -> bool:
        if not self.hosts:
            return True
        try:
            name = urlsplit("//" + (host or "")).hostname
        except ValueError:
            return False
        return name is not None and name in self.hosts

    def permits(self, origin: str, local_port: int | None) -> bool:
        origin = origin.lower()
        if "*" in self.allowed or origin in self.allowed or origin in self.own_origins:
            return True
        parts = urlsplit(origin)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if parts.hostname in self.own_hosts and port == local_port:
            return True
        base = f"{parts.scheme}://{parts.netloc.rsplit(':', 1)[0] if parts.port else parts.netloc}"
        return base + ":*" in self.allowed


def host_guard(policy: OriginPolicy) -> Middleware:
    """aiohttp middleware: 421 for a request whose ``Host`` the server does not answer (every route)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not policy.permits_host(request.headers.get("Host")):
            return web.Response(
                status=421,
                text="This server listens on loopback and answers only its loopback names "
                "(or its allowed hosts setting)",
            )
        return await handler(request)

    return guard


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _unspecified_or_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() == "localhost"
    return address.is_unspecified or address.is_loopback


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _too_deep(value: Any, limit: int) -> bool:
    """Does ``value`` nest arrays and objects deeper than ``limit``? (Iterative: no recursion to exhaust.)"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _local_port(request: web.Request) -> int | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


@dataclass
class _OneShotDispatchContext:
    """Structurally a ``mcp.shared.dispatcher.DispatchContext`` with no back-channel."""

    transport: TransportContext
    request_id: Any
    message_metadata: Any = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False
    #: The caller's progress token and the stream its steps go on (None: a JSON answer, steps dropped).
    progress_token: str | int | None = None
    stream: EventStream | None = None

    async def send_raw_request(self, method: str, params: Any, opts: Any = None) -> Any:
        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Any, opts: Any = None) -> None:
        if self.stream is not None:  # JSON-response mode drops notifications tied to the request
            await self.stream.notify(method, dict(params or {}))

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is not None:
            await self.notify(
                "notifications/progress", progress_params(self.progress_token, progress, total, message)
            )


def _payload(message: BaseModel) -> dict[str, Any]:
    payload = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(message, JSONRPCError):
        payload.setdefault("id", None)  # JSON-RPC 2.0: an error about an unreadable request has id null
    return payload


def _reply(message: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(_payload(message)), status=status, content_type="application/json")


async def _answer(stream: EventStream | None, message: BaseModel, status: int = 200) -> web.StreamResponse:
    """``message`` as the end of the request's stream, or as JSON when there is none."""
    if stream is None:
        return _reply(message, status)
    return await stream.answer(_payload(message), status)


def _error(request_id: Any, code: int, message: str, data: Any = None) -> web.Response:
    error = JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message, data=data))
    return _reply(error, ERROR_CODE_HTTP_STATUS.get(code, 200))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The forwarding hot path: a tool's name, its arguments, where its progress goes (None: the
#: caller asked for none) and the answers of a retried ``input_required`` round -> its result in
#: wire form (a CallToolResult or InputRequiredResult as JSON), or None to leave the request to the
#: SDK's kernel.
FastCall = Callable[[str, dict[str, Any], Progress | None, Resumption], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent one request: its protocol version, and the envelope a 2026-07-28 request carries.
    The SDK's :class:`Connection` (three pydantic validations) is built only for the kernel: the
    fast path needs the version alone."""

    version: str
    info: Any = None
    capabilities: Any = None

    def connection(self) -> Connection:
        return Connection.from_envelope(self.version, self.info, self.capabilities)


@dataclass
class McpEndpoint:
    """One MCP server behind one aiohttp route. Add :meth:`lifespan` to the app's ``cleanup_ctx``."""

    server: Server[Any]
    #: Browser origins allowed besides none at all; the default allows no ``Origin``.
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    #: Answers the tools/call requests it takes without the kernel (see the module's docstring).
    fast_call: FastCall | None = None
    _state: Any = None
    #: Where list changes are published (mcp_events); None: no standing GET stream is served.
    events: SubscriptionBus | None = None
    _in_flight: InFlight = field(default_factory=InFlight)
    _questions: Questions = field(default_factory=Questions)
    #: The server's identity as 2026-07-28 results carry it, dumped once: the SDK's property
    #: deep-copies it on every read, which a forwarded call paid for nothing (only serialised).
    _server_info: dict[str, Any] | None = None

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        async with self.server.lifespan(self.server) as state:
            self._state = state
            yield

    async def handle(self, request: web.Request) -> web.StreamResponse:
        standing = request.method == "GET" and self._serves_standing_stream(request)
        if request.method != "POST" and not standing:
            return web.Response(
                status=405, headers={"Allow": "POST"}, text="MCP over Streamable HTTP: POST JSON-RPC here"
            )
        origin = request.headers.get("Origin")
        if origin is not None and not self.origins.permits(origin, _local_port(request)):
            return web.Response(
                status=403,
                text=f"Origin {origin!r} is not allowed to call this MCP server: add it to the server's "
                "allowed origins setting if it should be",
            )
        if standing and self.events is not None:  # a 2025 session's list changes (mcp_events)
            return await standing_stream(request, self.events)
        if not _is_json(request.headers.get("Content-Type", "")):
            return web.Response(status=415, text="MCP messages are POSTed as Content-Type: application/json")
        try:
            decoded = json.loads(await request.read())
        except (ValueError, RecursionError):
            return _error(None, PARSE_ERROR, "Parse error: the body is not a JSON document")
        if _too_deep(decoded, MAX_DEPTH):
            return _error(None, INVALID_REQUEST, f"The message nests deeper than {MAX_DEPTH} levels")
        if isinstance(decoded, dict) and "id" not in decoded:
            method = decoded.get("method")
            if (
                decoded.get("jsonrpc") == "2.0"
                and isinstance(method, str)
                and method.startswith("notifications/")
            ):
                if method == "notifications/cancelled":  # a 2025 client's, in its session (mcp_cancel)
                    self._in_flight.cancel(request.headers.get(SESSION_HEADER), decoded.get("params"))
                return web.Response(status=202)  # a notification: acknowledged
            return _error(
                None, INVALID_REQUEST, "A request needs an id: only notifications (notifications/*) have none"
            )
        if is_answer(decoded):  # a 2025 client's answer to a question a call asked it (mcp_backchannel)
            self._questions.answer(request.headers.get(SESSION_HEADER), decoded)
            return web.Response(status=202)
        try:
            rpc = JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            return _error(None, INVALID_REQUEST, "The body must be a single JSON-RPC request")
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            # aiohttp's headers are case-insensitive already: the ladder's lower-case names find them
            route = classify_inbound_request(decoded, headers=request.headers)
            if isinstance(route, InboundLadderRejection):
                return _error(rpc.id, route.code, route.message, route.data)
            caller = Caller(route.protocol_version, route.client_info, route.client_capabilities)
        else:
            caller = Caller(version or LEGACY_DEFAULT_VERSION)
            if rpc.method == "initialize":
                answer = await self._traced(request, rpc, caller)
                if not answer.prepared:
                    answer.headers[SESSION_HEADER] = new_session()
                return answer
            session = request.headers.get(SESSION_HEADER)
            if session is not None:  # cancellable, and questions can be put to the client on its stream
                stream = EventStream(request) if wants_stream(request.headers.get("Accept", "")) else None
                ask = self._questions.asker(session, stream) if stream is not None else None
                try:
                    with asking(ask):
                        work = self._traced(request, rpc, caller, stream)
                        return await self._in_flight.run(session, rpc.id, work)
                except CancelledByPeer:  # the client has forgotten the request: this answer is for the log
                    return _error(rpc.id, REQUEST_CANCELLED, "The client cancelled the request")
        return await self._traced(request, rpc, caller)

    async def _traced(
        self,
        request: web.Request,
        rpc: JSONRPCRequest,
        caller: Caller,
        stream: EventStream | None = None,
    ) -> web.StreamResponse:
        """:meth:`_dispatch` in the caller's trace context (tracing on)."""
        if tracing.enabled():
            meta = rpc.params.get("_meta") if isinstance(rpc.params, dict) else None
            with tracing.attached(
                tracing.incoming(request.headers, meta if isinstance(meta, dict) else None)
            ):
                return await self._dispatch(request, rpc, caller, stream)
        return await self._dispatch(request, rpc, caller, stream)

    async def _dispatch(
        self,
        request: web.Request,
        rpc: JSONRPCRequest,
        caller: Caller,
        stream: EventStream | None = None,
    ) -> web.StreamResponse:
        """One valid request's answer: forwarded by the fast path, or served by the SDK's kernel.
        ``stream``: the answer's stream when the caller already made one (a 2025 session's)."""
        token = progress_token_from_params(rpc.params)
        if stream is None and token is not None and wants_stream(request.headers.get("Accept", "")):
            stream = EventStream(request)
        if rpc.method == "subscriptions/listen":  # the answer is the stream of list changes (mcp_events)
            if not wants_stream(request.headers.get("Accept", "")):
                return web.Response(
                    status=406, text="subscriptions/listen is answered with text/event-stream"
                )
            stream = stream or EventStream(request)
        if self.fast_call is not None and rpc.method == "tools/call":
            fast = await self._fast(rpc, caller.version, stream, token)
            if fast is not None:
                return fast
        transport = TransportContext(
            kind="streamable-http", can_send_request=False, headers=dict(request.headers)
        )
        dctx = _OneShotDispatchContext(transport, rpc.id, progress_token=token, stream=stream)
        pinging = asyncio.create_task(keep_alive(stream)) if rpc.method == "subscriptions/listen" else None
        try:
            result = await serve_one(
                self.server,
                dctx,
                rpc.method,
                rpc.params,
                connection=caller.connection(),
                lifespan_state=self._state,
            )
        except Exception as exc:  # the SDK maps its own errors; anything else becomes -32603
            err = modern_error_data(exc)
            failure = JSONRPCError(jsonrpc="2.0", id=rpc.id, error=err)
            return await _answer(stream, failure, ERROR_CODE_HTTP_STATUS.get(err.code, 200))
        finally:
            if pinging is not None:
                pinging.cancel()
        return await _answer(stream, JSONRPCResponse(jsonrpc="2.0", id=rpc.id, result=result))

    def _stamp(self) -> dict[str, Any]:
        """The ``serverInfo`` stamp of a fast-path result; shared, so never mutated."""
        if self._server_info is None:
            self._server_info = self.server.server_info_stamp
        return self._server_info

    def _serves_standing_stream(self, request: web.Request) -> bool:
        """A GET this endpoint answers: a 2025 session's standing stream, when it has list changes
        to tell (``events``)."""
        return (
            self.events is not None
            and request.headers.get(SESSION_HEADER) is not None
            and wants_stream(request.headers.get("Accept", ""))
        )

    async def _fast(
        self, rpc: JSONRPCRequest, version: str, stream: EventStream | None, token: str | int | None
    ) -> web.StreamResponse | None:
        """A tools/call answered by ``fast_call``, shaped as the kernel shapes it; None to leave it
        to the kernel (the hook declined, or the request is not valid: the kernel says how)."""
        assert self.fast_call is not None
        try:  # the version's surface types every parameter: a valid request has a string name
            methods.validate_client_request("tools/call", version, rpc.params)
        except (ValidationError, KeyError, ValueError):
            return None
        params = rpc.params or {}
        progress = reporter(stream, token) if stream is not None and token is not None else None
        raw = await self.fast_call(
            params["name"], params.get("arguments") or {}, progress, Resumption.of(params)
        )
        if raw is None:
            return None
        raw = for_version(raw, version in MODERN_PROTOCOL_VERSIONS)
        try:
            wire = methods.serialize_server_result("tools/call", version, raw)
        except ValidationError:  # a bug of ours, as the kernel words it (the detail echoes the body)
            error = ErrorData(code=INTERNAL_ERROR, message="Handler returned an invalid result")
            return await _answer(stream, JSONRPCError(jsonrpc="2.0", id=rpc.id, error=error))
        if version in MODERN_PROTOCOL_VERSIONS:
            wire.setdefault("resultType", "complete")
            meta = wire.get("_meta")
            if meta is None or (isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None):
                wire["_meta"] = {**(meta or {}), SERVER_INFO_META_KEY: self._stamp()}
        body = {"jsonrpc": "2.0", "id": rpc.id, "result": wire}
        if stream is not None:
            return await stream.answer(body)
        return web.Response(text=json.dumps(body), content_type="application/json")
