"""The operator's /metrics against a real API server: each MCPIntegration's Ready state, as the
operator reports it in status, with its reason; an integration deleted is gone from the next scrape."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.k8s.conftest import OperatorThread, condition, eventually
from tests.integration.k8s.test_operator import category, create, integration, ready
from toolmesh.kube import KubeClient
from toolmesh.operator.settings import OperatorSettings
from toolmesh.testing.cluster import free_port

pytestmark = pytest.mark.k8s
READY = "toolmesh_operator_integration_ready"


@pytest.fixture
def operator_settings(namespace: str) -> OperatorSettings:
    return OperatorSettings(
        namespaces=[namespace],
        resync_seconds=3600,
        category_image="toolmesh:test",
        log_format="console",
        metrics_port=free_port(),
    )


async def scrape(port: int) -> dict[str, tuple[dict[str, str], float]]:
    """The Ready gauge's samples, by integration: (labels, value)."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        families = text_string_to_metric_families(await response.text())
        return {
            s.labels["integration"]: (s.labels, s.value)
            for f in families
            for s in f.samples
            if s.name == READY
        }


async def test_the_ready_gauge_follows_each_integrations_ready_condition_and_its_reason(
    kube: KubeClient, operator: OperatorThread, operator_settings: OperatorSettings, namespace: str
) -> None:
    port = operator_settings.metrics_port
    assert port is not None
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    await create(kube, integration("orphan", namespace, "nowhere"))
    await ready(kube, "MCPIntegration", namespace, "notes-api")

    async def orphan_not_ready() -> str | None:
        ready_condition = condition(await kube.get("MCPIntegration", namespace, "orphan"))
        return str(ready_condition["reason"]) if ready_condition.get("status") == "False" else None

    orphan_reason = await eventually(orphan_not_ready, what="orphan reported not Ready")

    async def both_reported() -> dict[str, tuple[dict[str, str], float]] | None:
        found = await scrape(port)
        return found if found.get("orphan", ({}, -1))[0].get("reason") == orphan_reason else None

    found = await eventually(both_reported, what="both integrations in /metrics")
    notes_ready = condition(await kube.get("MCPIntegration", namespace, "notes-api"))["reason"]
    assert found["notes-api"] == (
        {"namespace": namespace, "integration": "notes-api", "category": "notes", "reason": notes_ready},
        1.0,
    )
    assert found["orphan"] == (
        {"namespace": namespace, "integration": "orphan", "category": "nowhere", "reason": orphan_reason},
        0.0,
    )
    await kube.delete("MCPIntegration", namespace, "orphan")

    async def orphan_gone() -> bool:
        return "orphan" not in await scrape(port)

    await eventually(orphan_gone, what="a deleted integration gone from /metrics")
    assert (await scrape(port))["notes-api"][1] == 1.0
