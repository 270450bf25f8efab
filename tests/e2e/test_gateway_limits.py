"""Rate limits and circuit breakers, end to end: the SDK client → gateway → category server (a real
child process) → a stub upstream that fails on demand; limits shared by two replicas through a real
Redis. The rate-limit windows are a minute long: tests that cross one move the gateways' clocks
(``service.limits.clock``) rather than wait."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import Connect, text
from toolmesh.common.call_meta import REFUSED_META
from toolmesh.testing.redis import LocalRedis

pytestmark = pytest.mark.e2e
LIST = "tasks__listProjects"
MID_WINDOW = 1_800_000_030.0  # half a minute into a window


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def refused(result: Any) -> dict[str, Any]:
    meta = result.meta or {}
    found: dict[str, Any] = meta.get(REFUSED_META) or {}
    return found


async def search(client: Client, query: str) -> list[str]:
    found = text(await client.call_tool("search_tools", {"query": query, "limit": 8}))
    return [line for line in found.splitlines() if "__" in line]


async def test_an_upstream_outage_opens_the_circuit_which_fails_fast_then_probes_and_closes(
    start_gateway: StartGateway, upstream: StubUpstream, connect: Connect
) -> None:
    gateway = await start_gateway(
        breaker_failures=2, breaker_cooldown_seconds=0.5, direct_tools_limit=0, lexical_only=True
    )
    upstream.on("GET", "/v1/projects", Reply(status=404, body={"error": "no such thing"}))
    async with connect(gateway.mcp_url) as client:
        for _ in range(3):  # a tool's own error says the upstream is up: it never opens the circuit
            assert "HTTP 404" in text(await client.call_tool("call_tool", {"name": LIST}))
        upstream.on("GET", "/v1/projects", Reply(status=503, body="down for maintenance"))
        for _ in range(2):
            assert "HTTP 503" in text(await client.call_tool("call_tool", {"name": LIST}))
        reached = len(upstream.seen)
        failed_fast = await client.call_tool("call_tool", {"name": LIST})
        assert failed_fast.is_error is True
        assert "integration tasks is unavailable" in text(failed_fast)
        assert refused(failed_fast)["reason"] == "circuitOpen"
        assert refused(failed_fast)["retryAfterSeconds"] == 1
        assert len(upstream.seen) == reached  # not forwarded
        lines = await search(client, "list all projects")
        assert lines
        assert all("(unavailable: integration tasks is failing" in line for line in lines)

        upstream.on("GET", "/v1/projects", Reply(body=[{"id": "apollo"}]))
        probed = await until_forwarded(client)
        assert "apollo" in text(probed)
        assert not any("unavailable" in line for line in await search(client, "list all projects"))
        assert (await client.call_tool(LIST, {})).is_error is False
    transitions = gateway.service.metrics.circuit_transitions
    assert [transitions.labels("tasks", s)._value.get() for s in ("open", "half_open", "closed")] == [1, 1, 1]
    assert gateway.service.metrics.calls.labels("pm", "tasks", "circuit_open")._value.get() >= 1


async def until_forwarded(client: Client) -> Any:
    """Calls until one is forwarded again (the cooldown ends): bounded in count and time."""
    async with asyncio.timeout(5):
        for _ in range(100):
            result = await client.call_tool("call_tool", {"name": LIST})
            if not refused(result):
                return result
            await asyncio.sleep(0.1)
    raise AssertionError("the circuit never let a probe through")


@contextlib.asynccontextmanager
async def as_user(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def test_a_callers_quota_is_hit_without_touching_others_and_resets_with_the_next_minute(
    start_gateway: StartGateway, upstream: StubUpstream, issuer: Issuer
) -> None:
    gateway = await start_gateway(
        auth="jwt", auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE,
        limits_caller_per_minute=2, lexical_only=True,
    )  # fmt: skip
    clock = Clock(MID_WINDOW)
    gateway.service.limits.clock = clock
    async with (
        as_user(gateway.mcp_url, issuer.token(sub="alice")) as alice,
        as_user(gateway.mcp_url, issuer.token(sub="bob")) as bob,
    ):
        for _ in range(2):
            assert (await alice.call_tool(LIST, {})).is_error is False
        reached = len(upstream.seen)
        over = await alice.call_tool(LIST, {})
        assert over.is_error is True
        assert "rate limit reached: your calls per minute (all tools) is 2" in text(over)
        assert refused(over) == {
            "reason": "rateLimited", "limit": "caller", "calls": 2, "integration": "tasks",
            "retryAfterSeconds": 30,
        }  # fmt: skip
        assert len(upstream.seen) == reached  # not forwarded
        assert (await bob.call_tool(LIST, {})).is_error is False
        clock.now += 30  # the next minute
        assert (await alice.call_tool(LIST, {})).is_error is False
    assert gateway.service.metrics.limited.labels("tasks", "caller")._value.get() == 1


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    with LocalRedis() as server:
        yield server


@pytest.mark.redis
async def test_two_replicas_share_one_quota_through_redis(
    redis_server: LocalRedis, start_gateway: StartGateway, upstream: StubUpstream
) -> None:
    settings = {"redis_url": redis_server.url, "lexical_only": True}
    extra = {"limits.yaml": LIMITED.replace("UPSTREAM", upstream.url)}
    a, b = await start_gateway(extra, **settings), await start_gateway(extra, **settings)
    for gateway in (a, b):
        gateway.service.limits.clock = Clock(MID_WINDOW)  # the same window, whenever the test runs
    async with Client(a.mcp_url) as on_a, Client(b.mcp_url) as on_b:
        outcomes = [
            await client.call_tool("limited__listProjects", {}) for client in (on_a, on_b, on_a, on_b)
        ]
    assert [o.is_error for o in outcomes] == [False, False, False, True]
    assert refused(outcomes[3])["limit"] == "integration"
    assert "calls per minute to integration limited, all callers together is 3" in text(outcomes[3])
    assert upstream_calls(a) + upstream_calls(b) == 3


def upstream_calls(gateway: Gateway) -> float:
    return float(gateway.service.metrics.calls.labels("pm", "limited", "ok")._value.get())


async def test_without_redis_each_replica_counts_alone_and_says_so(
    start_gateway: StartGateway, upstream: StubUpstream
) -> None:
    gateway = await start_gateway(
        redis_url="redis://127.0.0.1:9/0", limits_caller_tool_per_minute=1, lexical_only=True
    )
    gateway.service.limits.clock = Clock(MID_WINDOW)
    async with Client(gateway.mcp_url) as client:
        first, second = await client.call_tool(LIST, {}), await client.call_tool(LIST, {})
    assert first.is_error is False
    assert refused(second)["limit"] == "callerTool"
    assert gateway.service.metrics.limits_store_errors._value.get() == 2


#: A second integration of the demo API, its own limit in its spec.
LIMITED = """
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: limited}
spec:
  category: pm
  toolPrefix: limited
  limits: {callsPerMinute: 3}
  openapi:
    spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}
    baseUrl: UPSTREAM/v1
"""


async def test_an_upstream_that_cannot_be_reached_counts_as_an_outage(
    start_gateway: StartGateway, upstream: StubUpstream
) -> None:
    gone = LIMITED.replace("limited", "gone").replace("UPSTREAM", "http://127.0.0.1:9")
    gateway = await start_gateway({"gone.yaml": gone}, breaker_failures=1, lexical_only=True)
    async with Client(gateway.mcp_url) as client:
        first = await client.call_tool("gone__listProjects", {})
        second = await client.call_tool("gone__listProjects", {})
        other = await client.call_tool(LIST, {})
    assert "cannot connect to http://127.0.0.1:9" in text(first)
    assert refused(second)["reason"] == "circuitOpen"
    assert other.is_error is False  # one integration's circuit, not the category's
