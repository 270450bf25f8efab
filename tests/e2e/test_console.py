"""The web console in a real browser: Debian's chromium, driven by Playwright, against a real
gateway on loopback (local mode) whose catalogue has a serving integration (the stub upstream), one
that fails (a federated remote that does not answer), one the viewer may not use (spec.access), and
a category with nothing in it. Calls go through the SDK client; pages are read as a person sees them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_federation import free_port, remote_integration
from toolmesh.testing import browser as chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

KEY = "console-key-7f3a"
EXTRA = {
    "calc.yaml": "",  # set per test: the remote's URL is a free port nothing listens on
    "payroll.yaml": """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {name: payroll}
        spec:
          category: pm
          toolPrefix: payroll
          access: {groups: [finance]}
          openapi:
            spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}
            baseUrl: http://127.0.0.1:9/v1
    """,
    "crm.yaml": """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPCategory
        metadata: {name: crm}
        spec: {description: "Customers and deals"}
    """,
}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium.launched() as launched:
        yield launched


async def console_gateway(start_gateway: StartGateway, **settings: object) -> tuple[Gateway, str]:
    """The gateway and its console's URL."""
    unreachable = f"http://127.0.0.1:{free_port()}/mcp"
    extra = dict(
        EXTRA, **{"calc.yaml": remote_integration(unreachable).replace("category: ai", "category: pm")}
    )
    gateway = await start_gateway(extra, **settings)
    return gateway, gateway.mcp_url.removesuffix("/mcp") + "/console"


async def open_page(browser: Browser, url: str, key: str | None = None) -> Page:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    context = await browser.new_context(extra_http_headers=headers)
    page = await context.new_page()
    page.set_default_timeout(chromium.TIMEOUT_MS)
    await page.goto(url)
    return page


async def call(gateway: Gateway, key: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
    ):
        result = await client.call_tool(
            "tasks__createTask", {"projectId": "apollo", "body": {"title": "Ship-7b1"}}
        )
        assert result.is_error is False


async def test_the_catalogue_shows_the_failing_integration_as_failing_and_each_tools_schema(
    start_gateway: StartGateway, browser: Browser
) -> None:
    _, url = await console_gateway(start_gateway)
    page = await open_page(browser, url)
    await expect(page).to_have_title("Catalogue · toolmesh console")
    failing = page.locator('tr.integration[data-integration="calculator"]')
    await expect(failing).to_have_class("integration failing")
    await expect(failing.locator(".badge")).to_have_text("failing")
    await expect(failing).to_contain_text("Not serving: spec.mcp.url: cannot list the tools of")
    serving = page.locator('tr.integration[data-integration="tasks"]')
    await expect(serving.locator(".badge")).to_have_text("serving")
    await expect(serving.locator("td.num")).to_have_text("8")
    await expect(page.locator("#category-crm")).to_contain_text("No integration you may call.")
    await expect(page.locator("body")).not_to_contain_text("payroll")  # spec.access: not this viewer's

    await serving.get_by_role("link", name="tasks").click()
    await expect(page).to_have_title("tasks · toolmesh console")
    tool = page.locator("#tool-tasks__createTask")
    await tool.locator("summary").click()
    schema = json.loads(await tool.locator("pre.schema").inner_text())
    assert schema["required"] == ["projectId", "body"]
    assert (await page.goto(url + "/integrations/payroll")).status == 404  # type: ignore[union-attr]


async def test_the_search_playground_ranks_results_with_their_scores_and_costs(
    start_gateway: StartGateway, browser: Browser
) -> None:
    _, url = await console_gateway(start_gateway)
    page = await open_page(browser, url + "/search")
    await page.get_by_label("Query").fill("add a new task to a project")
    await page.get_by_label("Limit").fill("3")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("tr.result")
    await expect(rows).to_have_count(3)
    assert await rows.locator("td.rank").all_inner_texts() == ["1", "2", "3"]
    first = rows.nth(0)
    await expect(first).to_contain_text("tasks__createTask")
    for column in ("fused", "lexical", "dense"):
        assert float(await first.locator(f"td.{column}").inner_text()) != 0.0, column
    fused = [float(t) for t in await rows.locator("td.fused").all_inner_texts() if t != "—"]
    assert fused[0] == max(fused)
    await expect(page.locator("p.cost")).to_contain_text("Listing all 8 tools you may call")
    await expect(page.locator("table.results")).not_to_contain_text("payroll")
    await expect(page.get_by_label("Query")).to_have_value("add a new task to a project")

    await page.get_by_label("Query").fill("   ")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("alert")).to_have_text("query: type what an agent would ask for")


async def test_the_categories_page_shows_each_state_replicas_and_the_last_wake(
    start_gateway: StartGateway, browser: Browser
) -> None:
    _, url = await console_gateway(start_gateway)  # local mode starts pm to discover the remote's tools
    page = await open_page(browser, url + "/categories")
    pm = page.locator('tr.category-row[data-category="pm"]')
    await expect(pm.locator(".badge")).to_have_text("awake")
    await expect(pm.locator("td.num")).to_have_text("1")
    await expect(pm).to_contain_text(" UTC (")  # the wake's time and how long it took
    crm = page.locator('tr.category-row[data-category="crm"]')
    await expect(crm.locator(".badge")).to_have_text("asleep")
    await expect(crm).to_contain_text("not since this replica started")


async def test_recent_calls_show_a_call_made_through_the_sdk_without_its_arguments(
    start_gateway: StartGateway, upstream: StubUpstream, browser: Browser
) -> None:
    upstream.on("POST", "/v1/projects/apollo/tasks", Reply(status=201, body={"id": 9, "secret": "res-51c"}))
    gateway, url = await console_gateway(start_gateway)
    page = await open_page(browser, url + "/calls")
    await expect(page.locator("tr.call")).to_have_count(0)
    await call(gateway)
    await page.reload()
    row = page.locator("tr.call")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("tasks__createTask")
    await expect(row.locator(".badge")).to_have_text("ok")
    await expect(row).to_contain_text(" ms")
    body = await page.content()
    for private in ("Ship-7b1", "apollo", "res-51c"):  # arguments and results are never kept
        assert private not in body
    assert "key-123456" not in body  # the integration's credential


async def test_the_console_asks_for_the_same_credentials_as_mcp(
    start_gateway: StartGateway, browser: Browser
) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    gateway, url = await console_gateway(start_gateway, auth="api-key", auth_api_keys=[digest])
    for key in (None, "wrong-key"):
        page = await open_page(browser, "about:blank", key)
        for path in ("", "/search", "/categories", "/calls", "/console.css", "/integrations/tasks"):
            response = await page.goto(url + path)
            assert response is not None
            assert response.status == 401, (path, key)
            assert "tasks__" not in await page.content()
        await page.context.close()
    page = await open_page(browser, url + "/calls", KEY)
    await call(gateway, KEY)
    await page.reload()
    await expect(page.locator("tr.call")).to_have_count(1)
    await expect(page.locator("header .caller")).to_have_text(f"api-key:{digest[:12]}")


async def test_the_console_is_not_served_when_turned_off(start_gateway: StartGateway) -> None:
    _, url = await console_gateway(start_gateway, console=False)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 404
