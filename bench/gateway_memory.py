"""A new gateway replica on a catalogue: how long until its index is whole, its steady RSS and the
peak while it indexes. Prints figures; asserts nothing.

    python bench/gateway_memory.py [FOLDER]     # default: hack/generate_catalog.py's, 43 per category

The gateway runs in folder mode on FOLDER with an empty vector cache of its own (a new pod) and the
model built beforehand (TOOLMESH_MODEL_DIR, as the image bakes it in), lexical and dense routing as
deployed, twice, each with a real Redis as TOOLMESH_REDIS_URL (shared vectors, as the chart wires
replicas): the first replica embeds every description (Redis empty), the second reads them back.
For each: seconds until ``/readyz`` reports the whole catalogue indexed, then RSS after 10 s at rest
and its high-water mark (VmHWM), and the peak of the gateway and its children together (its
compile workers, sampled every 0.2 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogue_on_node import generated_folder
from toolmesh.gateway.index import model
from toolmesh.testing.cluster import free_port
from toolmesh.testing.redis import LocalRedis


def memory_mib(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def tree_rss_mib(pid: int) -> float:
    """RSS of ``pid`` and its descendants (0 for a process gone meanwhile)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += memory_mib(current)["VmRSS"]
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, KeyError):
            continue
        pending.extend(int(c) for c in children)
    return total


def readiness(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            body: dict[str, object] = json.load(response)
            return body
    except OSError:
        return {}


def replica(
    folder: Path | None, redis_url: str, model_dir: Path, settings: dict[str, str] | None = None
) -> dict[str, object]:
    """One new replica on ``folder`` (None: as ``settings`` say, e.g. cluster mode): time to a whole
    index, RSS at rest and its peak."""
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TOOLMESH_SOURCE": "folder", "TOOLMESH_AUTH": "none", "TOOLMESH_CACHE": cache,
               "TOOLMESH_LOG_LEVEL": "WARNING", "TOOLMESH_REDIS_URL": redis_url,
               "TOOLMESH_MODEL_DIR": str(model_dir), **(settings or {})}  # fmt: skip
        catalog = ["--catalog", str(folder)] if folder is not None else []
        gateway = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "gateway", *catalog, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        ready: dict[str, object] = {}
        tree_peak, polled = 0.0, 0.0
        try:
            while gateway.poll() is None and time.monotonic() - started < 1800:
                time.sleep(0.2)
                tree_peak = max(tree_peak, tree_rss_mib(gateway.pid))
                if time.monotonic() - polled < 1:
                    continue
                polled = time.monotonic()
                ready = readiness(port)
                problems = ready.get("problems")
                if isinstance(problems, dict) and problems.get("index") is None:
                    break
            indexed_s = time.monotonic() - started
            time.sleep(10)
            figures = memory_mib(gateway.pid)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    tools = int(str(ready.get("tools") or 0))
    return {
        "tools": tools,
        "whole_index_after_s": round(indexed_s, 1),
        "rss_at_rest_mib": round(figures["VmRSS"]),
        "peak_rss_mib": round(figures["VmHWM"]),
        "peak_rss_with_workers_mib": round(max(tree_peak, figures["VmHWM"])),
        "kib_per_tool_at_rest": round(1024 * figures["VmRSS"] / max(1, tools)),
    }


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else generated_folder(43)
    location = model.Location.from_environment()
    model_dir = model.ensure_fast_model_dir(location.fast_dir(), location)  # once, as an image build does
    with LocalRedis() as redis:
        first = replica(folder, redis.url, model_dir)
        second = replica(folder, redis.url, model_dir)
    print(json.dumps({"first_replica_embeds": first, "next_replica_reads_shared_vectors": second}, indent=2))


if __name__ == "__main__":
    main()
