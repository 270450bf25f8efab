"""Fetching a document from a URL within a time and size budget (toolmesh.catalog.fetch), against a
server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from toolmesh.catalog import fetch
from toolmesh.testing.http import serving

DOCUMENT = b"openapi: 3.0.3\n" + b"# padding\n" * 400  # 4 KiB


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def whole(request: web.Request) -> web.Response:
        return web.Response(body=DOCUMENT)

    async def streamed(request: web.Request) -> web.StreamResponse:  # no Content-Length: chunked
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(DOCUMENT), 512):
            await response.write(DOCUMENT[start : start + 512])
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(body=DOCUMENT)

    app = web.Application()
    app.router.add_get("/whole", whole)
    app.router.add_get("/streamed", streamed)
    app.router.add_get("/slow", slow)
    async with serving(app) as url:
        yield url


async def test_a_document_within_the_budget_arrives_whole_however_it_is_sent(server: str) -> None:
    assert await fetch.fetch(f"{server}/whole") == DOCUMENT
    assert await fetch.fetch(f"{server}/streamed", max_bytes=len(DOCUMENT)) == DOCUMENT


@pytest.mark.parametrize("path", ["whole", "streamed"])
async def test_a_document_over_the_size_budget_is_refused_whole_naming_the_budget(
    server: str, path: str
) -> None:
    with pytest.raises(fetch.TooLarge) as refused:
        await fetch.fetch(f"{server}/{path}", max_bytes=1024)
    assert (
        str(refused.value) == f"{server}/{path}: the document is larger than the 1 KiB budget; it is not read"
    )


async def test_a_document_over_the_time_budget_is_an_error_naming_the_budget(server: str) -> None:
    with pytest.raises(fetch.FetchError, match=r"/slow: the document did not arrive within 0\.2 s$"):
        await fetch.fetch(f"{server}/slow", timeout=0.2)


async def test_an_http_error_and_a_closed_port_are_errors_naming_the_url(server: str) -> None:
    with pytest.raises(fetch.FetchError, match=r"^http://127\.0\.0\.1:\d+/nothing answered HTTP 404$"):
        await fetch.fetch(f"{server}/nothing")
    closed = server.rsplit(":", 1)[0] + ":1"
    with pytest.raises(fetch.FetchError, match=rf"^cannot fetch {closed}/x: ClientConnectorError"):
        await fetch.fetch(f"{closed}/x")
