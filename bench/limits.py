"""What the gateway's rate limits and circuit breaker cost per forwarded call. Prints figures;
asserts nothing.

    python bench/limits.py [--calls N]

``Limits.admit`` then ``Limits.record`` (the hook in ``GatewayService.call_wire``), sequentially on
one event loop, for: no limit configured (the default: the breaker alone); the four limits counted
in process; the four counted in a real local Redis (one Lua script per call, loopback). Callers and
tools rotate over 100 of each so that counts never reach a limit.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from toolmesh.gateway.limits.counters import RedisCounters
from toolmesh.gateway.limits.guard import Limits, Ticket
from toolmesh.gateway.metrics import GatewayMetrics
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.testing.redis import LocalRedis

HIGH = 1_000_000_000


async def measure(limits: Limits, calls: int) -> list[float]:
    spent = []
    for n in range(calls):
        started = time.perf_counter()
        ticket = await limits.admit(f"user{n % 100}", f"tool{n % 100}", "tasks")
        assert isinstance(ticket, Ticket)
        limits.record(ticket, outage=False)
        spent.append(time.perf_counter() - started)
    await limits.close()
    return spent


def report(name: str, spent: list[float]) -> None:
    ordered = sorted(spent)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99)]
    print(f"{name:<28} p50 {p50 * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs")


async def main(calls: int) -> None:
    limited = {
        "limits_caller_per_minute": HIGH,
        "limits_caller_tool_per_minute": HIGH,
        "limits_integration_per_minute": HIGH,
        "limits_integration_caller_per_minute": HIGH,
    }
    report("no limits (breaker only)", await measure(Limits(GatewaySettings(), {}, GatewayMetrics()), calls))
    in_process = Limits(GatewaySettings(**limited), {}, GatewayMetrics())  # type: ignore[arg-type]
    report("4 limits, in process", await measure(in_process, calls))
    with LocalRedis() as redis:
        shared = Limits(GatewaySettings(**limited), {}, GatewayMetrics(), RedisCounters(redis.url))  # type: ignore[arg-type]
        report("4 limits, Redis (loopback)", await measure(shared, calls))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().calls))
