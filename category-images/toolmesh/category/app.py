"""The category server process: aiohttp app with MCP at ``/mcp`` and its operational endpoints.

``/healthz``: the process is up. ``/readyz``: the catalog is loaded (200) and what each integration
is doing, as JSON; broken integrations, and those compiled to another digest than their
``status.specDigest``, do not make the server unready: they are listed under ``problems``.
``/metrics``: Prometheus text. With ``TOOLMESH_CATEGORY_OPS_PORT`` the three are served on that port
only (the operator sets it: probes and Prometheus inside the cluster), and answer while the catalog
loads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from toolmesh.catalog import folder as catalog_mod
from toolmesh.category import server as server_mod
from toolmesh.category.service import CategoryService
from toolmesh.category.settings import CategorySettings
from toolmesh.common import ops_listener
from toolmesh.common.mcp_aiohttp import McpEndpoint, OriginPolicy, host_guard

SERVICE = web.AppKey("service", CategoryService)


def create_app(settings: CategorySettings) -> web.Application:
    catalog = catalog_mod.load(settings.catalog, category=settings.category)
    service = CategoryService.create(settings, catalog)
    origins = OriginPolicy.for_server(
        settings.host, settings.allowed_origins, allowed_hosts=settings.allowed_hosts
    )
    endpoint = McpEndpoint(server_mod.build(service), origins)
    app = web.Application(middlewares=[host_guard(origins)])
    app[SERVICE] = service
    # First: on a port of their own, the probes answer while a large catalog loads (/readyz: 503).
    ops_listener.attach(
        app,
        settings.host,
        settings.ops_port,
        lambda: (service.registry.status(), 200 if service.loaded else 503),
        service.metrics.registry,
    )

    async def runtime(app: web.Application) -> AsyncIterator[None]:
        await service.load(catalog)
        yield
        await service.close()

    app.cleanup_ctx.append(runtime)
    app.cleanup_ctx.append(endpoint.lifespan)
    app.router.add_route("*", "/mcp", endpoint.handle)
    return app
