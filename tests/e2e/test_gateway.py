"""SDK client → gateway → category server (a real child process) → stub upstream, both protocol generations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import pytest
from mcp import Client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.conftest import StartGateway
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import SECRET, Connect, tasks_integration, text
from toolmesh.gateway.catalog import ToolRecord
from toolmesh.gateway.router import MORE_HEADER, WEAK_NOTE
from toolmesh.gateway.supervisor import LocalCategories
from toolmesh.testing.redis import LocalRedis

pytestmark = pytest.mark.e2e


async def test_few_tools_are_listed_directly_and_calls_reach_the_upstream(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("POST", "/v1/projects/apollo/tasks", Reply(status=201, body={"id": 9}))
    gateway = await start_gateway()
    async with connect(gateway.mcp_url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert len(tools) == 8
        assert tools["tasks__createTask"].input_schema["required"] == ["projectId", "body"]
        result = await client.call_tool(
            "tasks__createTask", {"projectId": "apollo", "body": {"title": "Ship"}}
        )
    assert result.is_error is False
    assert json.loads(text(result)) == {"id": 9}
    seen = upstream.last()
    assert (seen.method, seen.path, json.loads(seen.body)) == (
        "POST",
        "/v1/projects/apollo/tasks",
        {"title": "Ship"},
    )
    assert seen.headers["X-API-Key"] == "key-123456"


async def test_many_tools_are_reached_through_search_describe_and_call(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(direct_tools_limit=2)
    async with connect(gateway.mcp_url) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        assert listed == ["search_tools", "describe_tools", "call_tool"]
        found = text(
            await client.call_tool("search_tools", {"query": "add a new task to a project", "limit": 3})
        )
        names = [line.split(" ", 1)[0] for line in found.splitlines() if "__" in line]
        assert "tasks__createTask" in names
        assert len(names) <= 3
        described = json.loads(
            text(await client.call_tool("describe_tools", {"names": ["tasks__createTask", "nope"]}))
        )
        assert described["tools"][0]["inputSchema"]["required"] == ["projectId", "body"]
        assert described["tools"][0]["related"][0] == "tasks__listTasks"  # next tools on the same resource
        assert "tasks__listProjects" not in described["tools"][0]["related"]
        assert described["unknown"] == ["nope"]
        called = await client.call_tool(
            "call_tool", {"name": "tasks__getTask", "arguments": {"projectId": "p", "taskId": 3}}
        )
        assert called.is_error is False
        assert upstream.last().path == "/v1/projects/p/tasks/3"
        assert [t.name for t in (await client.list_tools()).tools] == listed, "the list never changes"


async def test_a_search_without_a_limit_names_more_tools_after_its_lines_within_the_budget(
    start_gateway: StartGateway, connect: Connect
) -> None:
    """Two described results (search_limit), then the tools ranked next by name alone: a name costs
    a few tokens where a line costs dozens, so the same budget covers more of the ranking."""
    gateway = await start_gateway(direct_tools_limit=2, search_limit=2)
    async with connect(gateway.mcp_url) as client:
        found = text(await client.call_tool("search_tools", {"query": "tasks of a project"}))
        limited = text(await client.call_tool("search_tools", {"query": "tasks of a project", "limit": 2}))
    head, _, rest = found.partition(MORE_HEADER.strip())
    described = [line.split(" ", 1)[0] for line in head.splitlines() if "__" in line]
    assert len(described) == 2, found
    named = rest.split("\n", 1)[0].strip().split(", ")
    catalogue = set(gateway.service.catalog.tools)
    assert named, found
    assert set(named) <= catalogue - set(described), "names of other tools of the catalogue, each once"
    assert len(named) == len(set(named))
    assert len(found) // 4 <= gateway.service.settings.search_token_budget
    assert MORE_HEADER.strip() not in limited, "a limit the caller names is the number of tools shown"
    assert [line.split(" ", 1)[0] for line in limited.splitlines() if "__" in line] == described


async def test_a_search_says_when_nothing_it_shows_is_close_to_what_was_asked(
    start_gateway: StartGateway, connect: Connect
) -> None:
    """The closest tool's cosine (the real model) below WEAK_MATCH: the search says so first, and
    still shows what it found; a request the catalogue answers gets no such note."""
    gateway = await start_gateway(direct_tools_limit=2)
    async with connect(gateway.mcp_url) as client:
        unrelated = text(
            await client.call_tool("search_tools", {"query": "bake a sourdough loaf of rye bread"})
        )
        related = text(await client.call_tool("search_tools", {"query": "create a task in a project"}))
    weak = WEAK_NOTE.split("(")[0]
    assert unrelated.startswith(weak), unrelated
    assert "tasks__" in unrelated, "what was found is still shown"
    assert weak not in related, related


async def test_a_catalog_that_outgrows_the_direct_limit_is_listed_behind_the_meta_tools_from_then_on(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    """A cluster's gateway usually starts before its catalogue arrives: the face follows the catalog
    once it passes the limit (it once stayed direct and listed every tool), never back, and calls
    made from either face's cached list keep working."""
    upstream.on("GET", "/v1/projects/p/tasks/3", Reply(body={"id": 3}))
    gateway = await start_gateway(direct_tools_limit=8)
    tools = gateway.service.catalog.tools
    async with connect(gateway.mcp_url) as client:
        assert len((await client.list_tools()).tools) == 8  # direct: at the limit
        found = await client.call_tool("search_tools", {"query": "get one task"})  # not listed, still served
        assert "tasks__getTask" in text(found)
        record = tools["tasks__getTask"]
        tools["tasks__getTaskAgain"] = ToolRecord(
            "tasks__getTaskAgain",
            record.description,
            record.input_schema,
            record.category,
            record.integration,
        )
        assert [t.name for t in (await client.list_tools()).tools] == [
            "search_tools",
            "describe_tools",
            "call_tool",
        ]
        direct = await client.call_tool(
            "tasks__getTask", {"projectId": "p", "taskId": 3}
        )  # a cached direct list
        assert direct.is_error is False
        assert json.loads(text(direct)) == {"id": 3}
        del tools["tasks__getTaskAgain"]
        assert [t.name for t in (await client.list_tools()).tools] == [
            "search_tools",
            "describe_tools",
            "call_tool",
        ]


