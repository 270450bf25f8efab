"""The gateway's memory for a catalogue: steady RSS and the peak while it indexes. Prints figures;
asserts nothing.

    python bench/gateway_memory.py [FOLDER]     # default: hack/generate_catalog.py's, 43 per category

The gateway runs in folder mode on FOLDER with an empty vector cache (a pod's first start: every
description is embedded), lexical and dense routing as deployed. Every 2 s: RSS and its high-water
mark (VmHWM), until ``/readyz`` reports the whole catalogue indexed; then 10 s more at rest.
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
from toolmesh.testing.cluster import free_port


def memory_mib(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def readiness(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            body: dict[str, object] = json.load(response)
            return body
    except OSError:
        return {}


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else generated_folder(43)
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TOOLMESH_SOURCE": "folder", "TOOLMESH_AUTH": "none", "TOOLMESH_CACHE": cache,
               "TOOLMESH_LOG_LEVEL": "WARNING"}  # fmt: skip
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toolmesh.cli.main",
                "gateway",
                "--catalog",
                str(folder),
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        try:
            while gateway.poll() is None and time.monotonic() - started < 1800:
                time.sleep(2)
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
    print(json.dumps({
        "tools": ready.get("tools"),
        "indexed_after_s": round(indexed_s, 1),
        "rss_at_rest_mib": round(figures["VmRSS"]),
        "peak_rss_mib": round(figures["VmHWM"]),
        "kib_per_tool_at_rest": round(1024 * figures["VmRSS"] / max(1, int(str(ready.get("tools") or 1)))),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
