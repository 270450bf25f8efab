"""The operational endpoints (``/healthz``, ``/readyz``, ``/metrics``) on a listener of their own.

Both servers (the gateway, a category server) can serve them on their public port, as local
development does, or, given an ops port, only there: then the MCP port answers MCP and nothing about
the process, and the ops port (probes, Prometheus) is reachable only inside the cluster (the chart's
Services expose it in-cluster, an Ingress never routes to it). The ops listener starts and stops with
the main application.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: The body of /readyz and its HTTP status.
Readiness = Callable[[], tuple[Any, int]]


def add_routes(app: web.Application, readiness: Readiness, registry: CollectorRegistry) -> None:
    """``/healthz`` (the process answers), ``/readyz`` (``readiness()``), ``/metrics`` (``registry``)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        body, status = readiness()
        return web.json_response(body, status=status)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def attach(
    app: web.Application, host: str, port: int | None, readiness: Readiness, registry: CollectorRegistry
) -> None:
    """Add the operational routes to ``app``, or, with a ``port``, serve them apart on ``host:port``."""
    if port is None:
        add_routes(app, readiness, registry)
        return
    ops = web.Application()
    add_routes(ops, readiness, registry)

    async def listener(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(ops, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(exc.errno, f"the ops port {host}:{port} is not free ({exc.strerror})") from None
        yield
        await runner.cleanup()

    app.cleanup_ctx.append(listener)
