"""End to end on the real API server: ``kubectl apply -k examples/catalog`` → the operator reconciles
→ the gateway (cluster mode) indexes every tool → an SDK client's call wakes the pm category from
zero (the gateway's demand Lease) → the category server (run here on the volume the operator
mounts) → the demo Tasks API.

Nothing runs pods here, so a small stand-in plays kubelet and Deployment controller: once the
operator scales a category's Deployment up, it reports the pods ready, as they would be. A socket
bound but not yet listening plays a Service that routes to a ready pod only a while later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.k8s.conftest import ROOT, OperatorThread, cluster_gateway, condition, eventually, serve
from tests.integration.k8s.test_category_mount import lay_out_volume
from tests.integration.k8s.test_operator import category, create, integration, ready
from toolmesh.api import demand
from toolmesh.category.app import create_app as create_category_app
from toolmesh.category.settings import CategorySettings
from toolmesh.gateway.app import SERVICE
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.gateway.index.embedder import EmbeddingCache, FastEmbedder
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def kubelet_stand_in(kube: KubeClient, namespace: str, start_seconds: float = 0.0) -> None:
    """Report every scaled-up category Deployment as rolled out and available, once it has wanted
    pods for ``start_seconds`` (pods slow to start); one scaled back to zero meanwhile starts over."""
    wanted_since: dict[str, float] = {}
    while True:
        items, _ = await kube.list(
            "Deployment", namespace, label_selector=f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE}"
        )
        for item in items:
            name, wanted = item["metadata"]["name"], int(item["spec"].get("replicas", 0))
            if not wanted:
                wanted_since.pop(name, None)
                continue
            since = wanted_since.setdefault(name, time.monotonic())
            status = item.get("status") or {}
            if time.monotonic() - since >= start_seconds and (
                status.get("availableReplicas") != wanted
                or status.get("observedGeneration") != item["metadata"]["generation"]
            ):
                await kube.patch("Deployment", namespace, name, {"status": {
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


async def pm_with_tasks(
    kube: KubeClient, namespace: str, cluster: LocalCluster, tasks_api: str, tmp_path: Path
) -> tuple[CategorySettings, dict[str, dict[str, Any]]]:
    """The examples applied and Ready, tasks calling ``tasks_api``; the pm category server's settings
    on what the operator mounts (catalog volume and credentials), and the Ready integrations."""
    # What an environment overlay would add: the credentials, and where the Tasks API runs here.
    await apply_examples(cluster, kube, namespace, api_key="demo-key")
    await kube.patch(
        "MCPIntegration", namespace, "tasks", {"spec": {"openapi": {"baseUrl": f"{tasks_api}/v1"}}}
    )
    integrations = {
        name: await ready(kube, "MCPIntegration", namespace, name) for name in ("tasks", "status-page")
    }

    async def pm_serves_both() -> dict[str, Any] | None:
        obj = await ready(kube, "MCPCategory", namespace, "pm")
        return obj if obj["status"].get("integrations") == 2 else None

    pm = await eventually(pm_serves_both, what="pm counts tasks and status-page")
    assert condition(pm)["reason"] == "ScaledToZero"
    deployment = await kube.get("Deployment", namespace, names.server("pm"))
    assert deployment is not None
    await lay_out_volume(kube, namespace, deployment, tmp_path / "catalog")
    (tmp_path / "secrets" / "tasks-credentials").mkdir(parents=True)
    (tmp_path / "secrets" / "tasks-credentials" / "apiKey").write_text("demo-key")
    settings = CategorySettings(
        catalog=tmp_path / "catalog",
        category="pm",
        credentials_dir=tmp_path / "secrets",
        log_format="console",
    )
    return settings, integrations


async def test_examples_applied_with_kubectl_are_served_through_the_gateway_waking_pm_from_zero(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    tasks_api: str,
    tmp_path: Path,
) -> None:
    category_settings, integrations = await pm_with_tasks(kube, namespace, cluster, tasks_api, tmp_path)
    tasks, status_page = integrations["tasks"], integrations["status-page"]
    category_runner, category_url = await serve(create_category_app(category_settings))

    gateway_settings = cluster_gateway(
        cluster, namespace, category_endpoints={"pm": f"{category_url}/mcp"}, category_start_seconds=30
    )
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


async def readyz(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/readyz") as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def failing(kube: KubeClient, kind: str, namespace: str, type_: str) -> dict[str, str]:
    """What the operator reports of each object whose ``type_`` condition is False (its message)."""
    items, _ = await kube.list(kind, namespace)
    return {
        item["metadata"]["name"]: condition(item, type_)["message"]
        for item in items
        if condition(item, type_).get("status") == "False"
    }


async def test_readyz_states_failing_integrations_and_categories_down_and_the_gateway_stays_ready(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    """The same problems as in folder mode (tests/e2e/test_gateway_readiness.py): here from the
    objects' status (tasks lacks its Secret, orphan names no category; code, kept at one pod, has
    none, as nothing runs pods here) and from a category that did not wake; none makes the gateway
    unready."""
    await apply_examples(cluster, kube, namespace)
    await create(kube, integration("orphan", namespace, "nowhere"))
    await ready(kube, "MCPIntegration", namespace, "status-page")

    async def both_failing() -> dict[str, str] | None:
        found = await failing(kube, "MCPIntegration", namespace, "Ready")
        return found if {"tasks", "orphan"} <= set(found) else None

    integrations = await eventually(both_failing, what="tasks and orphan reported not Ready")
    settings = cluster_gateway(cluster, namespace, category_start_seconds=1)
    runner, url = await serve(create_gateway_app(settings))
    try:
        async with aiohttp.ClientSession() as http:
            status, body = await readyz(http, url)
            assert status == 200
            assert body["tools"] == len(runner.app[SERVICE].router.indexed) > 0
            assert body["problems"]["integrations"] == integrations
            assert body["problems"]["index"] is None
            assert integrations["orphan"].startswith("spec.category")  # the operator's sentence, as it is

            async def as_the_operator_says() -> bool:
                _, body = await readyz(http, url)
                down = await failing(kube, "MCPCategory", namespace, "Available")
                return "code" in down and body["problems"]["categories"] == down

            await eventually(as_the_operator_says, what="the categories the operator reports not Available")
            down = "toolmesh_gateway_category_down"
            assert await metric(http, url, down, category="code") == 1
            assert await metric(http, url, "toolmesh_gateway_category_awake", category="code") == 0

            async with Client(f"{url}/mcp") as client:
                result = await client.call_tool("status__listComponents", {})
            assert result.is_error

            async def pm_down() -> str | None:
                status, body = await readyz(http, url)
                assert status == 200, "a category down leaves the gateway ready: the others are served"
                pm = await kube.get("MCPCategory", namespace, "pm")
                available = condition(pm, "Available")
                operator_says = available["message"] if available.get("status") == "False" else None
                found: str | None = body["problems"]["categories"].get("pm")
                wake_failed = "was not ready within 1 s" in (found or "")
                return found if found and (found == operator_says or wake_failed) else None

            assert await eventually(pm_down, what="pm reported down")
            assert await metric(http, url, down, category="pm") == 1
            await kube.delete("MCPIntegration", namespace, "orphan")

            async def orphan_gone() -> bool:
                return "orphan" not in (await readyz(http, url))[1]["problems"]["integrations"]

            await eventually(orphan_gone, what="a deleted integration's problem dropped")
    finally:
        await runner.cleanup()


async def metric(http: aiohttp.ClientSession, gateway_url: str, name: str, **labels: str) -> float:
    """A sample of the gateway's /metrics (0 when it has none with these labels)."""
    async with http.get(f"{gateway_url}/metrics") as response:
        for family in text_string_to_metric_families(await response.text()):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return sample.value
    return 0.0


