"""Documents at ``spec.openapi.spec.url`` fetched again by a category server: a loopback HTTP server
whose document changes between fetches, answers 304 to a conditional request, or fails; the
category server served on loopback and listed with the SDK client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mcp import Client

from tests.conftest import CategoryServer, StartCategory
from toolmesh.category.app import SERVICE
from toolmesh.category.service import CategoryService

pytestmark = pytest.mark.e2e


def document(*operations: str) -> bytes:
    """An OpenAPI document with one GET operation per name."""
    paths = {
        f"/{op}": {
            "get": {"operationId": op, "summary": f"Get {op}.", "responses": {"200": {"description": "ok"}}}
        }
        for op in operations
    }
    spec = {"openapi": "3.0.3", "info": {"title": "Moving", "version": "1"}, "paths": paths}
    return json.dumps(spec).encode()


@dataclass
class SpecServer:
    """Serves ``body``; with ``validators``, an ETag and Last-Modified, and 304 when they match."""

    body: bytes = field(default_factory=lambda: document("getA"))
    validators: str = "etag"  # etag | last-modified | none
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.status != 200:
            return web.Response(status=self.status, text="down for maintenance")
        etag = f'"{len(self.body)}-{hash(self.body) & 0xFFFF}"'
        stamp = (
            "Wed, 02 Dec 2026 10:00:00 GMT"
            if self.body == document("getA")
            else "Thu, 03 Dec 2026 10:00:00 GMT"
        )
        if self.validators == "etag":
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=self.body, content_type="application/json", headers={"ETag": etag})
        if self.validators == "last-modified":
            if request.headers.get("If-Modified-Since") == stamp:
                return web.Response(status=304)
            return web.Response(
                body=self.body, content_type="application/json", headers={"Last-Modified": stamp}
            )
        return web.Response(body=self.body, content_type="application/json")


@pytest.fixture
async def spec_server() -> AsyncIterator[SpecServer]:
    served = SpecServer()
    app = web.Application()
    app.router.add_get("/openapi.json", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.url = f"http://127.0.0.1:{runner.addresses[0][1]}/openapi.json"
    yield served
    await runner.cleanup()


def catalog(url: str) -> dict[str, str]:
    return {
        "moving.yaml": f"""
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {{name: moving}}
            spec:
              category: pm
              openapi:
                spec: {{url: "{url}"}}
                baseUrl: http://127.0.0.1:9
        """
    }


async def tools(category: CategoryServer) -> list[str]:
    async with Client(category.mcp_url) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def readyz(category: CategoryServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{category.url}/readyz") as response:
        return dict(await response.json())


async def refreshes(category: CategoryServer) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{category.url}/metrics") as response:
        text = await response.text()
    prefix = 'toolmesh_category_spec_refreshes_total{integration="moving",outcome="'
    return {
        line[len(prefix) :].partition('"')[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def service(category: CategoryServer) -> CategoryService:
    return category.runner.app[SERVICE]


@pytest.mark.parametrize("validators", ["etag", "last-modified", "none"])
async def test_a_changed_document_is_served_after_a_refresh_and_an_unchanged_one_costs_no_compile(
    spec_server: SpecServer, start_category: StartCategory, validators: str
) -> None:
    spec_server.validators = validators
    category = await start_category(catalog(spec_server.url), spec_refresh_seconds=0)  # refreshed by hand
    assert await tools(category) == ["moving__getA"]
    state = service(category).registry.states["moving"]
    assert (await readyz(category))["integrations"][0]["documentDigest"] == state.source_digest

    await service(category).specs.refresh()
    assert service(category).registry.states["moving"] is state  # not compiled again
    sent = spec_server.requests[-1]
    if validators == "etag":
        assert sent["If-None-Match"].startswith('"')
        assert await refreshes(category) == {"not_modified": 1.0}
    elif validators == "last-modified":
        assert sent["If-Modified-Since"] == "Wed, 02 Dec 2026 10:00:00 GMT"
        assert await refreshes(category) == {"not_modified": 1.0}
    else:
        assert "If-None-Match" not in sent
        assert await refreshes(category) == {"unchanged": 1.0}  # the same bytes: the same digest

    spec_server.body = document("getA", "getB")
    await service(category).specs.refresh()
    assert await tools(category) == ["moving__getA", "moving__getB"]
    after = service(category).registry.states["moving"]
    assert after is not state
    assert after.source_digest != state.source_digest
    assert [t["name"] for t in (await readyz(category))["integrations"][0]["discoveredTools"]] == [
        "moving__getA",
        "moving__getB",
    ]
    assert (await refreshes(category))["recompiled"] == 1.0
    assert len(spec_server.requests) == 3  # one fetch each: at load, and at each refresh


async def test_a_refresh_that_fails_keeps_the_last_good_tools_and_reports_it(
    spec_server: SpecServer, start_category: StartCategory
) -> None:
    category = await start_category(catalog(spec_server.url), spec_refresh_seconds=0)
    spec_server.status = 503
    await service(category).specs.refresh()
    assert await tools(category) == ["moving__getA"]  # still served
    status = await readyz(category)
    assert status["problems"]["moving"] == (
        f"spec.openapi.spec.url: {spec_server.url} answered HTTP 503: fetching it again failed; "
        "the tools of the document fetched before are served meanwhile"
    )
    assert status["integrations"][0]["ready"] is True

    spec_server.status = 200
    await service(category).specs.refresh()
    assert (await readyz(category))["problems"] == {}  # over: the document is the one served

    spec_server.body = b"{not an openapi document"
    await service(category).specs.refresh()
    assert await tools(category) == ["moving__getA"]
    problem = (await readyz(category))["problems"]["moving"]
    assert problem.startswith("spec.openapi.spec: ")
    assert problem.endswith("; the tools of the document compiled before are served meanwhile")
    await service(category).specs.refresh()  # the same broken bytes: not compiled again, still said
    assert (await readyz(category))["problems"]["moving"] == problem
    assert await refreshes(category) == {"failed": 2.0, "not_modified": 2.0}


async def test_the_schedule_fetches_again_on_its_own(
    spec_server: SpecServer, start_category: StartCategory
) -> None:
    category = await start_category(catalog(spec_server.url), spec_refresh_seconds=0.05)
    spec_server.body = document("getA", "getC")
    async with asyncio.timeout(10):
        while "moving__getC" not in await tools(category):
            await asyncio.sleep(0.05)
    assert len(spec_server.requests) >= 2
