"""Autoscaling for real: metrics-server serves the resource metrics API through the API server's
aggregation layer, and under a bounded load a category and the gateway scale out through their HPAs
(the operator's and the chart's), then back in after the load.

It borrows the session's release and gives it back as it found it: the gateway's HPA is switched on
with ``helm upgrade`` and off again, the category ``load`` (the demo Tasks API once more, under the
tool prefix ``hpatasks``) is made for the test and deleted after it.

Scale-in is quick because of two settings: the gateway's HPA has the chart's
``gateway.autoscaling.scaleDownStabilizationSeconds``, the category's its MCPCategory's
``spec.autoscaling.scaleDownStabilizationSeconds`` (both 5 min by default).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from toolmesh.testing import metrics_server
from toolmesh.testing.cluster import DOWNSCALE_STABILIZATION, LocalCluster
from toolmesh.testing.node import LocalNode
from toolmesh.testing.release import NAMESPACE, Load, Release, mcp_client, ready, text_of, wait_for

pytestmark = pytest.mark.node
CATEGORY = "load"
TOOL = "hpatasks__listTasks"
GATEWAY = "toolmesh-gateway"  # the chart's gateway Deployment and HPA
SERVER = f"mcp-{CATEGORY}"  # the operator's Deployment and HPA of the category
GATEWAY_STABILIZATION = 15
CATEGORY_STABILIZATION = 30  # the MCPCategory's spec.autoscaling.scaleDownStabilizationSeconds below
GATEWAY_VALUES = (
    "--set", "gateway.autoscaling.enabled=true",
    "--set", "gateway.autoscaling.minReplicas=2",
    "--set", "gateway.autoscaling.maxReplicas=3",
    "--set", "gateway.autoscaling.targetCpuUtilizationPercentage=50",
    "--set", f"gateway.autoscaling.scaleDownStabilizationSeconds={GATEWAY_STABILIZATION}",
)  # fmt: skip
CATALOGUE = """apiVersion: toolmesh.dev/v1alpha1
kind: MCPCategory
metadata: {name: load}
spec:
  description: The autoscaling test's category - the demo Tasks API once more.
  replicas: {min: 1, max: 3}
  autoscaling: {targetCpuUtilizationPercentage: 40, scaleDownStabilizationSeconds: 30}
  resources:
    requests: {cpu: 50m, memory: 128Mi}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: hpa-tasks}
spec:
  category: load
  toolPrefix: hpatasks
  description: The demo Tasks API, served by the load category.
  openapi:
    spec:
      configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}
    baseUrl: http://tasks-demo.toolmesh.svc:8080/v1
  auth:
    type: apiKey
    apiKey: {in: header, name: X-API-Key}
    secretRef: {name: tasks-credentials}
"""


@pytest.fixture(scope="module")
def autoscaled(release: Release) -> Iterator[Release]:
    """The release with the gateway's HPA on and the category ``load``; restored afterwards."""
    upgraded = release.upgrade(*GATEWAY_VALUES)
    assert upgraded.returncode == 0, upgraded.stderr
    try:
        release.kubectl("apply", "-f", "-", input=CATALOGUE)
        release.kubectl("wait", "--for=condition=Ready", f"mcpcategory/{CATEGORY}", "--timeout=180s")
        yield release
    finally:
        release.kubectl("delete", "-f", "-", "--wait=true", "--timeout=120s", input=CATALOGUE, check=False)
        restored = release.upgrade()  # the session's values: a fixed two-replica gateway, no HPA
        assert restored.returncode == 0, restored.stderr
        wait_for("two ready gateway pods", lambda: sum(ready(p) for p in _gateway_pods(release)) == 2, 180)


def _gateway_pods(release: Release) -> list[dict[str, Any]]:
    return release.pods("app.kubernetes.io/name=toolmesh-gateway")


