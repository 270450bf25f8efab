"""Waking a category from zero in cluster mode, on the real API server with the operator running:
the gateway renews the category's demand Lease and waits, bounded, for the operator to report a ready
pod; then the Service may refuse connections for a while (kube-proxy). A stand-in plays kubelet
(tests/integration/k8s/test_gateway_cluster.py), ready at once or only after a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from mcp import Client

from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.integration.k8s.conftest import OperatorThread, cluster_gateway, eventually, serve
from tests.integration.k8s.test_gateway_cluster import (
    apply_examples,
    kubelet_stand_in,
    metric,
    pm_with_tasks,
    text,
)
from tests.integration.k8s.test_operator import ready
from toolmesh.category.app import create_app as create_category_app
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def test_a_category_that_does_not_wake_in_time_fails_only_that_call_with_a_clear_error(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await apply_examples(cluster, kube, namespace)
    await ready(kube, "MCPIntegration", namespace, "status-page")
    settings = cluster_gateway(cluster, namespace, category_start_seconds=1)
    runner, url = await serve(create_gateway_app(settings))
    try:
        async with Client(f"{url}/mcp") as client:
            result = await client.call_tool("status__listComponents", {})
            assert result.is_error
            assert (
                text(result)
                == "category pm is unavailable: it is starting from zero pods and was not ready within 1 s; try the call again shortly"
            )
            unknown = await client.call_tool("nope__nothing", {})
            assert "unknown tool" in text(unknown)
        # The demand was recorded all the same: the operator is scaling pm up.
        woken = await eventually(lambda: _replicas(kube, namespace), what="pm scaled up on demand")
        assert woken == 1
    finally:
        await runner.cleanup()


async def _replicas(kube: KubeClient, namespace: str) -> int | None:
    deployment = await kube.get("Deployment", namespace, names.server("pm"))
    return int((deployment or {}).get("spec", {}).get("replicas") or 0) or None


@pytest.fixture
def closed_port() -> Iterator[socket.socket]:
    """A loopback socket bound but not listening: connections to its port are refused until it listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


async def connect_retries(http: aiohttp.ClientSession, gateway_url: str, category: str) -> float:
    return await metric(
        http, gateway_url, "toolmesh_gateway_category_connect_retries_total", category=category
    )


async def test_a_woken_category_answers_the_first_call_though_its_port_opens_a_while_after_it_is_ready(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    tasks_api: str,
    tmp_path: Path,
    closed_port: socket.socket,
) -> None:
    """Real pods are Ready about a second before their Service routes to them (kube-proxy): here the
    category server's port opens only once pm has been reported ready for a second and the gateway
    has had its connections refused several times."""
    category_settings, _ = await pm_with_tasks(kube, namespace, cluster, tasks_api, tmp_path)
    port = closed_port.getsockname()[1]
    gateway_settings = cluster_gateway(
        cluster,
        namespace,
        category_endpoints={"pm": f"http://127.0.0.1:{port}/mcp"},
        category_start_seconds=30,
    )
    gateway_runner, gateway_url = await serve(create_gateway_app(gateway_settings))
    stand_in = asyncio.create_task(kubelet_stand_in(kube, namespace))
    runners: list[web.AppRunner] = []

    async def listen_late(http: aiohttp.ClientSession) -> float:
        async def pm_ready() -> float | None:
            obj = await kube.get("MCPCategory", namespace, "pm")
            return (
                time.monotonic() if int(((obj or {}).get("status") or {}).get("readyReplicas") or 0) else None
            )

        ready_at = await eventually(pm_ready, what="pm reported ready")

        async def refused_for_a_while() -> bool:
            refused = await connect_retries(http, gateway_url, "pm")
            return refused >= 5 and time.monotonic() - ready_at >= 1.0

        await eventually(refused_for_a_while, what="the gateway refused for a second")
        runner = web.AppRunner(create_category_app(category_settings))
        await runner.setup()
        await web.SockSite(runner, closed_port.dup()).start()
        runners.append(runner)
        return time.monotonic() - ready_at

    late: asyncio.Task[float] | None = None
    try:
        async with aiohttp.ClientSession() as http, Client(f"{gateway_url}/mcp") as client:
            late = asyncio.create_task(listen_late(http))
            result = await client.call_tool("tasks__listProjects", {})
            lag = await late
            assert not result.is_error, text(result)
            assert [p["id"] for p in json.loads(text(result))] == ["apollo"]
            assert lag >= 1.0
            assert await connect_retries(http, gateway_url, "pm") >= 5
            wakes = "toolmesh_gateway_category_wakes_total"
            assert await metric(http, gateway_url, wakes, category="pm", outcome="ok") == 1
            assert await metric(http, gateway_url, wakes, category="pm", outcome="failed") == 0
            took = await metric(
                http, gateway_url, "toolmesh_gateway_category_wake_seconds_sum", category="pm"
            )
            assert 0 < took < 30  # to the operator reporting a ready pod, within the wake's deadline
            assert await metric(http, gateway_url, "toolmesh_gateway_category_awake", category="pm") == 1
    finally:
        for task in (stand_in, late):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await gateway_runner.cleanup()
        for runner in runners:
            await runner.cleanup()


