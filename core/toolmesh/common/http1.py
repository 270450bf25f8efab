"""HTTP/1.1 POSTs to one ``http://`` origin over kept-alive connections: the gateway's hop to its
own category servers, without aiohttp's client machinery.

aiohttp's client spends about 100 us of CPU per request on what this hop never uses (its request
object, URL joining, cookie jar, trace hooks, timers, redirect and proxy handling): 146 us per
call against 46 us for a request written and read on asyncio's streams, a sixth of what the
gateway spends on a forwarded call (docs/design/0014-forwarding-fast-path.md). This module is that
plain request, kept deliberately small: it talks only to toolmesh's own category servers (aiohttp
servers), ``http://`` only, one request at a time per connection (no pipelining), no redirects,
proxies, cookies or compression. A response is framed by ``Content-Length``, by the chunked
transfer coding (an SSE answer) or by the connection's end. TLS and anything else go through
aiohttp's client (toolmesh.common.mcp_forward decides).

A connection goes back to the pool only after a whole response was read on it and neither side
asked to close it; one that failed, timed out or was cancelled mid-request is closed, so a pooled
connection never holds the rest of an earlier answer. A connection idle longer than
:data:`IDLE_SECONDS`, or that the server closed while idle (end of stream), is closed, not used.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

#: The longest status line plus headers read (asyncio's StreamReader limit).
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a connection is kept idle before it is closed rather than used: well inside the server's
#: own keep-alive (aiohttp's 75 s), so a request never races the server closing it (aiohttp's
#: client keeps 15 s too).
IDLE_SECONDS = 15.0
HEX_DIGITS = b"0123456789abcdefABCDEF"


class ConnectFailed(Exception):
    """No connection could be made to ``host:port``, so nothing was sent: safe to try again."""

    def __init__(self, host: str, port: int, os_error: OSError) -> None:
        super().__init__(f"cannot connect to {host}:{port}: {os_error}")
        self.host, self.port, self.os_error = host, port, os_error


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 this client can read, or the connection ended inside it."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    #: The media type, lower-case, without its parameters (``application/json``).
    content_type: str
    body: bytes


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Origin:
    """POSTs to one ``http://host:port/path``, with at most ``limit`` connections open at a time."""

    def __init__(self, url: str, limit: int = 64) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{url!r}: an http:// URL with a host is needed")
        self.host = parts.hostname
        self.port = parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._start = f"POST {target} HTTP/1.1\r\nHost: {host}:{self.port}\r\n"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def post(self, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        """One request and its whole answer within ``timeout`` seconds (connecting included).

        Raises :class:`ConnectFailed` (nothing was sent), :class:`ProtocolError`, ``OSError`` (the
        connection broke), ``TimeoutError``, or ``ValueError`` for a header that cannot be sent
        (nothing was)."""
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
            raise ValueError("a header name or value holds a line break")  # never a second request
        message = f"{self._start}{fields}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        async with asyncio.timeout(timeout), self._slots:  # waiting for a connection counts too
            reader, writer = await self._connection()
            reusable = False
            try:
                writer.write(message)
                await writer.drain()
                answer, reusable = await _read(reader)
                return answer
            except asyncio.IncompleteReadError:
                raise ProtocolError(
                    "the server closed the connection before its answer was complete"
                ) from None
            except asyncio.LimitOverrunError:
                raise ProtocolError(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes") from None
            finally:
                if reusable and not self._closed:
                    self._idle.append((reader, writer, time.monotonic()))
                else:
                    writer.close()

    async def _connection(self) -> Connection:
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < IDLE_SECONDS and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()  # idle too long, or the server closed it meanwhile
        try:
            return await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES)
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise ConnectFailed(self.host, self.port, exc) from None

    @property
    def idle(self) -> int:
        """Connections open and waiting for a request."""
        return len(self._idle)

    def close(self) -> None:
        """Close the idle connections; those in use close when their request ends."""
        self._closed = True
        while self._idle:
            self._idle.pop()[1].close()


async def _read(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    """One response, and whether its connection can carry another request."""
    while True:
        status, headers, keep = _head(await reader.readuntil(b"\r\n\r\n"))
        if status >= 200:
            break  # 1xx: an interim answer; the real one follows
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.rsplit(",", 1)[-1].strip().lower() != "chunked":
            raise ProtocolError(f"transfer coding {coding!r} is not read here")
        return Answer(status, media, await _chunked(reader)), keep
    length = headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.isdigit()):
            raise ProtocolError(f"Content-Length {length!r} is not a length")
        return Answer(status, media, await reader.readexactly(int(length))), keep
    if status in (204, 304):
        return Answer(status, media, b""), keep
    return Answer(status, media, await reader.read()), False  # the body ends with the connection


def _head(raw: bytes) -> tuple[int, dict[str, str], bool]:
    lines = raw[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    close = "close" in headers.get("connection", "").lower()
    return int(code), headers, version == "HTTP/1.1" and not close


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(HEX_DIGITS):
            raise ProtocolError(f"not a chunk size: {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ProtocolError("a chunk does not end where its size says")
        parts.append(chunk[:-2])
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, if any: not used
        pass
    return b"".join(parts)
