"""An integration's circuit in its status, on the real API server: the gateway (cluster mode) in
front of a real category server whose upstream (a stub) fails on demand writes ``Available=False``
(``CircuitOpen``) when its breaker opens and ``Available=True`` (``CircuitClosed``) when a trial
call closes it, under its own field manager, beside the operator's conditions and its ``Indexed``."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.integration.k8s.conftest import OperatorThread, cluster_gateway, condition, eventually, serve
from tests.integration.k8s.test_gateway_cluster import kubelet_stand_in, pm_with_tasks, text
from toolmesh.category.app import create_app as create_category_app
from toolmesh.common.call_meta import REFUSED_META
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.kube import KubeClient
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def test_an_open_circuit_is_shown_on_the_integration_and_cleared_when_it_closes(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster, tmp_path: Path
) -> None:
    upstream = StubUpstream()
    await upstream.start()
    category_settings, _ = await pm_with_tasks(kube, namespace, cluster, upstream.url, tmp_path)
    category_runner, category_url = await serve(create_category_app(category_settings))
    gateway_settings = cluster_gateway(
        cluster,
        namespace,
        category_endpoints={"pm": f"{category_url}/mcp"},
        category_start_seconds=30,
        breaker_failures=2,
        breaker_cooldown_seconds=0.5,
    )
    gateway_runner, gateway_url = await serve(create_gateway_app(gateway_settings))
    stand_in = asyncio.create_task(kubelet_stand_in(kube, namespace))

    async def available(reason: str) -> dict[str, Any] | None:
        obj = await kube.get("MCPIntegration", namespace, "tasks")
        return obj if condition(obj, "Available").get("reason") == reason else None

    try:
        upstream.on("GET", "/v1/projects", Reply(status=503, body="maintenance"))
        async with Client(f"{gateway_url}/mcp") as client:
            for _ in range(2):
                assert "HTTP 503" in text(await client.call_tool("tasks__listProjects", {}))
            obj = await eventually(lambda: available("CircuitOpen"), what="Available=False CircuitOpen")
            assert condition(obj, "Available")["status"] == "False"
            assert "circuit breaker for this integration is open" in condition(obj, "Available")["message"]
            assert condition(obj, "Ready")["status"] == "True"  # the operator's, untouched
            assert condition(obj, "Indexed")["status"] == "True"  # the gateway's other writer's
            managers = {
                m["manager"] for m in obj["metadata"]["managedFields"] if m.get("subresource") == "status"
            }
            assert {"toolmesh-gateway", "toolmesh-gateway-circuit"} <= managers
            other = await kube.get("MCPIntegration", namespace, "status-page")
            assert condition(other, "Available") == {}  # one integration's circuit

            upstream.on("GET", "/v1/projects", Reply(body=[{"id": "apollo"}]))
            async with asyncio.timeout(10):
                for _ in range(100):
                    result = await client.call_tool("tasks__listProjects", {})
                    if not (result.meta or {}).get(REFUSED_META):
                        break
                    await asyncio.sleep(0.1)
            assert "apollo" in text(result)
        obj = await eventually(lambda: available("CircuitClosed"), what="Available=True CircuitClosed")
        assert condition(obj, "Available")["status"] == "True"
        assert condition(obj, "Indexed")["status"] == "True"
    finally:
        stand_in.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stand_in
        await gateway_runner.cleanup()
        await category_runner.cleanup()
        await upstream.close()
