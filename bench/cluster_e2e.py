"""toolmesh on a real node, timed. Prints figures; asserts nothing.

    python bench/cluster_e2e.py [--wakes 10] [--kills 3]     # root; hack/node-deps.sh first

1. A cluster with a real node (toolmesh.testing.node) and the project's images (hack/images.sh).
2. ``helm install`` → the first tool call answered through the gateway Service (the example
   catalogue's ``pm`` category starts at zero, so this includes its first wake).
3. Wake from zero, ``--wakes`` times: ``pm`` idles for 5 s, the operator scales it to zero, and a
   tool call wakes it; the figure is that call's latency (Lease write, pod start, readiness, route).
4. Pod-kill recovery, ``--kills`` times: one of two ``pm`` pods is force-deleted while calls run;
   figures are the calls that failed and the time until both pods are Ready again.
5. The memory of every pod at rest, from the kubelet's cgroups (``LocalNode.pod_usage``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from toolmesh.testing import release as releases
from toolmesh.testing.node import node_cluster
from toolmesh.testing.release import Load, Release, mcp_client, ready, text_of, wait_for

CREATE = "tasks__createTask"


async def call(release: Release, title: str) -> float:
    started = time.monotonic()
    async with mcp_client(release.gateway_url, timeout=120) as client:
        result = await client.call_tool(CREATE, {"projectId": "bench", "body": {"title": title}})
    if result.is_error:
        raise RuntimeError(text_of(result))
    return time.monotonic() - started


def pm_ready(release: Release) -> int:
    return sum(ready(p) for p in release.category_pods("pm"))


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    started = time.monotonic()
    images = releases.build_images()
    figures["images_build_s"] = round(time.monotonic() - started, 1)
    with tempfile.TemporaryDirectory(prefix="toolmesh-bench-") as workdir:
        started = time.monotonic()
        with node_cluster(Path(workdir)) as (cluster, node):
            figures["node_up_s"] = round(time.monotonic() - started, 1)
            started = time.monotonic()
            node.load_images(list(images.values()))
            figures["images_import_s"] = round(time.monotonic() - started, 1)

            started = time.monotonic()
            release = releases.install(cluster, releases.helm_binary(), images)
            figures["helm_install_s"] = round(time.monotonic() - started, 1)
            release.kubectl("wait", "--for=condition=Ready", "mcpintegration/tasks", "--timeout=180s")
            await call(release, "first")
            figures["install_to_first_call_s"] = round(time.monotonic() - started, 1)

            release.patch_category("pm", {"scaleToZero": {"enabled": True, "idleAfter": "5s"}})
            wakes = []
            for i in range(args.wakes):
                wait_for("pm at zero", lambda: release.asleep("pm"), timeout=120)
                wakes.append(await call(release, f"wake-{i}"))
            figures["wake_from_zero_s"] = {
                "n": len(wakes), "p50": round(statistics.median(wakes), 2), "max": round(max(wakes), 2),
                "min": round(min(wakes), 2),
            }  # fmt: skip

            release.patch_category(
                "pm", {"replicas": {"min": 2, "max": 3}, "scaleToZero": {"enabled": False}}
            )
            wait_for("two ready pm pods", lambda: pm_ready(release) >= 2, 120)
            await asyncio.sleep(5)
            pods = {
                p["metadata"]["name"]: p["metadata"]["uid"]
                for p in release.pods("app.kubernetes.io/part-of=toolmesh")
            }
            usage = node.pod_usage()
            figures["memory_at_rest_mib"] = {
                n: round(usage.get(uid, (0.0, 0.0))[0], 1) for n, uid in pods.items()
            }
            recoveries, failed = [], []
            for _ in range(args.kills):
                load = Load(release.gateway_url, CREATE, {"projectId": "bench", "body": {"title": "load"}},
                            calls=10_000, concurrency=4, seconds=60)  # fmt: skip
                victim = release.category_pods("pm")[0]["metadata"]["name"]
                killed: list[float] = []

                def kill(victim: str = victim, killed: list[float] = killed) -> None:
                    killed.append(time.monotonic())
                    release.kubectl("delete", "pod", victim, "--grace-period=0", "--force", "--wait=false")

                def back(killed: list[float] = killed) -> bool:
                    if pm_ready(release) < 2:
                        return False
                    recoveries.append(time.monotonic() - killed[0])
                    return True

                await load.across(kill, back)
                failed.append(len(load.failures))
            figures["pod_kill"] = {
                "recovery_s": [round(r, 1) for r in recoveries],
                "failed_calls": failed,
                "load_concurrency": 4,
            }
            figures["pods"] = sorted(pods)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wakes", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