async def test_a_woken_category_whose_port_never_opens_fails_the_call_clearly_at_the_wake_deadline(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    closed_port: socket.socket,
) -> None:
    await apply_examples(cluster, kube, namespace)
    await ready(kube, "MCPIntegration", namespace, "status-page")
    port = closed_port.getsockname()[1]
    settings = cluster_gateway(
        cluster,
        namespace,
        category_endpoints={"pm": f"http://127.0.0.1:{port}/mcp"},
        category_start_seconds=8,
    )
    runner, url = await serve(create_gateway_app(settings))
    stand_in = asyncio.create_task(kubelet_stand_in(kube, namespace))
    try:
        async with Client(f"{url}/mcp") as client:
            started = time.monotonic()
            result = await client.call_tool("status__listComponents", {})
            took = time.monotonic() - started
        assert result.is_error
        assert re.fullmatch(
            rf"category pm is unavailable: category pm: cannot connect to 127\.0\.0\.1:{port}: "
            r"Connection refused \(\d+ attempts in \d+\.\d s\)",
            text(result),
        ), text(result)
        assert 2 < took < 8 + 2  # refused for a while after pm was ready, and no longer than the wake
    finally:
        stand_in.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stand_in
        await runner.cleanup()


@contextlib.asynccontextmanager
async def pm_asleep_after_2s(
    kube: KubeClient,
    namespace: str,
    cluster: LocalCluster,
    upstream_url: str,
    tmp_path: Path,
    *,
    start_seconds: float = 0.0,
) -> AsyncIterator[tuple[str, list[int]]]:
    """pm (tasks calling ``upstream_url``) scaled to zero after 2 s idle, its category server run
    here, the gateway in cluster mode in front of it, and a stand-in kubelet whose pods take
    ``start_seconds`` to be ready. Yields the gateway's URL and pm's Deployment replicas, sampled
    every 0.2 s from the start."""
    category_settings, _ = await pm_with_tasks(kube, namespace, cluster, upstream_url, tmp_path)
    await kube.patch(
        "MCPCategory", namespace, "pm", {"spec": {"scaleToZero": {"enabled": True, "idleAfter": "2s"}}}
    )
    category_runner, category_url = await serve(create_category_app(category_settings))
    gateway_settings = cluster_gateway(
        cluster, namespace, category_endpoints={"pm": f"{category_url}/mcp"}, category_start_seconds=30
    )
    gateway_runner, gateway_url = await serve(create_gateway_app(gateway_settings))
    scaled: list[int] = []

    async def watch_replicas() -> None:
        while True:
            scaled.append(await _replicas(kube, namespace) or 0)
            await asyncio.sleep(0.2)

    tasks = [
        asyncio.create_task(kubelet_stand_in(kube, namespace, start_seconds=start_seconds)),
        asyncio.create_task(watch_replicas()),
    ]
    try:
        yield gateway_url, scaled
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gateway_runner.cleanup()
        await category_runner.cleanup()


async def test_a_category_slower_to_start_than_its_idle_after_is_kept_awake_by_the_call_waiting(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    tasks_api: str,
    tmp_path: Path,
) -> None:
    """pm sleeps after 2 s idle and its pods take 5 s to be ready: the call that wakes it renews the
    demand Lease while it waits, so the operator does not scale pm back to zero mid-wake (the node
    tier's wakes failed so on a loaded machine), and the call is answered."""
    async with (
        pm_asleep_after_2s(kube, namespace, cluster, tasks_api, tmp_path, start_seconds=5.0) as (
            gateway_url,
            scaled,
        ),
        aiohttp.ClientSession() as http,
        Client(f"{gateway_url}/mcp") as client,
    ):
        started = time.monotonic()
        result = await client.call_tool("tasks__listProjects", {})
        took = time.monotonic() - started
        assert not result.is_error, text(result)
        assert [p["id"] for p in json.loads(text(result))] == ["apollo"]
        assert 5 <= took < 30
        # Once up, pm was never scaled back down while the call waited.
        woke = scaled.index(1)
        assert 0 not in scaled[woke:], scaled
        wakes = "toolmesh_gateway_category_wakes_total"
        assert await metric(http, gateway_url, wakes, category="pm", outcome="ok") == 1


async def test_a_call_longer_than_idle_after_keeps_its_category_up_until_it_ends(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster, tmp_path: Path
) -> None:
    """pm sleeps after 2 s idle; one call takes 5 s upstream. The gateway renews the demand Lease
    while the call is under way, so the operator keeps pm up through it, and scales it to zero
    once it has ended and 2 s have passed."""
    upstream = StubUpstream()
    await upstream.start()
    upstream.on("GET", "/v1/projects", Reply(body=[{"id": "slow"}], delay=5.0))
    try:
        async with pm_asleep_after_2s(kube, namespace, cluster, upstream.url, tmp_path) as (
            gateway_url,
            scaled,
        ):
            async with Client(f"{gateway_url}/mcp") as client:
                result = await client.call_tool("tasks__listProjects", {})
            during = list(scaled)
            assert not result.is_error, text(result)
            assert [p["id"] for p in json.loads(text(result))] == ["slow"]
            woke = during.index(1)
            assert 0 not in during[woke:], during  # up from the wake to the answer, 5 s past idleAfter
            await eventually(lambda: _asleep(kube, namespace), what="pm back to zero once idle")
    finally:
        await upstream.close()


async def _asleep(kube: KubeClient, namespace: str) -> bool:
    return await _replicas(kube, namespace) is None
