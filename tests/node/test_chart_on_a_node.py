"""The chart on a real node, as a cluster admin runs it, in the order an admin lives it: install,
apply the catalogue, call tools, wake a sleeping category, lose pods under load, upgrade, uninstall.

The tests share one release and run in file order (each leaves the release serving).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from toolmesh.testing.release import Load, Release, mcp_client, ready, text_of, wait_for

pytestmark = pytest.mark.node
CREATE = "tasks__createTask"
LIST = "tasks__listTasks"
SELECTOR = {
    "gateway": "app.kubernetes.io/name=toolmesh-gateway",
    "operator": "app.kubernetes.io/name=toolmesh-operator",
}


async def create_task(release: Release, title: str) -> dict[str, Any]:
    async with mcp_client(release.gateway_url, timeout=60) as client:
        result = await client.call_tool(CREATE, {"projectId": "apollo", "body": {"title": title}})
    assert not result.is_error, text_of(result)
    task: dict[str, Any] = json.loads(text_of(result))
    return task


def test_operator_and_gateway_run_as_real_pods_with_in_cluster_credentials(release: Release) -> None:
    """``helm install --wait`` returned, so both Deployments are Available through the kubelet; each pod
    is Ready by its own probes, on the node's pod network, never restarted, and never refused by the
    API server (the in-pod token was once sent as ``Bearer bearer <jwt>``)."""
    for component, selector in SELECTOR.items():
        running = release.pods(selector)
        assert running, f"no {component} pod"
        for pod in running:
            assert pod["spec"]["nodeName"] == "toolmesh-node"
            assert pod["status"]["podIP"].startswith("10.244.0."), pod["status"]
            assert ready(pod), pod["status"]
            container = pod["spec"]["containers"][0]
            assert container.get("readinessProbe") or container.get("livenessProbe"), component
            assert all(s["restartCount"] == 0 for s in pod["status"]["containerStatuses"]), pod["status"]
            logs = release.kubectl("logs", pod["metadata"]["name"]).stdout
            assert "401" not in logs, logs[-2000:]
            assert "Unauthorized" not in logs, logs[-2000:]
            assert "Task exception was never retrieved" not in logs, logs[-2000:]
    assert len(release.pods(SELECTOR["gateway"])) == 2


def test_every_category_is_ready_and_serves_from_real_pods(release: Release) -> None:
    release.kubectl("wait", "--for=condition=Ready", "mcpcategory", "--all", "--timeout=180s")
    release.kubectl("wait", "--for=condition=Ready", "mcpintegration/tasks", "--timeout=180s")
    # `code` has no scale to zero: its server runs, Ready by its own readiness probe.
    wait_for("a ready code category pod", lambda: any(ready(p) for p in release.category_pods("code")))


async def test_a_tool_call_through_the_gateway_service_wakes_pm_and_returns_the_upstreams_answer(
    release: Release,
) -> None:
    # pm scales to zero and nobody has used it yet: it has no pod until this call.
    assert not release.category_pods("pm")
    async with mcp_client(release.gateway_url, timeout=60) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {CREATE, LIST} <= names, names
    title = f"ship-{uuid.uuid4().hex[:6]}"
    task = await create_task(release, title)
    assert task["title"] == title
    assert task["status"] == "todo"
    async with mcp_client(release.gateway_url) as client:
        listed = await client.call_tool(LIST, {"projectId": "apollo"})
    assert title in text_of(listed)
    assert any(ready(p) for p in release.category_pods("pm"))


async def test_a_category_at_zero_is_woken_by_each_call_without_a_refused_connection(
    release: Release,
) -> None:
    """Wakes repeat the race real pods showed: Ready before kube-proxy routes the Service."""
    release.patch_category("pm", {"scaleToZero": {"enabled": True, "idleAfter": "5s"}})
    try:
        for attempt in range(3):
            wait_for("pm at zero", lambda: not release.category_pods("pm"), timeout=90)
            started = time.monotonic()
            task = await create_task(release, f"wake-{attempt}")
            print(f"wake {attempt}: {time.monotonic() - started:.2f} s")
            assert task["title"] == f"wake-{attempt}", (attempt, time.monotonic() - started)
    finally:
        release.patch_category("pm", {"scaleToZero": {"enabled": True, "idleAfter": "15m"}})


async def test_a_category_pod_killed_under_load_fails_only_calls_in_flight(release: Release) -> None:
    release.patch_category("pm", {"replicas": {"min": 2, "max": 3}, "scaleToZero": {"enabled": False}})
    wait_for("two ready pm pods", lambda: sum(ready(p) for p in release.category_pods("pm")) >= 2, 120)
    load = Load(release.gateway_url, CREATE, {"projectId": "load", "body": {"title": "under load"}},
                calls=160, concurrency=4, seconds=90)  # fmt: skip
    running = asyncio.create_task(load.run())
    await asyncio.sleep(2)
    victim = release.category_pods("pm")[0]["metadata"]["name"]
    release.kubectl("delete", "pod", victim, "--grace-period=0", "--force", "--wait=false")
    await running
    print(f"pm pod killed under load: {load.ok} ok, failures {load.failures}")
    assert load.ok + len(load.failures) >= 100, (load.ok, load.failures)
    assert len(load.failures) <= load.concurrency, load.failures
    for failure in load.failures:  # clear errors naming what failed, never a traceback
        assert "Traceback" not in failure, failure
        assert "pm" in failure, failure
    wait_for(
        "pm back to two ready pods", lambda: sum(ready(p) for p in release.category_pods("pm")) >= 2, 120
    )
    assert (await create_task(release, "after the kill"))["title"] == "after the kill"


async def test_both_gateway_replicas_serve_and_one_dying_fails_only_calls_in_flight(release: Release) -> None:
    gateways = release.pods(SELECTOR["gateway"])
    assert len(gateways) == 2
    for pod in gateways:  # each replica answers on its own address
        async with mcp_client(f"http://{pod['status']['podIP']}:8080/mcp") as client:
            assert CREATE in {t.name for t in (await client.list_tools()).tools}
    load = Load(release.gateway_url, LIST, {"projectId": "apollo"}, calls=160, concurrency=4, seconds=90)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(2)
    release.kubectl("delete", "pod", gateways[0]["metadata"]["name"], "--wait=false")
    await running
    print(f"gateway pod deleted under load: {load.ok} ok, failures {load.failures}")
    assert load.ok + len(load.failures) >= 100, (load.ok, load.failures)
    assert len(load.failures) <= load.concurrency, load.failures
    wait_for("two ready gateways", lambda: sum(ready(p) for p in release.pods(SELECTOR["gateway"])) == 2)


async def test_helm_upgrade_with_a_changed_value_rolls_with_no_failed_call(release: Release) -> None:
    before = {p["metadata"]["name"] for p in release.pods(SELECTOR["gateway"])}
    load = Load(release.gateway_url, LIST, {"projectId": "apollo"}, calls=400, concurrency=2, seconds=150)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(1)
    upgraded = await asyncio.to_thread(release.upgrade, "--set", "gateway.logLevel=DEBUG")
    assert upgraded.returncode == 0, upgraded.stderr
    load.stop()  # the calls in flight finish; no new ones start
    await running
    print(f"helm upgrade under load: {load.ok} ok, failures {load.failures}")
    after = {p["metadata"]["name"] for p in release.pods(SELECTOR["gateway"])}
    assert not before & after, "the gateway pods were not replaced"
    assert load.failures == []
    assert load.ok > 0


def test_helm_uninstall_leaves_nothing_but_the_crds(release: Release) -> None:
    done = release.run("uninstall", "toolmesh", "--wait", "--timeout=2m")
    assert done.returncode == 0, done.stderr
    selector = "app.kubernetes.io/managed-by=Helm"
    for kind in ("deployments", "services", "serviceaccounts", "roles", "rolebindings", "configmaps",
                 "poddisruptionbudgets", "horizontalpodautoscalers", "networkpolicies"):  # fmt: skip
        left = release.json(kind, "-l", selector)["items"]
        assert not left, f"{kind} left: {[o['metadata']['name'] for o in left]}"
    for kind in ("clusterroles", "clusterrolebindings"):
        left = release.cluster.kubectl("get", kind, "-l", selector, "-o", "name").stdout.split()
        assert not left, left
    wait_for("the release's pods gone", lambda: not release.pods("app.kubernetes.io/instance=toolmesh"))
    crds = release.cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    assert {"customresourcedefinition.apiextensions.k8s.io/mcpcategories.toolmesh.dev",
            "customresourcedefinition.apiextensions.k8s.io/mcpintegrations.toolmesh.dev"} <= set(crds)  # fmt: skip
    assert release.kubectl("get", "mcpcategory", "pm").returncode == 0  # the admin's own objects are kept