def test_metrics_server_serves_pod_and_node_metrics_through_the_aggregation_layer(
    kube_node: tuple[LocalCluster, LocalNode], release: Release
) -> None:
    cluster, node = kube_node
    took = metrics_server.wait_serving(cluster, NAMESPACE)
    print(f"metrics.k8s.io serving the release's pods {took:.0f} s after the release was up")
    usage = metrics_server.top_pods(cluster, NAMESPACE)
    gateways = [name for name in usage if name.startswith(GATEWAY)]
    assert gateways, usage
    assert all(usage[name][1] > 10 for name in gateways), usage  # MiB: a Python process, measured
    nodes = json.loads(cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout)
    assert [item["metadata"]["name"] for item in nodes["items"]] == [node.name]
    service = cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "json").stdout
    assert json.loads(service)["spec"]["service"] == {
        "name": "metrics-server",
        "namespace": "kube-system",
        "port": 443,
    }


@dataclass
class Scaling:
    """What one HPA and its Deployment did: the highest replica counts seen, and when."""

    name: str
    low: int
    desired_max: int = 0
    ready_max: int = 0
    scaled_out: float | None = None  # seconds after the load started: desiredReplicas > min
    out_ready: float | None = None  # ... and more than min pods Ready
    scaled_in: float | None = None  # seconds after the load stopped: back to min, HPA and Deployment
    history: list[str] = field(default_factory=list)

    def observe(self, hpa: dict[str, Any], deployment: dict[str, Any], since_start: float) -> None:
        status = hpa.get("status") or {}
        desired = status.get("desiredReplicas", 0)
        ready_pods = (deployment.get("status") or {}).get("readyReplicas", 0)
        self.desired_max, self.ready_max = max(self.desired_max, desired), max(self.ready_max, ready_pods)
        if desired > self.low and self.scaled_out is None:
            self.scaled_out = since_start
        if ready_pods > self.low and self.out_ready is None:
            self.out_ready = since_start
        cpu = [m["resource"]["current"].get("averageUtilization") for m in status.get("currentMetrics") or []
               if m.get("type") == "Resource"]  # fmt: skip
        entry = f"{since_start:5.0f}s cpu={cpu} desired={desired} ready={ready_pods}"
        if not self.history or self.history[-1].split(" ", 1)[1] != entry.split(" ", 1)[1]:
            self.history.append(entry)

    def at_min(self, hpa: dict[str, Any], deployment: dict[str, Any]) -> bool:
        status = hpa.get("status") or {}
        return (
            status.get("desiredReplicas") == self.low
            and status.get("currentReplicas") == self.low
            and deployment["spec"]["replicas"] == self.low
            and (deployment.get("status") or {}).get("replicas") == self.low
        )


def _objects(release: Release) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    hpas = {h["metadata"]["name"]: h for h in release.json("hpa")["items"]}
    deployments = {d["metadata"]["name"]: d for d in release.json("deployments")["items"]}
    return {name: (hpas[name], deployments[name]) for name in (GATEWAY, SERVER)}


def _has_cpu_metrics(hpa: dict[str, Any]) -> bool:
    return any(
        m.get("resource", {}).get("current", {}).get("averageUtilization") is not None
        for m in (hpa.get("status") or {}).get("currentMetrics") or []
    )


