"""The gateway's hop to toolmesh's own category servers: MCP 2026-07-28 stateless ``tools/call``
requests over kept-alive HTTP/1.1 connections.

The category servers answer each POST with one JSON-RPC response (``mcp_aiohttp.McpEndpoint``), so
a forwarded call needs no session, no SSE stream and no task group: the SDK's client machinery (its
anyio streams, the httpx2 transport, the owner task of :class:`~toolmesh.common.mcp_client.OwnedClient`)
was more than half of the gateway's CPU per forwarded call (py-spy, docs/design/0006). This client
builds the request and reads the answer with the SDK's own types, version registry, envelope keys
and header names, so the wire format stays the SDK's; it speaks only to servers that toolmesh
runs. Remote MCP servers (federation) keep the SDK's client.

A request to an ``http://`` server goes out on toolmesh.common.http1's plain connections (aiohttp's
client cost a sixth of the gateway's CPU per forwarded call: docs/design/0014); one that asks for
progress (its answer is relayed as it streams) or goes to an ``https://`` server goes through a
pooled aiohttp session.

A connection that cannot be established (refused: a pod is ready but its Service does not route
to it yet, or a rollout's old pod is gone) is tried again, with backoff, for a bounded time: the
request was never sent, so this is safe for any tool. A request that was sent is never sent again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from mcp import types
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    encode_header_value,
)
from mcp.types.version import LATEST_MODERN_VERSION
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from toolmesh.common import http1, mcp_sse, tracing
from toolmesh.common.http1 import ConnectFailed
from toolmesh.common.mcp_client import (
    Resumption,
    ServerUnavailable,
    ToolAnswer,
    is_input_required,
    tool_answer,
)
from toolmesh.common.mcp_sse import Progress

CLIENT_INFO = {"name": "toolmesh-gateway", "version": "0.1.0"}
#: Connections kept open to one category server.
POOL_SIZE = 64
#: Pause before the first retry of a connection that could not be established; it doubles each
#: time, up to the longest.
CONNECT_PAUSE_FIRST = 0.05
CONNECT_PAUSE_LONGEST = 1.0


class CategoryError(ServerUnavailable):
    """The category server answered with a JSON-RPC error: its code and data, kept for passing on."""

    def __init__(self, message: str, code: int, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.data = code, data


@dataclass
class CategoryClient:
    """``tools/call`` to one category server at ``url`` (its ``/mcp``); failures are ServerUnavailable."""

    name: str  # for messages
    url: str
    timeout: float
    #: Seconds a call keeps trying to establish its connection before it fails (0: one attempt).
    connect_retry: float = 0.0
    #: A ``time.monotonic()``: calls made before then keep trying until then instead (the deadline
    #: of a category waking from zero, whose Service may lag behind its pods' readiness).
    connect_until: float = 0.0
    #: Told of each retry: its number (1, 2, ...) and why the connection failed.
    on_connect_retry: Callable[[int, ConnectFailed], None] | None = None
    #: Tool calls under way, and when the last one began or ended (``time.monotonic()``): a category
    #: with a call still running is in use, however long ago it began (scale to zero asks).
    in_flight: int = 0
    last_active: float = field(default_factory=time.monotonic)
    _http: aiohttp.ClientSession | None = None
    _plain: http1.Origin | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def running(self) -> bool:
        return True  # stateless: there is no connection to keep alive

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        meta: dict[str, Any] | None = None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
    ) -> ToolAnswer:
        """Call the server's tool ``name``; ``meta`` joins the request's ``_meta`` (this call only);
        ``progress`` is told each step the server reports (the request then asks for them);
        ``resume`` answers the ``input_required`` a previous round returned."""
        result = await self.call_wire(name, arguments, meta, progress, resume)
        try:
            return tool_answer(result)
        except ValidationError:
            raise ServerUnavailable(f"{self.name}: not a tools/call result") from None

    async def call_wire(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        meta: dict[str, Any] | None = None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
    ) -> dict[str, Any]:
        """:meth:`call`'s result as the server sent it (JSON), for a caller that passes it on and
        has it validated there (the forwarding fast path); its ``serverInfo`` stamp is dropped: the
        server that passes it on stamps its own."""
        envelope = _envelope(meta)
        if progress is not None:  # any token will do: it names this one request on this one stream
            envelope["progressToken"] = 1
        params = {"name": name, "arguments": arguments or {}, "_meta": envelope}
        if resume is not None:
            params |= resume.wire()
        self.in_flight += 1
        try:
            status, result = await self._request("tools/call", params, name, progress)
        finally:
            self.in_flight -= 1
            self.last_active = time.monotonic()
        if not isinstance(result, dict) or not (
            isinstance(result.get("content"), list) or is_input_required(result)
        ):
            raise ServerUnavailable(f"{self.name}: HTTP {status}, not a tools/call result")
        meta_out = result.get("_meta")
        if isinstance(meta_out, dict) and types.SERVER_INFO_META_KEY in meta_out:
            rest = {k: v for k, v in meta_out.items() if k != types.SERVER_INFO_META_KEY}
            result = {k: v for k, v in result.items() if k != "_meta"} | ({"_meta": rest} if rest else {})
        return result

    async def list_tools(self) -> list[dict[str, Any]]:
        """The server's tools, in wire form (one page: toolmesh's servers list every tool at once)."""
        status, result = await self._request("tools/list", {"_meta": _envelope(None)}, None)
        listed = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(listed, list):
            raise ServerUnavailable(f"{self.name}: HTTP {status}, not a tools/list result")
        return [t for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str)]

    async def request_wire(self, method: str, params: dict[str, Any], name: str | None = None) -> Any:
        """Any other request (``prompts/get``, ``resources/read``, ...): its result as sent; ``name``
        is what the method's ``Mcp-Name`` header carries (a prompt's name, a resource's URI)."""
        return (await self._request(method, {**params, "_meta": _envelope(None)}, name))[1]

    async def _request(
        self, method: str, params: dict[str, Any], name: str | None, progress: Progress | None = None
    ) -> tuple[int, Any]:
        """One request's HTTP status and JSON-RPC result, in a client span whose trace context
        travels in the request's ``_meta`` and headers (tracing on)."""
        if not tracing.enabled():
            return await self._send(method, params, name, {}, progress)
        span_name = f"{method} {name}" if name is not None else method
        with tracing.span(span_name, tracing.mcp_client_attributes(method, name, self.url), SpanKind.CLIENT):
            carried: dict[str, str] = {}
            tracing.outgoing(carried)
            params["_meta"] = {**params.get("_meta", {}), **carried}
            return await self._send(method, params, name, carried, progress)

    async def _send(
        self,
        method: str,
        params: dict[str, Any],
        name: str | None,
        extra: dict[str, str],
        progress: Progress | None,
    ) -> tuple[int, Any]:
        """:meth:`_request` itself: a connection refused is tried again until the deadline (nothing
        was sent), anything else fails at once."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            MCP_PROTOCOL_VERSION_HEADER: LATEST_MODERN_VERSION,
            MCP_METHOD_HEADER: method,
            **extra,
        }
        if name is not None:
            headers[MCP_NAME_HEADER] = encode_header_value(name)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        started = time.monotonic()
        deadline = self.connect_until if started < self.connect_until else started + self.connect_retry
        pause, attempt = CONNECT_PAUSE_FIRST, 0
        while True:
            try:
                return await self._post(data, headers, progress)
            except ConnectFailed as exc:  # never connected, so nothing was sent
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerUnavailable(
                        self._unreachable(exc, attempt + 1, time.monotonic() - started)
                    ) from None
                attempt += 1
                if self.on_connect_retry is not None:
                    self.on_connect_retry(attempt, exc)
                await asyncio.sleep(min(pause, left))
                pause = min(2 * pause, CONNECT_PAUSE_LONGEST)

    async def _post(self, data: bytes, headers: dict[str, str], progress: Progress | None) -> tuple[int, Any]:
        """One attempt; a :class:`ConnectFailed` (nothing sent) is left to the caller, to retry. An
        SSE answer's progress notifications go to ``progress``; its last message is the answer."""
        if progress is None and self.url.startswith("http://"):
            return await self._post_plain(data, headers)
        try:
            async with self._session().post(
                self.url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,  # a connection failure is then always before anything was sent
            ) as response:
                status = response.status
                if response.content_type == "text/event-stream":
                    return status, await self._streamed(status, response.content, progress)
                raw = await response.read()
        except aiohttp.ClientSSLError as exc:  # a certificate does not get better by retrying
            raise ServerUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(exc.host, exc.port or 0, exc.os_error) from None
        except TimeoutError:
            raise ServerUnavailable(f"{self.name}: no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise ServerUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from None
        return status, self._result(status, raw)

    async def _post_plain(self, data: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """:meth:`_post` on a plain connection (http1), for a request whose answer is read whole."""
        if self._plain is None:
            self._plain = http1.Origin(self.url, POOL_SIZE)
        try:
            answer = await self._plain.post(data, headers, self.timeout)
        except ConnectFailed:
            raise
        except TimeoutError:
            raise ServerUnavailable(f"{self.name}: no answer within {self.timeout:g} s") from None
        except (http1.ProtocolError, ValueError) as exc:
            raise ServerUnavailable(f"{self.name}: {exc}") from None
        except OSError as exc:  # the connection broke (reset)
            raise ServerUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if answer.content_type == "text/event-stream":  # the server streamed its answer anyway
            return answer.status, await self._streamed(answer.status, mcp_sse.lines(answer.body), None)
        return answer.status, self._result(answer.status, answer.body)

    async def _streamed(self, status: int, lines: AsyncIterable[bytes], progress: Progress | None) -> Any:
        """The answer at the end of an SSE stream, its progress notifications passed on first."""
        async for message in mcp_sse.messages(lines):
            if "method" in message:
                await mcp_sse.relay_progress(message, progress)
            elif "result" in message or "error" in message:
                return self._message(status, message)
        raise ServerUnavailable(f"{self.name}: the stream ended without an answer")

    def _unreachable(self, exc: ConnectFailed, attempts: int, seconds: float) -> str:
        error = exc.os_error
        reason = os.strerror(error.errno) if error.errno and error.errno > 0 else str(error.strerror or error)
        tried = f" ({attempts} attempts in {seconds:.1f} s)" if attempts > 1 else ""
        return f"{self.name}: cannot connect to {exc.host}:{exc.port}: {reason}{tried}"

    def _result(self, status: int, raw: bytes) -> Any:
        try:
            message = json.loads(raw)
        except ValueError:
            raise ServerUnavailable(f"{self.name}: HTTP {status} without a JSON-RPC answer") from None
        return self._message(status, message)

    def _message(self, status: int, message: Any) -> Any:
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            error = types.ErrorData.model_validate(message["error"])
            raise CategoryError(f"{self.name}: {error.message}", error.code, error.data)
        if not isinstance(message, dict) or "result" not in message:
            raise ServerUnavailable(f"{self.name}: HTTP {status}, not a JSON-RPC result")
        return message["result"]

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL_SIZE, enable_cleanup_closed=True),
                auto_decompress=False,
            )
        return self._http

    async def stop(self) -> None:
        if self._plain is not None:
            self._plain.close()
            self._plain = None
        if self._http is not None:
            await self._http.close()
            self._http = None


def _envelope(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A stateless request's ``_meta``: the protocol version, who asks, and ``meta`` (one call's)."""
    return {
        types.PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
        types.CLIENT_INFO_META_KEY: CLIENT_INFO,
        types.CLIENT_CAPABILITIES_META_KEY: {},
        **(meta or {}),
    }
