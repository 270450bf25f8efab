"""toolmesh beside its peers, in one run and one process tree. Prints figures; asserts nothing.

    python bench/peers.py [--calls N] [--concurrency C] [--rounds R]

The same upstream (bench/peer_upstream.py, an MCP server built with the official SDK, tool ``add``)
reached five ways by the same SDK client, each a separate process chain on loopback:

1. **direct**: the upstream's own Streamable HTTP (the SDK's app on uvicorn, stateless, JSON);
2. **mcp-proxy**: PyPI's ``mcp-proxy`` (hack/install-stdio-servers.sh installs it in its own venv)
   running the upstream over stdio and serving it over Streamable HTTP;
3. **category server**: toolmesh's category server federating the same stdio upstream
   (``spec.stdio``);
4. **gateway**: toolmesh's gateway on the same folder (folder mode, no auth, lexical routing), in
   front of the category server it starts itself for it, the tool listed directly;
5. **gateway, call_tool**: the same gateway with the meta-tools (``TOOLMESH_DIRECT_TOOLS_LIMIT=0``).

For each: p50/p99 of sequential ``tools/call`` on one session, calls/s with C concurrent callers,
and the CPU each bridge's own process spent per call during the concurrent phase (children
excluded: the upstream's CPU is the same in every row, and the gateway's category server is its
child). Ratios are to direct; "hop" is what the gateway adds to a category server. Noise on these
2-core machines: p50s move by about 0.2 ms between runs (docs/design/0014-forwarding-fast-path.md),
so ``--rounds R`` measures every row R times, interleaved on the same processes, and prints each
figure's median with the hop of every round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from category_call import ROOT, timed, wait_ready
from toolmesh.gateway.supervisor import free_port

UPSTREAM = ROOT / "bench" / "peer_upstream.py"
CLOCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    name: str
    p50: float
    p99: float
    rate: float
    cpu_ms_per_call: float


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def start(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stdio_integration(folder: Path) -> None:
    (folder / "peer.yaml").write_text(
        "apiVersion: toolmesh.dev/v1alpha1\nkind: MCPIntegration\nmetadata: {name: peer}\nspec:\n"
        f"  category: data\n  stdio:\n    command: {sys.executable}\n    args: [{str(UPSTREAM)!r}, stdio]\n"
    )


@asynccontextmanager
async def chain(folder: Path) -> AsyncIterator[dict[str, tuple[str, int, str]]]:
    """Every server of the run; yields name -> (MCP URL, the bridge's pid, the tool's name)."""
    ports = {name: free_port() for name in ("direct", "proxy", "category", "gateway", "meta")}
    proxy_bin = Path(
        os.environ.get("TOOLMESH_CACHE", Path.home() / ".cache" / "toolmesh"),
        "stdio-servers",
        "mcp-proxy-0.13.0",
    )
    quiet = {"TOOLMESH_LOG_LEVEL": "WARNING", "TOOLMESH_CATEGORY_LOG_LEVEL": "WARNING"}
    gateway_env = {
        **quiet,
        "TOOLMESH_SOURCE": "folder",
        "TOOLMESH_AUTH": "none",
        "TOOLMESH_LEXICAL_ONLY": "true",
    }
    gateway = [sys.executable, "-m", "toolmesh.cli.main", "gateway", "--catalog", str(folder)]
    processes = {
        "direct": start([sys.executable, str(UPSTREAM), "http", str(ports["direct"])]),
        "proxy": start(
            [
                str(proxy_bin / "bin" / "mcp-proxy"),
                "--port",
                str(ports["proxy"]),
                "--log-level",
                "WARNING",
                sys.executable,
                str(UPSTREAM),
                "stdio",
            ]
        ),
        "category": start(
            [sys.executable, "-m", "toolmesh.category", str(folder), "--port", str(ports["category"])], quiet
        ),
        "gateway": start([*gateway, "--port", str(ports["gateway"])], gateway_env),
        "meta": start(
            [*gateway, "--port", str(ports["meta"])], {**gateway_env, "TOOLMESH_DIRECT_TOOLS_LIMIT": "0"}
        ),
    }
    try:
        for name in ("category", "gateway", "meta"):
            await wait_ready(f"http://127.0.0.1:{ports[name]}/healthz")
        # The direct upstream and mcp-proxy have no health route: measure() retries the first call.
        yield {
            "direct": (f"http://127.0.0.1:{ports['direct']}/mcp", processes["direct"].pid, "add"),
            "mcp-proxy": (f"http://127.0.0.1:{ports['proxy']}/mcp", processes["proxy"].pid, "add"),
            "category server": (f"http://127.0.0.1:{ports['category']}/mcp", processes["category"].pid, "peer__add"),
            "gateway": (f"http://127.0.0.1:{ports['gateway']}/mcp", processes["gateway"].pid, "peer__add"),
            "gateway, call_tool": (f"http://127.0.0.1:{ports['meta']}/mcp", processes["meta"].pid, "call_tool"),
        }  # fmt: skip
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=15)


async def measure(name: str, url: str, pid: int, tool: str, calls: int, concurrency: int) -> Row:
    arguments: dict[str, object] = {"a": 2, "b": 3}
    if tool == "call_tool":
        arguments = {"name": "peer__add", "arguments": arguments}
    for attempt in range(50):  # servers without a health route: wait for the first answer
        try:
            async with Client(url) as client:
                await client.call_tool(tool, arguments)
            break
        except Exception:  # not up yet
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    async with Client(url) as client:

        async def call() -> None:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result

        times = await timed(call, calls)
        cpu_before = cpu_seconds(pid)
        rate = await concurrent(call, calls, concurrency)
        cpu = cpu_seconds(pid) - cpu_before
    p99 = statistics.quantiles(times, n=100)[98]
    return Row(name, statistics.median(times), p99, rate, 1000 * cpu / calls)


async def concurrent(call: Callable[[], Awaitable[None]], n: int, concurrency: int) -> float:
    remaining = iter(range(n))
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        while next(remaining, None) is not None:
            await call()

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (loop.time() - started)


def report(rows: list[Row]) -> None:
    direct = rows[0]
    print(f"{'':<20} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8} {'CPU ms/call':>12} {'p50 vs direct':>14}")
    for row in rows:
        added = row.p50 - direct.p50
        print(f"{row.name:<20} {row.p50:8.2f} {row.p99:8.2f} {row.rate:8.0f} {row.cpu_ms_per_call:12.3f} "
              f"{added:+8.2f} ms {row.p50 / direct.p50:4.2f}x")  # fmt: skip
    named = by_name(rows)
    for gateway in ("gateway", "gateway, call_tool"):
        hop = named[gateway].p50 - named["category server"].p50
        print(f"hop ({gateway} over the category server): {hop:+.2f} ms p50, "
              f"gateway CPU {named[gateway].cpu_ms_per_call:.3f} ms per forwarded call")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; medians shown (default 1)")
    args = parser.parse_args()
    rounds: list[list[Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stdio_integration(folder)
        async with chain(folder) as servers:
            for _ in range(args.rounds):
                rounds.append([
                    await measure(name, url, pid, tool, args.calls, args.concurrency)
                    for name, (url, pid, tool) in servers.items()
                ])  # fmt: skip
    print(
        f"tools/call, {args.calls} sequential calls after warm-up; {args.concurrency} concurrent for calls/s and CPU"
        + (f"; medians of {args.rounds} interleaved rounds" if args.rounds > 1 else "")
    )
    report(medians(rounds))
    if args.rounds > 1:
        for gateway in ("gateway", "gateway, call_tool"):
            hops = [by_name(r)[gateway].p50 - by_name(r)["category server"].p50 for r in rounds]
            cpus = [by_name(r)[gateway].cpu_ms_per_call for r in rounds]
            print(f"each round, {gateway}: hop {', '.join(f'{h:+.2f}' for h in hops)} ms; "
                  f"CPU {', '.join(f'{c:.3f}' for c in cpus)} ms per call")  # fmt: skip


def by_name(rows: list[Row]) -> dict[str, Row]:
    return {row.name: row for row in rows}


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Each row's figures, the median over the rounds (one round: as measured)."""
    return [
        Row(
            group[0].name,
            statistics.median(r.p50 for r in group),
            statistics.median(r.p99 for r in group),
            statistics.median(r.rate for r in group),
            statistics.median(r.cpu_ms_per_call for r in group),
        )
        for group in zip(*rounds, strict=True)
    ]


if __name__ == "__main__":
    asyncio.run(main())
