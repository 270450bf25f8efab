"""What the gateway's HTTP machinery alone costs per forwarded call. Prints figures; asserts nothing.

    python bench/http_floor.py [--requests N] [--concurrency C] [--rounds R]

A forwarder between a load client and a backend, each its own process on loopback, does what the
gateway's hop does with no MCP in it: reads a JSON POST, decodes it, sends it on to the backend over
a kept-alive connection, decodes the answer, encodes it again and answers. Printed: the forwarder's
CPU per request (user + system, its own process only), for

- **aiohttp + http1**: an aiohttp ``Application`` with two pass-through middlewares (the gateway
  has two: the Host/Origin guard and authentication) and toolmesh's own hop client
  (``toolmesh.common.http1.Origin``), as the gateway serves a forwarded ``tools/call`` today;
- **bare protocols**: ``asyncio.Protocol`` on both sides, parsing only what this exchange needs
  (``Content-Length`` framing): a floor for any HTTP server written in Python on asyncio, not a
  server anyone should run;
- each again on uvloop's event loop, when uvloop is importable (it is not a toolmesh dependency).

The load client and the backend are the same for every row (bare sockets on threads; a backend
answering a fixed body), so only the forwarder differs. docs/design/0014 uses these figures to say
where the gateway's 0.5 ms budget per forwarded call can and cannot come from.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import cpu_seconds
from toolmesh.testing.cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
REQUEST = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1, "b": 2}},
    }
).encode()
ANSWER = json.dumps(
    {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "3"}], "isError": False}}
).encode()
LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)\s*$")


def frame(data: bytearray) -> bytes | None:
    """One whole message's body taken off the front of ``data``; None: not whole yet."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    match = LENGTH.search(data, 0, end)
    size = int(match.group(1)) if match else 0
    if len(data) < end + 4 + size:
        return None
    body = bytes(data[end + 4 : end + 4 + size])
    del data[: end + 4 + size]
    return body


def response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (
        len(body),
        body,
    )


def post(body: bytes) -> bytes:
    head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body


class Backend(asyncio.Protocol):
    """Answers every request with :data:`ANSWER`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.data = bytearray()

    def data_received(self, data: bytes) -> None:
        self.data += data
        while frame(self.data) is not None:
            self.transport.write(response(ANSWER))


class Upstream(asyncio.Protocol):
    """The bare forwarder's kept-alive connection to the backend: one request at a time."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.data = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self.data += data
        body = frame(self.data)
        if body is not None and self.waiter is not None:
            self.waiter.set_result(body)


class Forwarder(asyncio.Protocol):
    """The bare forwarder's side facing the client."""

    pool: ClassVar[list[Upstream]] = []  # kept-alive connections to the backend, idle ones
    backend: ClassVar[int] = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.data = bytearray()

    def data_received(self, data: bytes) -> None:
        self.data += data
        while (body := frame(self.data)) is not None:
            asyncio.get_running_loop().create_task(self.serve(body))

    async def serve(self, body: bytes) -> None:
        json.loads(body)
        loop = asyncio.get_running_loop()
        if self.pool:
            upstream = self.pool.pop()
        else:
            _, upstream = await loop.create_connection(Upstream, "127.0.0.1", self.backend)
        upstream.waiter = loop.create_future()
        upstream.transport.write(post(body))
        answer = json.loads(await upstream.waiter)
        self.pool.append(upstream)
        self.transport.write(response(json.dumps(answer).encode()))


async def serve_aiohttp(port: int, backend: int) -> None:
    from aiohttp import web
    from aiohttp.typedefs import Handler

    from toolmesh.common.http1 import Origin

    origin = Origin(f"http://127.0.0.1:{backend}/mcp")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        json.loads(body)
        answer = await origin.post(body, headers, 5.0)
        return web.Response(
            body=json.dumps(json.loads(answer.body)).encode(), content_type="application/json"
        )

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        request.headers.get("Origin")
        return await handler(request)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        request.headers.get("Authorization")
        return await handler(request)

    app = web.Application(middlewares=[guard, authenticate])
    app.router.add_post("/mcp", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()


async def serve(kind: str, port: int, backend: int) -> None:
    loop = asyncio.get_running_loop()
    if kind == "backend":
        await loop.create_server(Backend, "127.0.0.1", port)
    elif kind == "aiohttp":
        await serve_aiohttp(port, backend)
    else:
        Forwarder.backend = backend
        await loop.create_server(Forwarder, "127.0.0.1", port)
    print("ready", flush=True)
    await asyncio.Event().wait()


def server(kind: str, port: int, backend: int = 0, uvloop: bool = False) -> subprocess.Popen[str]:
    flags = ["--uvloop"] if uvloop else []
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port), str(backend), *flags],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "core")},
    )
    if process.stdout is None or process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(f"the {kind} server did not start")
    return process


def load(port: int, requests: int, concurrency: int) -> None:
    """``requests`` POSTs over ``concurrency`` kept-alive connections, each waiting for its answer."""

    def one_connection(count: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = bytearray()
            for _ in range(count):
                sock.sendall(post(REQUEST))
                while frame(data) is None:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("the forwarder closed the connection")
                    data += chunk

    threads = [
        threading.Thread(target=one_connection, args=(requests // concurrency,)) for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(kind: str, uvloop: bool, backend: int, requests: int, concurrency: int) -> float:
    """The forwarder's CPU per request, in microseconds."""
    port = free_port()
    forwarder = server(kind, port, backend, uvloop)
    try:
        load(port, 200, min(concurrency, 4))  # warm-up: connections made, code paths run once
        before = cpu_seconds(forwarder.pid)
        load(port, requests, concurrency)
        return 1e6 * (cpu_seconds(forwarder.pid) - before) / requests
    finally:
        forwarder.terminate()
        forwarder.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rows are interleaved this many times; medians shown"
    )
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "PORT", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--uvloop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.uvloop:  # optional, not a dependency: imported by name
            importlib.import_module("uvloop").install()
        kind, port, backend = args.serve
        asyncio.run(serve(kind, int(port), int(backend)))
        return
    loops = [False, True] if importlib.util.find_spec("uvloop") else [False]
    rows = [(kind, uv) for uv in loops for kind in ("aiohttp", "bare")]
    backend_port = free_port()
    backend = server("backend", backend_port)
    figures: dict[tuple[str, bool], list[float]] = {row: [] for row in rows}
    started = time.monotonic()
    try:
        for _ in range(args.rounds):
            for kind, uv in rows:
                figures[kind, uv].append(measure(kind, uv, backend_port, args.requests, args.concurrency))
    finally:
        backend.terminate()
        backend.wait(timeout=10)
    print(f"{args.requests} forwarded requests, {args.concurrency} concurrent, median of {args.rounds} "
          f"interleaved rounds ({time.monotonic() - started:.0f} s)")  # fmt: skip
    names = {"aiohttp": "aiohttp + http1 (today's hop)", "bare": "bare protocols (a floor)"}
    for kind, uv in rows:
        values = figures[kind, uv]
        label = names[kind] + (", uvloop" if uv else "")
        print(f"{label:<40} {statistics.median(values):6.0f} us CPU per request  "
              f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
