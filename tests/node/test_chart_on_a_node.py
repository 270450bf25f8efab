"""The chart on a real node, as a cluster admin runs it, in the order an admin lives it: install,
apply the catalogue, call tools, wake a sleeping category, lose pods under load, upgrade, uninstall.

The tests share one release and run in file order (each leaves the release serving).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from typing import Any

import pytest

from toolmesh.testing.node import LocalNode
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
            assert "Unauthorized" not in logs, logs[-2000:]
            assert "Task exception was never retrieved" not in logs, logs[-2000:]
    assert len(release.pods(SELECTOR["gateway"])) == 2


def test_pods_reach_nothing_outside_the_machine(node: LocalNode) -> None:
    """The node's network has no default route and its bridge does not masquerade."""
    route = subprocess.run(
        ["ip", "netns", "exec", node.network.netns, "ip", "route", "get", "192.0.2.1"],
        capture_output=True,
        text=True,
    )
    assert route.returncode != 0
    assert "unreachable" in route.stderr
    routes = subprocess.run(
        ["ip", "netns", "exec", node.network.netns, "ip", "route"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in routes, routes
    assert node.network.bridge in routes, routes  # the pods' bridge, and the link to the host: nothing else


def test_every_category_is_ready_and_serves_from_real_pods(release: Release) -> None:
    release.kubectl("wait", "--for=condition=Ready", "mcpcategory", "--all", "--timeout=180s")
    release.kubectl("wait", "--for=condition=Ready", "mcpintegration/tasks", "--timeout=180s")
    # `code` has no scale to zero: its server runs, Ready by its own readiness probe.
    wait_for("a ready code category pod", lambda: any(ready(p) for p in release.category_pods("code")))


async def test_a_tool_call_through_the_gateway_service_wakes_pm_and_returns_the_upstreams_answer(
    release: Release,
) -> None:
    # pm scales to zero and nobody has used it yet: it has no pod until this call.
    assert release.asleep("pm")
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
            wait_for("pm at zero", lambda: release.asleep("pm"), timeout=90)
            started = time.monotonic()
            task = await create_task(release, f"wake-{attempt}")
            print(f"wake {attempt}: {time.monotonic() - started:.2f} s")
            assert task["title"] == f"wake-{attempt}", (attempt, time.monotonic() - started)
    finally:
        release.patch_category("pm", {"scaleToZero": {"enabled": True, "idleAfter": "15m"}})


async def test_a_category_pod_killed_under_load_fails_only_calls_in_flight(
    release: Release, node: LocalNode
) -> None:
    """The server process of one of two pm pods is SIGKILLed (a crash, no graceful anything); the
    kubelet restarts it. Calls go on through the other pod; only those the dead one held may fail."""
    release.patch_category("pm", {"replicas": {"min": 2, "max": 3}, "scaleToZero": {"enabled": False}})
    wait_for("two ready pm pods", lambda: sum(ready(p) for p in release.category_pods("pm")) >= 2, 120)
    load = Load(release.gateway_url, CREATE, {"projectId": "load", "body": {"title": "under load"}},
                calls=100_000, concurrency=4, seconds=90)  # fmt: skip
    victim = release.category_pods("pm")[0]

    def restarted_and_ready() -> bool:
        pods = {p["metadata"]["name"]: p for p in release.category_pods("pm")}
        again = pods.get(victim["metadata"]["name"])
        restarts = again["status"]["containerStatuses"][0]["restartCount"] if again else 0
        return restarts >= 1 and sum(ready(p) for p in pods.values()) >= 2

    crash = victim["status"]["containerStatuses"][0]["containerID"]
    before = await load.across(lambda: node.kill_container(crash), restarted_and_ready)
    print(
        f"pm server crashed under load: {before} ok before, {load.ok - before} after, failures {load.failures}"
    )
    assert before > 20
    assert load.ok - before > 20, "calls did not go on while the server restarted"
    assert len(load.failures) <= load.concurrency, load.failures
    for failure in load.failures:  # clear errors naming what failed, never a traceback
        assert "Traceback" not in failure, failure
        assert "pm" in failure, failure
    assert (await create_task(release, "after the kill"))["title"] == "after the kill"


def test_a_hung_category_server_is_taken_out_by_its_probes_and_restarted(
    release: Release, node: LocalNode
) -> None:
    """SIGSTOP one pm server (alive, answering nothing): its readiness probe takes it out of the
    Service, its liveness probe has the kubelet restart it, and it comes back Ready."""
    victim = next(p for p in release.category_pods("pm") if ready(p))
    name, status = victim["metadata"]["name"], victim["status"]["containerStatuses"][0]
    os.kill(node.container_pid(status["containerID"]), signal.SIGSTOP)

    def pod() -> dict[str, Any]:
        return next(p for p in release.category_pods("pm") if p["metadata"]["name"] == name)

    wait_for("the hung pod out of the Service (readiness)", lambda: not ready(pod()), timeout=60)
    wait_for(
        "the hung server restarted (liveness) and Ready again",
        lambda: (
            pod()["status"]["containerStatuses"][0]["restartCount"] > status["restartCount"] and ready(pod())
        ),
        timeout=120,
    )
    events = release.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}").stdout
    assert "Readiness probe failed" in events, events
    assert "Liveness probe failed" in events, events


async def test_both_gateway_replicas_serve_and_one_dying_fails_only_calls_in_flight(release: Release) -> None:
    gateways = release.pods(SELECTOR["gateway"])
    assert len(gateways) == 2
    for pod in gateways:  # each replica answers on its own address
        async with mcp_client(f"http://{pod['status']['podIP']}:8080/mcp") as client:
            assert CREATE in {t.name for t in (await client.list_tools()).tools}
    load = Load(release.gateway_url, LIST, {"projectId": "apollo"}, calls=100_000, concurrency=4, seconds=90)
    before = await load.across(
        lambda: release.kubectl("delete", "pod", gateways[0]["metadata"]["name"], "--wait=false"),
        lambda: sum(ready(p) for p in release.pods(SELECTOR["gateway"])) == 2,
    )
    print(
        f"gateway pod deleted under load: {before} ok before, {load.ok - before} after, failures {load.failures}"
    )
    assert before > 20
    assert load.ok - before > 20, "calls did not go on while the gateway was replaced"
    assert len(load.failures) <= load.concurrency, load.failures


async def test_helm_upgrade_with_a_changed_value_rolls_with_no_failed_call(release: Release) -> None:
    before = {p["metadata"]["name"] for p in release.pods(SELECTOR["gateway"])}
    load = Load(release.gateway_url, LIST, {"projectId": "apollo"}, calls=400, concurrency=2, seconds=150)
    running = asyncio.create_task(load.run())
    await load.until(10, timeout=60, running=running)  # calls are flowing before the upgrade starts
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
            "customresourcedefinition.apiextensions.k8s.io/mcpintegrations.toolmesh.dev",
            "customresourcedefinition.apiextensions.k8s.io/mcpprofiles.toolmesh.dev"} <= set(crds)  # fmt: skip
    assert release.kubectl("get", "mcpcategory", "pm").returncode == 0  # the admin's own objects are kept
