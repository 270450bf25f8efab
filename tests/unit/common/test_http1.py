"""The hop's plain HTTP/1.1 client (toolmesh.common.http1) against real servers on loopback: aiohttp's
(what the category servers are), and raw ones for the framings and failures aiohttp never sends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from toolmesh.common import http1
from toolmesh.common.http1 import ConnectFailed, Origin, ProtocolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server that answers each connection with ``handle``; yields its URL and a list that
    counts connections (one entry per connection accepted)."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp", accepted
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


@asynccontextmanager
async def aiohttp_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/mcp", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"
    finally:
        await runner.cleanup()


async def test_answers_from_aiohttp_are_read_whole_and_one_connection_carries_them() -> None:
    seen: list[tuple[bytes, str | None, str | None]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((await request.read(), request.headers.get("Mcp-Method"), request.host))
        return web.json_response({"n": len(seen)}, headers={"X-Seen": str(len(seen))})

    async with aiohttp_server(echo) as url:
        origin = Origin(url)
        try:
            answers = [await origin.post(b'{"a":1}', {"Mcp-Method": "tools/call"}, 5) for _ in range(3)]
        finally:
            origin.close()
    assert [(a.status, a.content_type, a.body) for a in answers] == [
        (200, "application/json", b'{"n": %d}' % n) for n in (1, 2, 3)
    ]
    port = url.split(":")[2].split("/")[0]
    assert seen == [(b'{"a":1}', "tools/call", f"127.0.0.1:{port}")] * 3
    assert origin.idle == 0  # closed


async def test_a_chunked_answer_is_joined_and_its_connection_kept() -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for part in (b"data: one\n\n", b"", b"data: two\n\n"):
            await response.write(part)
        await response.write_eof()
        return response

    async with aiohttp_server(stream) as url:
        origin = Origin(url)
        try:
            first = await origin.post(b"{}", {}, 5)
            second = await origin.post(b"{}", {}, 5)
            assert origin.idle == 1
        finally:
            origin.close()
    assert first.content_type == "text/event-stream"
    assert first.body == second.body == b"data: one\n\ndata: two\n\n"


async def test_chunk_extensions_trailers_and_interim_answers_are_read_past() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Type: Application/JSON; charset=utf-8\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
        )
        await writer.drain()
        await reader.read()  # until the client closes

    async with raw_server(handle) as (url, _):
        origin = Origin(url)
        answer = await origin.post(b"{}", {}, 5)
        origin.close()
    assert (answer.status, answer.content_type, answer.body) == (201, "application/json", b"abc0123456789")


async def test_an_answer_that_ends_with_its_connection_is_read_to_the_end_and_not_reused() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"whole": true}')
        await writer.drain()

    async with raw_server(handle) as (url, accepted):
        origin = Origin(url)
        first = await origin.post(b"{}", {}, 5)
        second = await origin.post(b"{}", {}, 5)
        origin.close()
    assert first.body == second.body == b'{"whole": true}'
    assert len(accepted) == 2


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then closed by raw_server, though the answer said keep-alive

    async with raw_server(once) as (url, accepted):
        origin = Origin(url)
        await origin.post(b"{}", {}, 5)
        await asyncio.sleep(0.05)  # the close arrives
        assert (await origin.post(b"{}", {}, 5)).body == b"ok"
        origin.close()
    assert len(accepted) == 2


async def test_a_connection_idle_too_long_is_closed_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    monkeypatch.setattr(http1, "IDLE_SECONDS", 0.05)
    async with raw_server(keep_alive) as (url, accepted):
        origin = Origin(url)
        await origin.post(b"{}", {}, 5)
        await origin.post(b"{}", {}, 5)  # at once: the same connection
        await asyncio.sleep(0.1)
        await origin.post(b"{}", {}, 5)  # later than the idle bound: a new one
        origin.close()
    assert len(accepted) == 2


async def test_a_server_that_hangs_up_mid_answer_fails_that_request_only() -> None:
    calls: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            calls.append(1)
            if len(calls) == 1:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with raw_server(handle) as (url, _):
        origin = Origin(url)
        with pytest.raises(ProtocolError, match="closed the connection before its answer was complete"):
            await origin.post(b"{}", {}, 5)
        assert origin.idle == 0
        assert (await origin.post(b"{}", {}, 5)).body == b"ok"
        origin.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not a header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "is not a length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer coding 'gzip' is not read here"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "not a chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
            "does not end where",
        ),
    ],
)
async def test_an_answer_that_is_not_http_this_client_reads_is_a_protocol_error(
    answer: bytes, error: str
) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()

    async with raw_server(handle) as (url, _):
        origin = Origin(url)
        with pytest.raises(ProtocolError, match=error):
            await origin.post(b"{}", {}, 5)
        assert origin.idle == 0
        origin.close()


async def test_a_slow_answer_times_out_and_its_connection_is_not_reused() -> None:
    answered = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if not answered.is_set():
                await asyncio.sleep(0.3)  # too late for the first request
                answered.set()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate" if answered.is_set() else b"")
            await writer.drain()

    async with raw_server(handle) as (url, accepted):
        origin = Origin(url)
        with pytest.raises(TimeoutError):
            await origin.post(b"{}", {}, 0.1)
        await asyncio.wait_for(answered.wait(), 5)
        assert (await origin.post(b"{}", {}, 5)).body == b"late"
        origin.close()
    assert len(accepted) == 2  # the late answer went to a closed connection, not the next request


async def test_a_refused_connection_is_connect_failed_and_names_the_address() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        port = sock.getsockname()[1]
        origin = Origin(f"http://127.0.0.1:{port}/mcp")
        with pytest.raises(ConnectFailed) as raised:
            await origin.post(b"{}", {}, 5)
    assert (raised.value.host, raised.value.port) == ("127.0.0.1", port)
    assert isinstance(raised.value.os_error, ConnectionRefusedError)


async def test_no_more_connections_than_the_limit_are_open_at_once() -> None:
    open_now: list[int] = []
    most = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal most
        open_now.append(1)
        most = max(most, len(open_now))
        try:
            while True:
                await read_request(reader)
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        finally:
            open_now.pop()

    async with raw_server(handle) as (url, accepted):
        origin = Origin(url, limit=2)
        answers = await asyncio.gather(*(origin.post(b"{}", {}, 5) for _ in range(8)))
        origin.close()
    assert [a.body for a in answers] == [b"ok"] * 8
    assert most == 2
    assert len(accepted) == 2


@pytest.mark.parametrize(
    "headers", [{"X-Name": "a\r\nX-Injected: 1"}, {"X-Name": "a\nb"}, {"X-Bad\rName": "v"}, {"X-Name": "é€"}]
)
async def test_a_header_that_cannot_be_sent_as_it_is_sends_nothing(headers: dict[str, str]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with raw_server(handle) as (url, accepted):
        origin = Origin(url)
        with pytest.raises(ValueError, match=r"line break|can.t encode"):
            await origin.post(b"{}", headers, 5)
        origin.close()
    assert accepted == []


@pytest.mark.parametrize("url", ["https://127.0.0.1/mcp", "http:///mcp", "unix:/run/x"])
def test_only_plain_http_urls_with_a_host_are_taken(url: str) -> None:
    with pytest.raises(ValueError, match="an http:// URL with a host is needed"):
        Origin(url)
