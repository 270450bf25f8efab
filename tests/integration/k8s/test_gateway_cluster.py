"""End to end on the real API server: ``kubectl apply -k examples/catalog`` → the operator reconciles
→ the gateway (cluster mode) indexes every tool → an SDK client's call wakes the pm category from
zero (the gateway's demand Lease) → the category server (run here on the volume the operator
mounts) → the demo Tasks API.

Nothing runs pods here, so a small stand-in plays kubelet and Deployment controller: once the
operator scales a category's Deployment up, it reports the pods ready, as they would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mcp import Client

from tests.integration.k8s.conftest import ROOT, OperatorThread, condition, eventually
from tests.integration.k8s.test_category_mount import lay_out_volume
from tests.integration.k8s.test_operator import integration, ready
from toolmesh.api import demand
from toolmesh.category.app import create_app as create_category_app
from toolmesh.category.settings import CategorySettings
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def tasks_api() -> AsyncIterator[str]:
    spec = importlib.util.spec_from_file_location(
        "tasks_demo_api", ROOT / "examples" / "local" / "tasks_demo_api.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runner, url = await serve(module.create_app())
    yield url
    await runner.cleanup()


async def kubelet_stand_in(kube: KubeClient, namespace: str) -> None:
    """Report every scaled-up category Deployment as rolled out and available."""
    while True:
        items, _ = await kube.list(
            "Deployment", namespace, label_selector=f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE}"
        )
        for item in items:
            wanted = int(item["spec"].get("replicas", 0))
            status = item.get("status") or {}
            if wanted and (
                status.get("availableReplicas") != wanted
                or status.get("observedGeneration") != item["metadata"]["generation"]
            ):
                await kube.patch("Deployment", namespace, item["metadata"]["name"], {"status": {
                    "observedGeneration": item["metadata"]["generation"], "replicas": wanted,
                    "updatedReplicas": wanted, "readyReplicas": wanted, "availableReplicas": wanted,
                }}, subresource="status")  # fmt: skip
        await asyncio.sleep(0.2)


async def apply_examples(
    cluster: LocalCluster, kube: KubeClient, namespace: str, *, api_key: str | None = None
) -> None:
    """``kubectl apply -k examples/catalog``, plus the Tasks API's Secret when ``api_key`` is given."""
    applied = await cluster.akubectl(
        "apply", "--server-side", "-n", namespace, "-k", str(ROOT / "examples" / "catalog")
    )
    assert applied.returncode == 0, applied.stderr
    if api_key is not None:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tasks-credentials", "namespace": namespace},
            "stringData": {"apiKey": api_key},
        }
        await kube.apply(secret, field_manager="kubectl-test")


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_examples_applied_with_kubectl_are_served_through_the_gateway_waking_pm_from_zero(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    tasks_api: str,
    tmp_path: Path,
) -> None:
    # What an environment overlay would add: the credentials, and where the Tasks API runs here.
    await apply_examples(cluster, kube, namespace, api_key="demo-key")
    await kube.patch(
        "MCPIntegration", namespace, "tasks", {"spec": {"openapi": {"baseUrl": f"{tasks_api}/v1"}}}
    )
    tasks = await ready(kube, "MCPIntegration", namespace, "tasks")
    status_page = await ready(kube, "MCPIntegration", namespace, "status-page")

    async def pm_serves_both() -> dict[str, Any] | None:
        obj = await ready(kube, "MCPCategory", namespace, "pm")
        return obj if obj["status"].get("integrations") == 2 else None

    pm = await eventually(pm_serves_both, what="pm counts tasks and status-page")
    assert condition(pm)["reason"] == "ScaledToZero"

    # The category server, on what the operator mounts (catalog volume and credentials).
    deployment = await kube.get("Deployment", namespace, names.server("pm"))
    assert deployment is not None
    await lay_out_volume(kube, namespace, deployment, tmp_path / "catalog")
    (tmp_path / "secrets" / "tasks-credentials").mkdir(parents=True)
    (tmp_path / "secrets" / "tasks-credentials" / "apiKey").write_text("demo-key")
    category_runner, category_url = await serve(create_category_app(CategorySettings(
        catalog=tmp_path / "catalog", category="pm", credentials_dir=tmp_path / "secrets", log_format="console",
    )))  # fmt: skip

    gateway_settings = GatewaySettings(
        auth="none",
        source="cluster", namespace=namespace, kubeconfig=str(cluster.kubeconfig), lexical_only=True,
        category_endpoints={"pm": f"{category_url}/mcp"}, category_start_seconds=30, log_format="console",
    )  # fmt: skip
    gateway_runner, gateway_url = await serve(create_gateway_app(gateway_settings))
    stand_in = asyncio.create_task(kubelet_stand_in(kube, namespace))
    try:
        async with Client(f"{gateway_url}/mcp") as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert len(listed) == tasks["status"]["tools"] + status_page["status"]["tools"]
            assert {"tasks__listProjects", "status__listComponents"} <= listed
            result = await client.call_tool("tasks__listProjects", {})
            assert not result.is_error, text(result)
            assert [p["id"] for p in json.loads(text(result))] == ["apollo"]

        lease = await kube.get("Lease", namespace, demand.lease_name("pm"))
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == socket.gethostname()
        assert lease["metadata"]["ownerReferences"][0]["name"] == "pm"
        woken = await kube.get("Deployment", namespace, names.server("pm"))
        assert woken is not None
        assert woken["spec"]["replicas"] == 1

        # A new integration applied later is indexed without a restart; a deleted one disappears.
        async with aiohttp.ClientSession() as http:

            async def tools_indexed(count: int) -> bool:
                async with http.get(f"{gateway_url}/readyz") as response:
                    return bool((await response.json())["tools"] == count)

            before = len(listed)
            await kube.apply(integration("notes", namespace, "pm"), field_manager="kubectl-test")
            await eventually(lambda: tools_indexed(before + 3), what="the new integration's tools indexed")
            await kube.delete("MCPIntegration", namespace, "status-page")
            await eventually(
                lambda: tools_indexed(before + 3 - status_page["status"]["tools"]),
                what="the deleted integration's tools dropped",
            )
        async with Client(f"{gateway_url}/mcp") as client:
            gone = await client.call_tool("status__listComponents", {})
            assert gone.is_error
            assert "unknown tool 'status__listComponents'" in text(gone)
    finally:
        stand_in.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stand_in
        await gateway_runner.cleanup()
        await category_runner.cleanup()


async def test_a_category_that_does_not_wake_in_time_fails_only_that_call_with_a_clear_error(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await apply_examples(cluster, kube, namespace)
    await ready(kube, "MCPIntegration", namespace, "status-page")
    settings = GatewaySettings(
        auth="none",
        source="cluster",
        namespace=namespace,
        kubeconfig=str(cluster.kubeconfig),
        lexical_only=True,
        category_start_seconds=1,
        log_format="console",
    )
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
