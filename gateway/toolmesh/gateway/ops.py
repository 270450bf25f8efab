"""The operations routes: ``/healthz`` (the process answers), ``/readyz`` (the catalog's state and
its problems) and ``/metrics`` (Prometheus).

``/readyz`` says the same in both modes. Its ``problems`` are:

- ``integrations``: each integration whose tools are missing, with why (the folder's object or
  document is broken, or its category server, once started, could not serve it; in a cluster the
  operator reports it not Ready, or its spec did not compile here);
- ``categories``: each category that is down, with why (its server failed to start or to wake in
  time, died, or the operator reports it not Available);
- ``index``: why searches do not see the catalog as it is (the last index build failed, or the
  index lags the catalog while a rebuild is under way), or null.

It answers 200 whatever the problems: each one is partial (the other integrations and categories
are served, searches use the last index), and every replica shares it, so taking replicas out of
the Service would turn a partial failure into a total one. Readiness means the gateway serves: its
catalog is loaded and indexed, which it is before it listens. Monitor the body for the problems.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from toolmesh.common import ops_listener
from toolmesh.gateway.catalog import GatewayCatalog
from toolmesh.gateway.router import Router
from toolmesh.gateway.service import GatewayService


def index_problem(router: Router, catalog: GatewayCatalog) -> str | None:
    """Why searches may not see the catalog as it is now; None when the index is current."""
    if router.failure is not None:
        return f"the last index build failed ({router.failure}); searches use the index built before it"
    missing = len(catalog.tools.keys() - router.indexed)
    removed = len(router.indexed - catalog.tools.keys())
    if missing or removed:
        return (
            f"the index lags the catalog: {missing} tools not indexed yet, {removed} removed tools "
            "still indexed (it is rebuilt after each change)"
        )
    return None


def problems(service: GatewayService) -> dict[str, Any]:
    return {
        "integrations": dict(sorted(service.catalog.problems.items())),
        "categories": dict(sorted(service.categories.problems().items())),
        "index": index_problem(service.router, service.catalog),
    }


def readiness(service: GatewayService) -> dict[str, Any]:
    """The body of ``/readyz``."""
    tools = service.catalog.tools
    return {
        "mode": "direct" if service.direct else "meta-tools",
        "tools": len(tools),
        "categories": sorted({t.category for t in tools.values()}),
        "running": sorted(service.categories.running),
        "problems": problems(service),
    }


def add_routes(
    app: web.Application, service: GatewayService, ops_port: int | None = None, host: str = ""
) -> None:
    """The three routes, on ``app``'s own port, or apart on ``ops_port`` (common.ops_listener)."""
    ops_listener.attach(app, host, ops_port, lambda: (readiness(service), 200), service.metrics.registry)
