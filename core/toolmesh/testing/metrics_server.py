"""metrics-server on the test node: the resource metrics API (``metrics.k8s.io``) that HPAs read.

The binary comes from ``hack/metrics-server-binary.sh`` (built from the Go module proxy, cached
outside the clone); :class:`~toolmesh.testing.node.LocalNode` makes a one-file image of it, as of
CoreDNS, and runs it as a pod in ``kube-system`` behind the APIService ``v1beta1.metrics.k8s.io``.
The API server reaches it through the aggregation layer
(:attr:`~toolmesh.testing.cluster.LocalCluster.aggregation`); it scrapes the kubelet's
``/metrics/resource`` every :data:`RESOLUTION`.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from toolmesh.testing.cluster import REPO, LocalCluster
from toolmesh.testing.node_config import METRICS_SERVER_MANIFEST

VERSION = "0.8.0"
IMAGE = f"local/metrics-server:v{VERSION}"
BUILD_SCRIPT = REPO / "hack" / "metrics-server-binary.sh"
#: How often it scrapes the kubelet (its minimum is 10 s; 15 s is its own manifests' setting).
RESOLUTION = "15s"


def binary() -> Path:
    """The metrics-server binary (built once, then cached)."""
    if override := os.environ.get("TOOLMESH_METRICS_SERVER_BIN"):
        return Path(override) / "metrics-server"
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env={**os.environ, "METRICS_SERVER_VERSION": VERSION},
    )
    return Path(result.stdout.strip().splitlines()[-1]) / "metrics-server"


def deploy(cluster: LocalCluster) -> None:
    """Its ServiceAccount, RBAC, Service, Deployment and APIService (the image must be on the node)."""
    manifest = METRICS_SERVER_MANIFEST.format(image=IMAGE, resolution=RESOLUTION)
    cluster.kubectl("apply", "--server-side", "--field-manager=toolmesh-node", "-f", "-", input=manifest)


def available(cluster: LocalCluster) -> bool:
    out = cluster.kubectl(
        "get", "apiservice", "v1beta1.metrics.k8s.io",
        "-o", "jsonpath={.status.conditions[?(@.type=='Available')].status}",
        check=False,
    )  # fmt: skip
    return out.stdout.strip() == "True"


def top_pods(cluster: LocalCluster, namespace: str) -> dict[str, tuple[int, int]]:
    """``kubectl top pods``: per pod, (CPU in millicores, memory in MiB); empty while it has no metrics."""
    out = cluster.kubectl("top", "pods", "-n", namespace, "--no-headers", check=False)
    usage = {}
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        name, cpu, memory = line.split()[:3]
        usage[name] = (int(cpu.removesuffix("m")), int(memory.removesuffix("Mi")))
    return usage


def wait_serving(cluster: LocalCluster, namespace: str, timeout: float = 120.0) -> float:
    """Wait until the APIService is Available and ``kubectl top pods`` answers for ``namespace``;
    returns how long that took (its first scrape needs two samples, one resolution apart)."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if available(cluster) and top_pods(cluster, namespace):
            return time.monotonic() - started
        time.sleep(1)
    pods = cluster.kubectl(
        "-n", "kube-system", "describe", "pods", "-l", "k8s-app=metrics-server", check=False
    )
    logs = cluster.kubectl("-n", "kube-system", "logs", "deployment/metrics-server", "--tail=40", check=False)
    service = cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "yaml", check=False)
    raise RuntimeError(
        f"metrics-server not serving {namespace} after {timeout:.0f} s\n{service.stdout[-1500:]}\n"
        f"{pods.stdout[-2500:]}\n{logs.stdout[-3000:]}{logs.stderr[-500:]}"
    )
