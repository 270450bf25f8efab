"""Prompts, resources and resource templates of federated MCP servers, through a category server:
listed under the integration's names, got and read through the server that offers them, in both
protocol generations (the ``connect`` fixture's modes)."""

from __future__ import annotations

import aiohttp
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from tests.conftest import StartCategory
from tests.e2e.remote_mcp import HeaderRecorder, serve_remote
from tests.e2e.test_category_server import Connect
from tests.e2e.test_federation import stdio_integration

pytestmark = pytest.mark.e2e


def calculator(url: str) -> str:
    return f"""
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {{name: calculator}}
    spec:
      category: ai
      toolPrefix: calc
      mcp: {{url: "{url}"}}
    """


def contents_text(result: types.ReadResourceResult) -> list[tuple[str, str]]:
    return [(c.uri, c.text) for c in result.contents if isinstance(c, types.TextResourceContents)]


def message_text(result: types.GetPromptResult) -> str:
    content = result.messages[0].content
    assert isinstance(content, types.TextContent)
    return content.text


async def test_prompts_and_resources_of_two_servers_are_listed_namespaced_and_read(
    start_category: StartCategory, remote: tuple[str, HeaderRecorder], connect: Connect
) -> None:
    url, _ = remote
    server = await start_category({"calc.yaml": calculator(url), "notes.yaml": stdio_integration()})
    async with connect(server.mcp_url) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"calc__explain", "notes__summarize"}
        assert prompts["calc__explain"].description == "Asks for an explanation of an arithmetic operation."
        assert [a.name for a in prompts["calc__explain"].arguments or []] == ["operation"]
        resources = {r.uri: r for r in (await client.list_resources()).resources}
        assert set(resources) == {
            "toolmesh://calculator/calc://constants/pi",
            "toolmesh://notes/notes://today",
        }
        assert resources["toolmesh://calculator/calc://constants/pi"].mime_type == "text/plain"
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {"toolmesh://calculator/calc://square/{n}", "toolmesh://notes/notes://day/{day}"}

        got = await client.get_prompt("calc__explain", {"operation": "divide"})
        assert message_text(got) == "Explain how to divide two numbers."
        assert message_text(await client.get_prompt("notes__summarize", {"topic": "milk"})) == (
            "Summarize my notes on milk."
        )
        pi = await client.read_resource("toolmesh://calculator/calc://constants/pi")
        assert contents_text(pi) == [("toolmesh://calculator/calc://constants/pi", "3.14159")]
        square = await client.read_resource("toolmesh://calculator/calc://square/12")
        assert contents_text(square) == [("toolmesh://calculator/calc://square/12", "144")]
        day = await client.read_resource("toolmesh://notes/notes://day/monday")
        assert contents_text(day) == [("toolmesh://notes/notes://day/monday", "notes of monday")]

        for uri, reason in [
            ("calc://constants/pi", "must start with toolmesh://"),
            ("toolmesh://", "names no server's URI"),
            ("toolmesh://../calculator/calc://constants/pi", "not an integration name"),
            ("toolmesh://nobody/calc://constants/pi", "no integration 'nobody' serves resources here"),
        ]:
            with pytest.raises(MCPError, match=reason.replace("(", r"\(")) as raised:
                await client.read_resource(uri)
            assert raised.value.code == types.INVALID_PARAMS
        with pytest.raises(MCPError, match="unknown prompt 'explain'"):
            await client.get_prompt("explain", {"operation": "add"})
        with pytest.raises(MCPError, match="integration calculator: "):
            await client.read_resource("toolmesh://calculator/calc://nothing-here")

    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        states = {s["name"]: s for s in (await response.json())["integrations"]}
    assert [p["name"] for p in states["calculator"]["discoveredPrompts"]] == ["calc__explain"]
    assert [r["uri"] for r in states["notes"]["discoveredResources"]] == ["toolmesh://notes/notes://today"]
    assert [t["uriTemplate"] for t in states["notes"]["discoveredResourceTemplates"]] == [
        "toolmesh://notes/notes://day/{day}"
    ]


async def test_a_remote_that_went_down_fails_only_its_own_reads(
    start_category: StartCategory, connect: Connect
) -> None:
    async with serve_remote() as (url, _):
        server = await start_category({"calc.yaml": calculator(url), "notes.yaml": stdio_integration()})
    # The remote is gone; what it offered is still listed (as its tools are), and reading it says why.
    async with connect(server.mcp_url) as client:
        assert len((await client.list_resources()).resources) == 2
        with pytest.raises(MCPError, match="integration calculator: ") as raised:
            await client.read_resource("toolmesh://calculator/calc://constants/pi")
        assert raised.value.code == types.INTERNAL_ERROR
        with pytest.raises(MCPError, match="integration calculator: "):
            await client.get_prompt("calc__explain", {"operation": "add"})
        today = await client.read_resource("toolmesh://notes/notes://today")
        assert contents_text(today) == [("toolmesh://notes/notes://today", "buy milk")]
