"""What the gateway adds to a tool call. Prints figures; asserts nothing.

    python bench/gateway_overhead.py [--calls N] [--concurrency C]

One run, processes on loopback: a stub upstream, a category server for the demo Tasks API, the
gateway (whose own category server, started on the first call, serves the same catalog), and the
same gateway behind API keys with an OpenBao dev server for a per-user integration. The same SDK
client calls ``tasks__getTask`` through the gateway and directly on the category server: p50/p99 of
sequential calls and calls/s with C concurrent callers; then with an API key, and with the caller's
own key read from Vault (``mine__getTask``, ``perUser: true``; cached TOOLMESH_VAULT_CACHE_SECONDS).
Then the same gateway with tracing on, every call sampled and exported to a real OpenTelemetry
Collector (``hack/otelcol-binary.sh``; its own category server traces too): tracing's cost end to end.

``--console``: only the web console's cost, the gateway with it (the default) and without it
(``TOOLMESH_CONSOLE=false``, no record of recent calls), side by side over ``--rounds`` alternated
rounds, so that the spread between rounds of the same gateway shows the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from category_call import ROOT, serve_category, summary, tasks_catalogue, throughput, timed, wait_ready
from toolmesh.gateway.identity.oauth import user_key
from toolmesh.gateway.supervisor import free_port
from toolmesh.testing.otelcol import LocalCollector
from toolmesh.testing.vault import ROOT_TOKEN, DevVault

API_KEY = "tm_bench_key"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--console", action="store_true", help="only the console's cost: on vs off")
    parser.add_argument("--rounds", type=int, default=3, help="--console: alternated rounds of each")
    args = parser.parse_args()
    if args.console:
        await console_cost(args.calls, args.concurrency, args.rounds)
        return
    upstream_port, category_port, gateway_port = free_port(), free_port(), free_port()
    stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_upstream.py"), str(upstream_port)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tasks_catalogue(folder, upstream_port)
        tasks_catalogue(
            folder,
            upstream_port,
            "mine",
            "  auth: {type: apiKey, apiKey: {in: header, name: X-API-Key}, perUser: true}\n",
        )
        vault = DevVault().start()
        digest = hashlib.sha256(API_KEY.encode()).hexdigest()
        vault.admin().secrets.kv.v2.create_or_update_secret(
            path=f"toolmesh/users/{user_key(f'api-key:{digest[:12]}')}/mine",
            secret={"apiKey": "bench-own-key"},
        )
        category = serve_category(folder, category_port)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "dev", str(folder), "--port", str(gateway_port), "--lexical-only"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # The same gateway behind API-key authentication, to price the check on every call.
        keyed_port = free_port()
        keyed = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "gateway", "--catalog", str(folder), "--port", str(keyed_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "TOOLMESH_AUTH": "api-key", "TOOLMESH_LEXICAL_ONLY": "true",
                 "TOOLMESH_AUTH_API_KEYS": json.dumps([digest]), "TOOLMESH_VAULT_ADDR": vault.addr,
                 "TOOLMESH_VAULT_AUTH_METHOD": "token", "TOOLMESH_VAULT_TOKEN": ROOT_TOKEN},
        )  # fmt: skip
        collector = LocalCollector(folder).__enter__()
        traced_port = free_port()
        traced = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "dev", str(folder), "--port", str(traced_port), "--lexical-only"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint},
        )  # fmt: skip
        try:
            await wait_ready(f"http://127.0.0.1:{traced_port}/healthz")
            await wait_ready(f"http://127.0.0.1:{category_port}/readyz")
            await wait_ready(f"http://127.0.0.1:{gateway_port}/healthz")
            await wait_ready(f"http://127.0.0.1:{keyed_port}/healthz")
            call_args = {"projectId": "apollo", "taskId": 7}
            keyed_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"})
            async with (
                keyed_http,
                Client(f"http://127.0.0.1:{category_port}/mcp") as direct_client,
                Client(f"http://127.0.0.1:{gateway_port}/mcp") as gateway_client,
                Client(f"http://127.0.0.1:{traced_port}/mcp") as traced_client,
                Client(
                    streamable_http_client(f"http://127.0.0.1:{keyed_port}/mcp", http_client=keyed_http)
                ) as keyed_client,
            ):

                async def direct() -> None:
                    assert not (await direct_client.call_tool("tasks__getTask", call_args)).is_error

                async def through() -> None:
                    assert not (await gateway_client.call_tool("tasks__getTask", call_args)).is_error

                async def traced_call() -> None:
                    assert not (await traced_client.call_tool("tasks__getTask", call_args)).is_error

                async def authenticated() -> None:
                    assert not (await keyed_client.call_tool("tasks__getTask", call_args)).is_error

                async def own_key() -> None:
                    assert not (await keyed_client.call_tool("mine__getTask", call_args)).is_error

                await through()  # wakes the gateway's category server
                await traced_call()
                await authenticated()
                await own_key()
                print(
                    f"tools/call through the gateway vs directly ({args.calls} sequential; {args.concurrency} concurrent for calls/s):"
                )
                d = await timed(direct, args.calls)
                d_rate = await throughput(direct, args.calls, args.concurrency)
                g = await timed(through, args.calls)
                g_rate = await throughput(through, args.calls, args.concurrency)
                print(summary("category server", d, d_rate))
                print(summary("through the gateway", g, g_rate))
                print(f"  added by the gateway: p50 {statistics.median(g) - statistics.median(d):.2f} ms")
                t = await timed(traced_call, args.calls)
                print(
                    summary(
                        "through the gateway, tracing on",
                        t,
                        await throughput(traced_call, args.calls, args.concurrency),
                    )
                )
                print(
                    f"  added by the gateway, tracing on: p50 {statistics.median(t) - statistics.median(d):.2f} ms "
                    f"({len(collector.spans())} spans exported)"
                )
                a = await timed(authenticated, args.calls)
                print(
                    summary(
                        "gateway + API key", a, await throughput(authenticated, args.calls, args.concurrency)
                    )
                )
                print(f"  added by authentication: p50 {statistics.median(a) - statistics.median(g):.2f} ms")
                o = await timed(own_key, args.calls)
                print(
                    summary(
                        "gateway + API key + own key from Vault",
                        o,
                        await throughput(own_key, args.calls, args.concurrency),
                    )
                )
                print(
                    f"  added by the per-user credential: p50 {statistics.median(o) - statistics.median(a):.2f} ms"
                )
        finally:
            for proc in (traced, keyed, gateway, category, stub):
                proc.terminate()
                proc.wait()
            collector.__exit__(None, None, None)
            vault.stop()


async def console_cost(calls: int, concurrency: int, rounds: int) -> None:
    """tools/call through a gateway with the console and through one without, rounds alternated."""
    upstream_port, category_port = free_port(), free_port()
    ports = {"console on": free_port(), "console off": free_port()}
    stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_upstream.py"), str(upstream_port)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tasks_catalogue(folder, upstream_port)
        category = serve_category(folder, category_port)
        gateways = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "toolmesh.cli.main",
                    "dev",
                    str(folder),
                    "--port",
                    str(port),
                    "--lexical-only",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "TOOLMESH_CONSOLE": "true" if name == "console on" else "false"},
            )
            for name, port in ports.items()
        ]
        try:
            await wait_ready(f"http://127.0.0.1:{category_port}/readyz")
            for port in ports.values():
                await wait_ready(f"http://127.0.0.1:{port}/healthz")
            call_args = {"projectId": "apollo", "taskId": 7}
            async with (
                Client(f"http://127.0.0.1:{category_port}/mcp") as direct_client,
                Client(f"http://127.0.0.1:{ports['console on']}/mcp") as on_client,
                Client(f"http://127.0.0.1:{ports['console off']}/mcp") as off_client,
            ):
                clients = {"direct": direct_client, "console on": on_client, "console off": off_client}
                added: dict[str, list[float]] = {"console on": [], "console off": []}
                rates: dict[str, list[float]] = {"console on": [], "console off": []}
                print(
                    f"tools/call, gateway-added p50 ({calls} sequential calls per round; {concurrency} concurrent for calls/s):"
                )
                for round_ in range(1, rounds + 1):
                    p50: dict[str, float] = {}
                    order = ["direct", "console on", "console off"]
                    if round_ % 2 == 0:
                        order = ["direct", "console off", "console on"]
                    for name in order:
                        client = clients[name]

                        async def call(client: Client = client) -> None:
                            assert not (await client.call_tool("tasks__getTask", call_args)).is_error

                        p50[name] = statistics.median(await timed(call, calls))
                        if name != "direct":
                            rates[name].append(await throughput(call, calls, concurrency))
                    for name in added:
                        added[name].append(p50[name] - p50["direct"])
                    print(f"  round {round_}: direct p50 {p50['direct']:.2f} ms; added: "
                          f"console on {added['console on'][-1]:.2f} ms, off {added['console off'][-1]:.2f} ms")  # fmt: skip
                for name in added:
                    spread = max(added[name]) - min(added[name])
                    print(f"  {name:<12} added p50 {statistics.median(added[name]):.2f} ms "
                          f"(rounds spread {spread:.2f} ms), {statistics.median(rates[name]):.0f} calls/s")  # fmt: skip
        finally:
            for proc in (*gateways, category, stub):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