async def test_errors_are_results_of_their_call_only(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(direct_tools_limit=0)
    async with connect(gateway.mcp_url) as client:
        unknown = await client.call_tool("call_tool", {"name": "tasks__nope", "arguments": {}})
        assert unknown.is_error is True
        assert "unknown tool 'tasks__nope'; use search_tools" in text(unknown)
        bad = await client.call_tool("call_tool", {"name": "tasks__getTask", "arguments": {"projectId": "p"}})
        assert bad.is_error is True
        assert (
            "invalid arguments for tool tasks__getTask: arguments: 'taskId' is a required property"
            in text(bad)
        )
        empty = await client.call_tool("search_tools", {"query": " "})
        assert empty.is_error is True
        ok = await client.call_tool("call_tool", {"name": "tasks__listProjects", "arguments": {}})
        assert ok.is_error is False


async def test_a_category_is_started_on_use_stopped_when_idle_and_restarted_after_dying(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(category_idle_seconds=0.01)
    categories = gateway.service.categories
    assert categories.running == {}, "nothing runs before the first call"
    async with connect(gateway.mcp_url) as client:
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
        first = categories.running["pm"].process
        first.kill()
        await first.wait()
        again = await client.call_tool("tasks__listProjects", {})
        assert again.is_error is False, text(again)
        assert categories.running["pm"].process.pid != first.pid
        await asyncio.sleep(0.05)  # idle for longer than category_idle_seconds, however fast the call was
        await categories.reap_idle()
        assert categories.running == {}
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
    assert len([s for s in upstream.seen if s.path == "/v1/projects"]) == 3


async def test_a_category_with_a_call_under_way_is_not_stopped_however_long_the_call(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    """Idle means no call under way and none for ``category_idle_seconds``, not a call begun that
    long ago: the reaper, run throughout a call ten times longer than that, leaves its server up."""
    upstream.on("GET", "/v1/projects", Reply(body=[{"id": "slow"}], delay=0.6))  # its timeout: 1 s
    gateway = await start_gateway(category_idle_seconds=0.05)
    categories = gateway.service.categories
    assert isinstance(categories, LocalCategories)
    async with connect(gateway.mcp_url) as client:
        call = asyncio.create_task(client.call_tool("tasks__listProjects", {}))
        reaped = 0
        for _ in range(400):  # bounded: 20 s
            await asyncio.sleep(0.05)
            if call.done():
                break
            if "pm" not in categories.running:  # still starting: its first call has not gone yet
                assert reaped == 0, "stopped with a call under way"
                continue
            await categories.reap_idle()
            reaped += 1
            if not call.done():
                assert "pm" in categories.running, f"stopped with a call under way (reap {reaped})"
        result = await call
        assert result.is_error is False, text(result)
        assert reaped >= 5  # the reaper ran through the call
        await asyncio.sleep(0.1)  # now idle: no call, none for longer than category_idle_seconds
        await categories.reap_idle()
        assert categories.running == {}


async def test_metrics_count_searches_and_forwarded_calls(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(direct_tools_limit=0)
    async with connect(gateway.mcp_url) as client:
        await client.call_tool("search_tools", {"query": "list projects"})
        await client.call_tool("call_tool", {"name": "tasks__listProjects", "arguments": {}})
        await client.call_tool("call_tool", {"name": "tasks__nope", "arguments": {}})
    async with (
        aiohttp.ClientSession() as http,
        http.get(gateway.mcp_url.replace("/mcp", "/metrics")) as response,
    ):
        body = await response.text()
    assert 'toolmesh_gateway_searches_total{found="yes"} 1.0' in body
    assert "toolmesh_gateway_search_seconds_count 1.0" in body
    assert 'toolmesh_gateway_tool_calls_total{category="pm",integration="tasks",outcome="ok"} 1.0' in body
    assert 'toolmesh_gateway_tool_call_seconds_count{category="pm",integration="tasks"} 1.0' in body
    assert 'toolmesh_gateway_tool_calls_total{category="",integration="",outcome="unknown_tool"} 1.0' in body
    assert "toolmesh_gateway_categories_running 1.0" in body
    assert "toolmesh_gateway_tools 8.0" in body


def samples(body: str, name: str) -> dict[str, float]:
    """The samples of one metric in a /metrics body, by their label set as written."""
    out = {}
    for line in body.splitlines():
        if line.startswith((name + "{", name + " ")):
            labels, _, value = line[len(name) :].rpartition(" ")
            out[labels] = float(value)
    return out


async def test_metrics_tell_wakes_their_latency_and_which_categories_are_asleep(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    """Local mode wakes a category by starting its server: counted and timed; the scale state
    follows it up, and back to asleep when the idle server is stopped."""
    gateway = await start_gateway()
    url = gateway.mcp_url.replace("/mcp", "/metrics")

    async def scrape() -> str:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return await response.text()

    asleep = await scrape()
    assert samples(asleep, "toolmesh_gateway_category_awake") == {'{category="pm"}': 0.0}
    assert samples(asleep, "toolmesh_gateway_category_down") == {'{category="pm"}': 0.0}
    assert samples(asleep, "toolmesh_gateway_category_wakes_total") == {}
    async with connect(gateway.mcp_url) as client:
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False  # awake: no wake
    awake = await scrape()
    assert samples(awake, "toolmesh_gateway_category_awake") == {'{category="pm"}': 1.0}
    assert samples(awake, "toolmesh_gateway_category_wakes_total") == {'{category="pm",outcome="ok"}': 1.0}
    assert samples(awake, "toolmesh_gateway_category_wake_seconds_count") == {'{category="pm"}': 1.0}
    took = samples(awake, "toolmesh_gateway_category_wake_seconds_sum")['{category="pm"}']
    calls = samples(awake, "toolmesh_gateway_tool_call_seconds_sum")['{category="pm",integration="tasks"}']
    assert 0 < took < calls  # the first call's latency includes its wake
    categories = gateway.service.categories
    assert isinstance(categories, LocalCategories)
    categories.idle_after = 0
    await categories.reap_idle()
    assert samples(await scrape(), "toolmesh_gateway_category_awake") == {'{category="pm"}': 0.0}


async def test_a_category_run_elsewhere_is_used_and_never_started(
    start_gateway: StartGateway, start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    """TOOLMESH_CATEGORY_ENDPOINTS (docker-compose's category services): the gateway forwards there."""
    upstream.on("GET", "/v1/projects", Reply(body=[{"id": "from-elsewhere"}]))
    elsewhere = await start_category({
        "integrations.yaml": tasks_integration(upstream.url),
        "secrets.yaml": SECRET,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })  # fmt: skip
    gateway = await start_gateway(category_endpoints={"pm": elsewhere.mcp_url})
    async with connect(gateway.mcp_url) as client:
        result = await client.call_tool("tasks__listProjects", {})
    assert json.loads(text(result)) == [{"id": "from-elsewhere"}]
    assert gateway.service.categories.running == {}  # no child process was started


async def test_a_category_server_run_elsewhere_is_asked_what_it_federates(
    start_category: StartCategory, start_gateway: StartGateway, connect: Connect
) -> None:
    """A compose service federating a stdio server: the gateway indexes the tools that server
    discovered (its /readyz and tools/list), under the names it serves, and calls them there."""
    from tests.e2e.test_federation import stdio_integration

    elsewhere = await start_category({"notes.yaml": stdio_integration()})
    gateway = await start_gateway(
        extra={"notes.yaml": stdio_integration()},
        category_endpoints={"data": elsewhere.mcp_url},
        direct_tools_limit=0,
    )
    async with connect(gateway.mcp_url) as client:
        found = text(await client.call_tool("search_tools", {"query": "greet someone"}))
        assert found.splitlines()[0].startswith("notes__greet [data]"), found
        greeted = await client.call_tool("call_tool", {"name": "notes__greet", "arguments": {"name": "Ada"}})
    assert text(greeted).startswith("ahoy, Ada (pid "), text(greeted)
    assert gateway.service.categories.running == {}  # asked and used, never started here


async def test_a_category_server_run_elsewhere_that_does_not_answer_is_a_problem_naming_it(
    start_gateway: StartGateway, connect: Connect
) -> None:
    from tests.e2e.test_federation import free_port, stdio_integration

    nowhere = f"http://127.0.0.1:{free_port()}/mcp"
    gateway = await start_gateway(
        extra={"notes.yaml": stdio_integration()},
        category_endpoints={"data": nowhere},
        category_start_seconds=2,
    )
    problem = gateway.service.catalog.problems["notes"]  # asked before the gateway listened
    assert problem.startswith("its tools are not indexed: its category server (data) did not start: ")
    assert f"the category server at {nowhere} did not answer: " in problem
    assert gateway.service.categories.problems()["data"] == problem.split("did not start: ", 1)[1]


async def test_with_learning_on_a_tool_callers_pick_after_a_search_rises_in_the_next(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(direct_tools_limit=0, learning="shared")
    query = {"query": "what is going on in our team's work", "limit": 5}

    def ranked(result: object) -> list[str]:
        return [line.split(" ", 1)[0] for line in text(result).splitlines() if "__" in line]  # type: ignore[arg-type]

    async with connect(gateway.mcp_url) as client:
        before = ranked(await client.call_tool("search_tools", query))
        assert "tasks__listProjects" in before[1:], before  # shown, not first
        for _ in range(3):
            await client.call_tool("search_tools", query)
            called = await client.call_tool("call_tool", {"name": "tasks__listProjects", "arguments": {}})
            assert called.is_error is False
        # The same search answered again by the same tool: not a new outcome.
        await client.call_tool("call_tool", {"name": "tasks__listProjects", "arguments": {}})
        after = ranked(await client.call_tool("search_tools", query))
    assert after[0] == "tasks__listProjects", after
    async with (
        aiohttp.ClientSession() as http,
        http.get(gateway.mcp_url.replace("/mcp", "/metrics")) as response,
    ):
        body = await response.text()
    assert 'toolmesh_gateway_search_followups_total{outcome="ok"} 3.0' in body


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    with LocalRedis() as server:
        yield server


@pytest.mark.redis
async def test_with_two_replicas_learning_converges_whichever_replica_served_the_call(
    redis_server: LocalRedis, start_gateway: StartGateway, upstream: StubUpstream
) -> None:
    """Searches on one replica, the calls that answer them on the other: through the shared log in
    Redis (TOOLMESH_REDIS_URL) both learn the same, and the replica that served a call counts it."""
    query = {"query": "what is going on in our team's work", "limit": 5}

    def ranked(result: object) -> list[str]:
        return [line.split(" ", 1)[0] for line in text(result).splitlines() if "__" in line]

    settings = {"direct_tools_limit": 0, "learning": "shared", "redis_url": redis_server.url}
    a, b = await start_gateway(**settings), await start_gateway(**settings)
    async with Client(a.mcp_url) as on_a, Client(b.mcp_url) as on_b:
        before = ranked(await on_a.call_tool("search_tools", query))
        assert "tasks__listProjects" in before[1:], before  # shown, not first
        for _ in range(3):
            await on_a.call_tool("search_tools", query)
            called = await on_b.call_tool("call_tool", {"name": "tasks__listProjects", "arguments": {}})
            assert called.is_error is False

        async def learned() -> bool:
            return all(len(g.service.router.outcomes or ()) >= 2 for g in (a, b))

        deadline = asyncio.get_running_loop().time() + 10
        while not await learned() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert await learned(), "the replicas did not apply the shared log"
        assert ranked(await on_b.call_tool("search_tools", query))[0] == "tasks__listProjects"
        assert ranked(await on_a.call_tool("search_tools", query))[0] == "tasks__listProjects"
    for gateway, served in ((b, 3.0), (a, 0.0)):
        async with (
            aiohttp.ClientSession() as http,
            http.get(gateway.mcp_url.replace("/mcp", "/metrics")) as response,
        ):
            body = await response.text()
        line = f'toolmesh_gateway_search_followups_total{{outcome="ok"}} {served}'
        assert (line in body) if served else ('followups_total{outcome="ok"}' not in body), body[-500:]


async def test_learning_without_the_embedding_model_is_refused_naming_both_settings(
    start_gateway: StartGateway,
) -> None:
    with pytest.raises(
        ValueError, match=r"TOOLMESH_LEARNING needs the embedding model.*TOOLMESH_LEXICAL_ONLY"
    ):
        await start_gateway(learning="caller", lexical_only=True)
