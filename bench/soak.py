"""A bounded soak: tool calls through the gateway for a while, then errors and memory. Prints figures.

    python bench/soak.py [--seconds S] [--max-calls N] [--concurrency C] [--searches-every K]

Processes on loopback: a stub upstream and ``toolmesh dev`` (the gateway, which starts its ``pm``
category server on the first call). C SDK clients call ``tasks__getTask`` (every K-th call a
``search_tools`` first, when the catalogue is behind the meta-tools, or a ``tools/list``) until S
seconds or N calls, whichever comes first. Every few seconds the resident memory (RSS) of the
gateway and of its category server is sampled. Printed: calls, errors (a tool error or an exception
is an error), calls/s, and each process's RSS after warm-up, at the end, its peak, and the growth
per 10,000 calls (a leak shows as growth that does not level off).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from category_call import ROOT, rss_mb, tasks_catalogue, wait_ready
from toolmesh.gateway.supervisor import free_port

SAMPLE_EVERY = 5.0


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


async def soak(url: str, args: argparse.Namespace, gateway_pid: int) -> None:
    calls = errors = 0
    deadline = time.monotonic() + args.seconds
    samples: list[tuple[int, float, float]] = []  # (calls so far, gateway RSS, category RSS)

    def sample() -> None:
        category = children(gateway_pid)
        samples.append((calls, rss_mb(gateway_pid), rss_mb(category[0]) if category else float("nan")))

    async def caller() -> None:
        nonlocal calls, errors
        async with Client(url) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            while time.monotonic() < deadline and calls < args.max_calls:
                calls += 1
                try:
                    if calls % args.searches_every == 0:
                        if "search_tools" in names:
                            await client.call_tool("search_tools", {"query": "get a task"})
                        else:
                            await client.list_tools()
                    result = await client.call_tool("tasks__getTask", {"projectId": "apollo", "taskId": 7})
                    errors += result.is_error
                except Exception:
                    errors += 1

    async def sampler() -> None:
        while time.monotonic() < deadline and calls < args.max_calls:
            await asyncio.sleep(SAMPLE_EVERY)
            sample()

    started = time.monotonic()
    await asyncio.gather(sampler(), *(caller() for _ in range(args.concurrency)))
    elapsed = time.monotonic() - started
    sample()
    print(
        f"{calls} calls in {elapsed:.0f} s ({calls / elapsed:.0f}/s, {args.concurrency} callers), {errors} errors"
    )
    warm = samples[min(1, len(samples) - 1)]  # after the first interval: imports and pools are in place
    for index, name in ((1, "gateway"), (2, "category server")):
        peak = max(s[index] for s in samples)
        end = samples[-1]
        per_10k = (end[index] - warm[index]) / max(1, end[0] - warm[0]) * 10_000
        print(
            f"  {name:<16} RSS {warm[index]:.0f} MiB after warm-up, {end[index]:.0f} MiB at the end, "
            f"peak {peak:.0f} MiB; {per_10k:+.1f} MiB per 10,000 calls"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--max-calls", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--searches-every", type=int, default=10)
    args = parser.parse_args()
    upstream_port, gateway_port = free_port(), free_port()
    stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_upstream.py"), str(upstream_port)])
    with tempfile.TemporaryDirectory() as tmp:
        tasks_catalogue(Path(tmp), upstream_port)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "dev", tmp, "--port", str(gateway_port), "--lexical-only"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_ready(f"http://127.0.0.1:{gateway_port}/healthz")
            await soak(f"http://127.0.0.1:{gateway_port}/mcp", args, gateway.pid)
        finally:
            for proc in (gateway, stub):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
