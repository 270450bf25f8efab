"""Faults of the control plane under the operator and the gateway, on the real API server.

The API server is restarted (SIGTERM, as a control-plane upgrade does) while the operator reconciles
and the gateway follows the catalog: both reconnect on their own, no change made afterwards is lost,
nothing is created twice, and a resync afterwards writes nothing. The time from the API server's
start to both having caught up is printed (docs/operations/install.md quotes it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.integration.k8s.conftest import OperatorThread, cluster_gateway, eventually, serve
from tests.integration.k8s.test_gateway_cluster import readyz
from tests.integration.k8s.test_operator import category, create, integration, ready
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s
CHILDREN = ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount")


async def children(kube: KubeClient, namespace: str) -> dict[str, list[str]]:
    selector = f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE}"
    found = {}
    for kind in CHILDREN:
        items, _ = await kube.list(kind, namespace, label_selector=selector)
        found[kind] = sorted(item["metadata"]["name"] for item in items)
    return found


async def test_the_operator_and_the_gateway_ride_out_an_api_server_restart(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    await ready(kube, "MCPIntegration", namespace, "notes-api")
    settings = cluster_gateway(cluster, namespace)
    runner, url = await serve(create_gateway_app(settings))
    try:
        async with aiohttp.ClientSession() as http:

            async def tools(count: int) -> dict[str, Any] | None:
                status, body = await readyz(http, url)
                return body if status == 200 and body["tools"] == count else None

            await eventually(lambda: tools(3), what="the gateway indexed notes-api")
            await operator.idle()
            before = await children(kube, namespace)
            assert all(before[kind] for kind in CHILDREN), before

            start_to_ready = await asyncio.to_thread(cluster.restart_api_server, 2.0)
            back = time.monotonic()
            # Changes made once it is back reach both, whatever their watches were doing.
            await create(kube, integration("more-api", namespace, "notes"))
            await ready(kube, "MCPIntegration", namespace, "more-api")
            await eventually(
                lambda: tools(6), timeout=60, what="the gateway indexed more-api after the restart"
            )
            caught_up = time.monotonic() - back
            await kube.delete("MCPIntegration", namespace, "notes-api")
            await eventually(
                lambda: tools(3), timeout=60, what="the gateway dropped notes-api after the restart"
            )

        async def serving_two() -> bool:
            await operator.idle()
            live = await kube.get("MCPCategory", namespace, "notes")
            return bool(live) and live["status"].get("integrations") == 1

        await eventually(serving_two, timeout=60, what="the category recounted after the deletion")
        assert await children(kube, namespace) == before  # nothing created twice, nothing lost
        writes = operator.writes
        operator.request("MCPCategory", namespace, "notes")
        operator.request("MCPIntegration", namespace, "more-api")
        await operator.idle()
        assert operator.writes == writes, operator.operator.client.writes
    finally:
        await runner.cleanup()
    print(
        f"\nAPI server ready {start_to_ready:.1f} s after its start; a change made then was reconciled "
        f"and indexed {caught_up:.1f} s later"
    )
