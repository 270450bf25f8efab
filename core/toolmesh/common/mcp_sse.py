"""Progress on the way back: a request's response as an SSE stream, written and read.

Streamable HTTP lets a server answer a POST with ``text/event-stream``: notifications tied to the
request (``notifications/progress``), then the response, each one ``event: message`` whose data is
one JSON-RPC message. Both protocol generations use it the same way. toolmesh's servers answer with
a stream only when the request asked for progress (``_meta.progressToken``) and accepts the stream;
every other request keeps its one JSON answer, so the forwarding hot path is unchanged. The stream
is committed on the first notification: a call that reports nothing is answered as JSON, as the
SDK's own server does (docs/design/0018-protocol-passthrough.md).

Cancellation needs no message on this wire: a client that gives up closes the stream (MCP
2026-07-28), the server's handler is cancelled with its connection, and the hop behind it closes
its own request in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from aiohttp import web
from mcp.shared.dispatcher import ProgressFnT

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
PROGRESS = "notifications/progress"
#: Longest SSE event read from a server (one JSON-RPC message); a tool result can be large.
MAX_EVENT_BYTES = 64 * 1024 * 1024


#: Told of one progress step of a call: how far, out of how much (if known), and what it does (the
#: SDK's own callback type, so a client's callback and a server's report are interchangeable).
Progress = ProgressFnT


def wants_stream(accept: str) -> bool:
    """Does an ``Accept`` header take ``text/event-stream``?"""
    return any(part.split(";", 1)[0].strip().lower() == "text/event-stream" for part in accept.split(","))


def wants_progress(params: Any) -> bool:
    """Did a request (SDK-typed parameters) ask for progress (``_meta.progressToken``)?"""
    meta = getattr(params, "meta", None)
    return isinstance(meta, dict) and meta.get("progress_token", meta.get("progressToken")) is not None


def progress_params(
    token: str | int, progress: float, total: float | None, message: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"progressToken": token, "progress": progress}
    if total is not None:
        params["total"] = total
    if message is not None:
        params["message"] = message
    return params


def event(message: dict[str, Any]) -> bytes:
    """One JSON-RPC message as one SSE event."""
    return f"event: message\r\ndata: {json.dumps(message, separators=(',', ':'))}\r\n\r\n".encode()


class EventStream:
    """The response to one request that may send notifications before its answer.

    Nothing is written until the first notification; :meth:`answer` then ends the stream with the
    response, or, when nothing was sent, gives back a plain JSON response. Writes are serialised (a
    notification can arrive from another task while the answer is written); notifications after
    the answer, or to a client that has gone, are dropped.
    """

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._response: web.StreamResponse | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def committed(self) -> bool:
        return self._response is not None

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def send(self, message: dict[str, Any]) -> bool:
        """One message before the answer (a notification, a request to the client); was it sent?"""
        async with self._lock:
            if self._closed:
                return False
            try:
                await self._write(message)
            except (ConnectionError, RuntimeError):  # the client went away; its handler is cancelled
                self._closed = True
                return False
            return True

    async def comment(self, text: str) -> bool:
        """An SSE comment (a keep-alive), committing the stream; was it sent?"""
        async with self._lock:
            if self._closed:
                return False
            try:
                if self._response is None:
                    self._response = web.StreamResponse(status=200, headers=SSE_HEADERS)
                    await self._response.prepare(self._request)
                await self._response.write(f": {text}\r\n\r\n".encode())
            except (ConnectionError, RuntimeError):
                self._closed = True
                return False
            return True

    async def close(self) -> web.StreamResponse:
        """End a stream that has no answer of its own (a standing stream)."""
        async with self._lock:
            self._closed = True
            if self._response is None:
                return web.Response(status=204)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._response.write_eof()
            return self._response

    async def answer(self, message: dict[str, Any], status: int = 200) -> web.StreamResponse:
        """End the exchange with ``message``: the stream's last event, or a JSON response."""
        async with self._lock:
            self._closed = True
            if self._response is None:
                return web.Response(text=json.dumps(message), status=status, content_type="application/json")
            await self._response.write(event(message))
            await self._response.write_eof()
            return self._response

    async def _write(self, message: dict[str, Any]) -> None:
        if self._response is None:
            self._response = web.StreamResponse(status=200, headers=SSE_HEADERS)
            await self._response.prepare(self._request)
        await self._response.write(event(message))


async def lines(body: bytes) -> AsyncIterator[bytes]:
    """A whole SSE body's lines, for :func:`messages`."""
    for line in body.splitlines(keepends=True):
        yield line


async def messages(source: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The JSON-RPC messages of an SSE response's lines (an aiohttp response's ``content``, or
    :func:`lines`), in order; events without JSON data are skipped."""
    data: list[str] = []
    size = 0
    async for raw in source:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:  # an event ends
            if data:
                try:
                    message = json.loads("\n".join(data))
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    yield message
            data, size = [], 0
        elif line.startswith("data:"):
            size += len(line)
            if size > MAX_EVENT_BYTES:
                raise ValueError(f"an SSE event is larger than {MAX_EVENT_BYTES} bytes")
            data.append(line[5:].removeprefix(" "))
    # A stream that ends without a blank line after its last event still delivers it.
    if data:
        try:
            message = json.loads("\n".join(data))
        except ValueError:
            return
        if isinstance(message, dict):
            yield message


async def relay_progress(message: dict[str, Any], progress: Progress | None) -> None:
    """Pass one streamed notification's progress on (others are not relayed)."""
    params = message.get("params")
    if progress is None or message.get("method") != PROGRESS or not isinstance(params, dict):
        return
    value = params.get("progress")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    total = params.get("total")
    text = params.get("message")
    await progress(
        float(value),
        float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None,
        text if isinstance(text, str) else None,
    )


def reporter(stream: EventStream, token: str | int) -> Progress:
    """A :class:`Progress` that sends each step on ``stream`` under the caller's ``token``."""

    async def report(progress: float, total: float | None, message: str | None) -> None:
        await stream.notify(PROGRESS, progress_params(token, progress, total, message))

    return report
