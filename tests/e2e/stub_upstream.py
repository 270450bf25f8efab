"""A stub upstream API on loopback that records exactly what it receives (aiohttp's fake-server pattern)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict


@dataclass
class Seen:
    method: str
    path: str  # raw path, percent-encoding kept
    query: str  # raw query string
    headers: CIMultiDict[str]  # case-insensitive, as HTTP
    body: bytes
    content_type: str


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = field(default_factory=lambda: {"ok": True})
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StubUpstream:
    """Answers every request from a table of (method, path) → Reply; records every request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: dict[tuple[str, str], Reply | Callable[[Seen], Reply]] = {}
        self.server: TestServer | None = None

    def on(self, method: str, path: str, reply: Reply | Callable[[Seen], Reply]) -> None:
        self.replies[(method, path)] = reply

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def last(self) -> Seen:
        assert self.seen, "the upstream received no request"
        return self.seen[-1]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path, _, query = request.raw_path.partition("?")
        seen = Seen(
            method=request.method,
            path=path,
            query=query,
            headers=CIMultiDict(request.headers),
            body=await request.read(),
            content_type=request.headers.get("Content-Type", ""),
        )
        self.seen.append(seen)
        reply = self.replies.get((request.method, seen.path), Reply())
        if callable(reply):
            reply = reply(seen)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if isinstance(reply.body, bytes | str):
            return web.Response(
                body=reply.body if isinstance(reply.body, bytes) else reply.body.encode(),
                status=reply.status,
                content_type=reply.content_type or "text/plain",
                headers=reply.headers,
            )
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