async def test_a_category_and_the_gateway_scale_out_under_load_and_back_in_after_it(
    autoscaled: Release, kube_node: tuple[LocalCluster, LocalNode]
) -> None:
    release, cluster = autoscaled, kube_node[0]
    hpa = release.json("hpa", GATEWAY)
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == GATEWAY_STABILIZATION
    category_hpa = release.json("hpa", SERVER)["spec"]  # the operator's, from the MCPCategory
    assert category_hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == CATEGORY_STABILIZATION
    # Both HPAs read CPU from metrics-server before any load, and sit at their minimum.
    wait_for(
        "both HPAs reading CPU",
        lambda: all(_has_cpu_metrics(h) for h, _ in _objects(release).values()),
        timeout=90,
        every=2,
    )
    scalings = {GATEWAY: Scaling(GATEWAY, low=2), SERVER: Scaling(SERVER, low=1)}
    # The load starts from both minimums. A gateway pod's start (its index built) can spike its CPU
    # past the target and scale it out on a loaded machine (CI, 2026-12-05: 3 gateway pods before
    # any call); its HPA brings it back after its stabilisation window, which is waited for here.
    wait_for(
        "both HPAs and Deployments at their minimum before the load",
        lambda: all(scalings[name].at_min(h, d) for name, (h, d) in _objects(release).items()),
        timeout=GATEWAY_STABILIZATION + CATEGORY_STABILIZATION + 90,
        every=2,
    )
    async with mcp_client(release.gateway_url) as client:
        wait_until = time.monotonic() + 60
        while TOOL not in {t.name for t in (await client.list_tools()).tools}:
            assert time.monotonic() < wait_until, f"{TOOL} never listed"
            await asyncio.sleep(1)
        first = await client.call_tool(TOOL, {"projectId": "hpa"})
    assert not first.is_error, text_of(first)

    # A bounded load: at most 90 s and 20,000 calls, 8 at a time, each a new MCP session through the
    # gateway's Service to the category (as separate agents would call), stopped 10 s after both
    # scaled out and their new pods turned Ready.
    load = Load(release.gateway_url, TOOL, {"projectId": "hpa"}, calls=20_000, concurrency=8, seconds=90)
    started = time.monotonic()
    running = asyncio.create_task(load.run())
    top: dict[str, tuple[int, int]] = {}
    hold_until = None  # both scaled out with their new pods Ready: 10 s more under load, then stop
    while not running.done() and (hold_until is None or time.monotonic() < hold_until):
        await asyncio.sleep(2)
        for name, (h, d) in (await asyncio.to_thread(_objects, release)).items():
            scalings[name].observe(h, d, time.monotonic() - started)
        if not top and any(s.scaled_out is not None for s in scalings.values()):  # the scrape that did it
            top = await asyncio.to_thread(metrics_server.top_pods, cluster, NAMESPACE)
        if hold_until is None and all(s.out_ready is not None for s in scalings.values()):
            hold_until = time.monotonic() + 10
    load.stop()
    await running
    stopped = time.monotonic()
    load_seconds = stopped - started
    print(f"load: {load.ok} calls ok, {len(load.failures)} failed in {load_seconds:.0f} s "
          f"({load.ok / load_seconds:.1f}/s); kubectl top pods at the first scale-out: {top}")  # fmt: skip

    # Back in once the load is gone: the HPA wants min again, and the Deployment has min pods.
    deadline = stopped + 180
    while time.monotonic() < deadline and any(s.scaled_in is None for s in scalings.values()):
        for name, (h, d) in (await asyncio.to_thread(_objects, release)).items():
            scalings[name].observe(h, d, time.monotonic() - started)
            if scalings[name].scaled_in is None and scalings[name].at_min(h, d):
                scalings[name].scaled_in = time.monotonic() - stopped
        await asyncio.sleep(2)

    for s in scalings.values():
        print(f"{s.name}: min {s.low}, desired up to {s.desired_max}, ready up to {s.ready_max}; "
              f"scaled out (desired > min) {_secs(s.scaled_out)} and ready {_secs(s.out_ready)} after the "
              f"load started; back to {s.low} {_secs(s.scaled_in)} after it stopped")  # fmt: skip
        print("  " + "\n  ".join(s.history))
    print(f"(category HPA scale-down window: the controller manager's {DOWNSCALE_STABILIZATION}; "
          f"gateway's: {GATEWAY_STABILIZATION} s; metrics-server resolution {metrics_server.RESOLUTION})")  # fmt: skip
    assert len(load.failures) <= math.ceil(load.ok / 100), load.failures[:5]
    for s in scalings.values():
        assert s.desired_max > s.low, f"{s.name} never scaled out: {s.history}"
        assert s.ready_max > s.low, f"{s.name} scaled out but no new pod became Ready: {s.history}"
        assert s.scaled_in is not None, f"{s.name} did not scale back in within 180 s: {s.history}"


def _secs(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"