async def test_with_embeddings_the_index_is_rebuilt_in_a_thread_and_a_failed_rebuild_keeps_the_last_one(
    kube: KubeClient,
    operator: OperatorThread,
    namespace: str,
    cluster: LocalCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The embedding cache, opened in the test's thread, serves the rebuilds that run in executor
    threads as integrations come (once failing on every run: SQLite objects created in a thread
    can only be used in that same thread); and a rebuild that fails is logged, searches keep the
    index they had, and no task is left with an exception nobody retrieved."""
    embedder = FastEmbedder(threads=1, cache=EmbeddingCache(tmp_path / "vectors.sqlite", "test"))
    await create(kube, category("notes", namespace))
    settings = cluster_gateway(cluster, namespace, lexical_only=False)
    runner, _ = await serve(create_gateway_app(settings, embedder=embedder))
    service = runner.app[SERVICE]

    def found(query: str) -> list[str]:
        return [r.name for r in service.router.search(query, limit=3, budget=1500)]

    try:
        await create(kube, integration("notes-api", namespace, "notes"))

        async def indexed() -> bool:
            return "notes-api__deleteNote" in found("remove a note")

        await eventually(indexed, what="notes-api's tools in the index")
        assert len(embedder.cache) > 0

        embedder.cache.close()  # the next rebuild fails
        await create(kube, integration("journal", namespace, "notes"))
        printed: list[str] = []

        async def rebuild_failed() -> bool:
            printed.append(capsys.readouterr().out)
            return "catalog.index_rebuild_failed" in caplog.text + "".join(printed)

        await eventually(rebuild_failed, what="the failed rebuild logged")
        assert "journal__deleteNote" in service.catalog.tools
        assert "Cannot operate on a closed database" in caplog.text + "".join(printed)
        results = found("remove a note")
        assert "notes-api__deleteNote" in results
        assert not [name for name in results if name.startswith("journal")]
    finally:
        await runner.cleanup()


async def test_the_gateway_reports_indexed_and_a_digest_the_operator_did_not_compile(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    """The gateway writes one condition of its own, Indexed (server-side apply, status only), which the
    operator neither fights nor rewrites; when the operator's digest is not what the gateway compiles
    (an operator of another version), the gateway says so on the object, in /readyz and in a metric."""
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    live = await ready(kube, "MCPIntegration", namespace, "notes-api")
    digest = live["status"]["specDigest"]
    settings = cluster_gateway(cluster, namespace)
    runner, url = await serve(create_gateway_app(settings))

    async def indexed(reason: str) -> dict[str, Any] | None:
        obj = await kube.get("MCPIntegration", namespace, "notes-api")
        return obj if condition(obj, "Indexed").get("reason") == reason else None

    async def mismatches(http: aiohttp.ClientSession) -> float:
        async with http.get(f"{url}/metrics") as response:
            families = text_string_to_metric_families(await response.text())
            return next(
                s.value
                for f in families
                for s in f.samples
                if s.name == "toolmesh_gateway_spec_digest_mismatches"
            )

    try:
        obj = await eventually(lambda: indexed("Indexed"), what="Indexed=True written by the gateway")
        assert condition(obj, "Indexed")["status"] == "True"
        assert condition(obj, "Indexed")["message"] == "3 tools are in the gateway's search index."
        assert condition(obj, "Ready")["status"] == "True"
        owners = {m["manager"] for m in obj["metadata"]["managedFields"] if m.get("subresource") == "status"}
        assert "toolmesh-gateway" in owners
        # The operator keeps its own conditions and writes nothing on a resync.
        await operator.idle()
        before = operator.writes
        operator.request("MCPIntegration", namespace, "notes-api")
        await operator.idle()
        assert operator.writes == before, operator.operator.client.writes
        assert await indexed("Indexed")

        # An operator of another compiler version: its digest differs from the gateway's.
        operator.stop()
        other = "sha256:" + "0" * 64
        await kube.apply_status(
            {"apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
             "metadata": {"name": "notes-api", "namespace": namespace},
             "status": {**live["status"], "specDigest": other}},
            field_manager=names.FIELD_MANAGER,
        )  # fmt: skip
        obj = await eventually(lambda: indexed("DigestMismatch"), what="Indexed=False DigestMismatch")
        message = condition(obj, "Indexed")["message"]
        assert condition(obj, "Indexed")["status"] == "False"
        assert f"compiled this spec to {digest}, but status.specDigest (the operator's) is {other}" in message
        async with aiohttp.ClientSession() as http:
            status, body = await readyz(http, url)
            assert status == 200
            assert body["problems"]["integrations"]["notes-api"] == message
            assert await mismatches(http) == 1
            # The tools stay searchable: what the gateway compiled is what it can offer.
            assert body["tools"] == 3
            await kube.apply_status(
                {"apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
                 "metadata": {"name": "notes-api", "namespace": namespace},
                 "status": {**live["status"], "specDigest": digest}},
                field_manager=names.FIELD_MANAGER,
            )  # fmt: skip
            await eventually(lambda: indexed("Indexed"), what="Indexed=True again once the digests agree")
            assert await mismatches(http) == 0
            assert "notes-api" not in (await readyz(http, url))[1]["problems"]["integrations"]
    finally:
        await runner.cleanup()
