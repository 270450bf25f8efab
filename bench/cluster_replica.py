"""A new gateway replica in cluster mode, as a pod starts one, on the generated catalogue. Prints
figures; asserts nothing.

    python bench/cluster_replica.py [--per-category 43]

1. A fresh control plane (toolmesh.testing.cluster: etcd and kube-apiserver on loopback) with the
   catalogue of hack/generate_catalog.py applied (specs as ConfigMaps, gzip-compressed when large;
   the few over 1 MiB even so stay out), and the operator run until every object is Ready, then
   stopped (its CPU is not the gateway's).
2. Two gateway replicas in cluster mode (`TOOLMESH_SOURCE=cluster`, its own empty vector cache, the
   model baked in as the image does, a real Redis as TOOLMESH_REDIS_URL) one after the other, as in
   bench/gateway_memory.py: the first embeds every description, the second reads them back. For
   each: seconds until ``/readyz`` reports the whole catalogue indexed, RSS after 10 s at rest, its
   peak, and the peak with its compile workers. ``--vectors FILE`` seeds Redis from a gateway's
   vector cache (its ``embeddings.sqlite``) and runs only the second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import redis as redis_client

from gateway_memory import replica
from operator_scale import NAMESPACE, ROOT, apply_all, generated_folder, ready, start_operator
from toolmesh.gateway.index import model
from toolmesh.gateway.index.shared_vectors import PREFIX
from toolmesh.kube import KubeClient, load_connection
from toolmesh.testing import catalogue
from toolmesh.testing.cluster import LocalCluster, binaries
from toolmesh.testing.redis import LocalRedis


async def catalogue_ready(cluster: LocalCluster, folder: Path, log: Path) -> dict[str, object]:
    """The catalogue applied and Ready (the operator stopped afterwards): what it holds."""
    loaded = catalogue.objects(folder, NAMESPACE).fitting()  # a ConfigMap holds at most 1 MiB
    configmaps, integrations = loaded.configmaps, loaded.integrations
    async with KubeClient(load_connection(str(cluster.kubeconfig))) as kube:
        await apply_all(kube, configmaps)
        operator = start_operator(cluster, cluster.kubeconfig, 60.0, log)
        try:
            started = time.perf_counter()
            await apply_all(kube, [*loaded.categories, *integrations])
            while time.perf_counter() - started < 900:
                items, _ = await kube.list("MCPIntegration", NAMESPACE)
                if len(items) == len(integrations) and all(ready(i) for i in items):
                    break
                await asyncio.sleep(1.0)
            ready_s = time.perf_counter() - started
        finally:
            operator.terminate()
            operator.wait(30)
    return {
        "integrations": len(integrations),
        "left_out_over_1_mib": loaded.left_out,
        "tools": sum(int((i.get("status") or {}).get("tools") or 0) for i in items),
        "spec_configmap_mb": round(sum(len(json.dumps(c)) for c in configmaps) / 1e6, 1),
        "operator_ready_after_s": round(ready_s, 1),
        "not_ready": sum(1 for i in items if not ready(i)),
    }


def seed(url: str, path: Path) -> int:
    """Redis filled with the vectors of a gateway's cache, under the keys replicas share them by."""
    client = redis_client.Redis.from_url(url)
    count = 0
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, vector FROM vectors")
        while batch := rows.fetchmany(5_000):
            pipe = client.pipeline(transaction=False)
            for key, vector in batch:
                pipe.set(PREFIX + key, vector)
            pipe.execute()
            count += len(batch)
    client.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-category", type=int, default=43)
    parser.add_argument("--vectors", type=Path, help="a gateway's embeddings.sqlite to seed Redis with")
    args = parser.parse_args()
    folder = generated_folder(args.per_category)
    location = model.Location.from_environment()
    model_dir = model.ensure_fast_model_dir(location.fast_dir(), location)
    with (
        tempfile.TemporaryDirectory(prefix="toolmesh-bench-") as tmp,
        LocalCluster(Path(tmp), binaries(), crds=ROOT / "crds") as cluster,
        LocalRedis() as redis,
    ):
        cluster.kubectl("create", "namespace", NAMESPACE)
        applied = asyncio.run(catalogue_ready(cluster, folder, Path(tmp) / "operator.log"))
        settings = {"TOOLMESH_SOURCE": "cluster", "TOOLMESH_NAMESPACE": NAMESPACE,
                    "TOOLMESH_KUBECONFIG": str(cluster.kubeconfig)}  # fmt: skip
        if args.vectors:
            seeded = seed(redis.url, args.vectors)
            first: dict[str, object] = {"skipped": f"{seeded} vectors seeded from {args.vectors}"}
        else:
            first = replica(None, redis.url, model_dir, settings)
        second = replica(None, redis.url, model_dir, settings)
    print(json.dumps({"catalogue": applied, "first_replica_embeds": first,
                      "next_replica_reads_shared_vectors": second}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
