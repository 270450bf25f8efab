"""Scale to zero on the real API server: an idle category's Deployment at zero replicas and no HPA,
woken to ``replicas.min`` by the demand Lease the gateway writes (toolmesh.operator.scaling)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.integration.k8s.conftest import OperatorThread, condition, eventually
from tests.integration.k8s.test_operator import category, create, not_ready_reason, ready
from toolmesh.api import demand
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def test_an_idle_category_scales_to_zero_and_its_demand_lease_wakes_it(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await create(
        kube,
        category(
            "notes",
            namespace,
            scaleToZero={"enabled": True, "idleAfter": "1h"},
            replicas={"min": 2, "max": 5},
        ),
    )
    server = names.server("notes")
    cat = await ready(kube, "MCPCategory", namespace, "notes")
    assert condition(cat)["reason"] == "ScaledToZero"
    deployment = await kube.get("Deployment", namespace, server)
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 0
    assert await kube.get("HorizontalPodAutoscaler", namespace, server) is None

    # The gateway's demand signal: it alone writes this Lease.
    lease = demand.lease("notes", namespace, "gateway", dt.datetime.now(dt.UTC))
    await kube.apply(lease, field_manager=demand.FIELD_MANAGER)

    async def awake() -> dict[str, Any] | None:
        live = await kube.get("Deployment", namespace, server)
        return live if (live or {}).get("spec", {}).get("replicas") == 2 else None

    await eventually(awake, what="woken to replicas.min")
    await eventually(lambda: kube.get("HorizontalPodAutoscaler", namespace, server), what="HPA back")
    # No pod is ready yet (nothing runs pods here), and the status says so.
    assert (
        await eventually(lambda: not_ready_reason(kube, namespace, "notes", "MCPCategory"))
        == "MinimumReplicasUnavailable"
    )
    # What a kubelet and the Deployment controller would report once the pods run:
    live = await awake()
    await kube.patch(
        "Deployment",
        namespace,
        server,
        {
            "status": {
                "observedGeneration": live["metadata"]["generation"],
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
            }
        },
        subresource="status",
    )
    cat = await ready(kube, "MCPCategory", namespace, "notes")
    assert (condition(cat)["reason"], cat["status"]["readyReplicas"]) == ("Reconciled", 2)
