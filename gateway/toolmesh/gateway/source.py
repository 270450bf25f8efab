"""Where the catalog comes from: a folder of objects (local mode) or the cluster's (cluster mode).

Both are a :class:`CatalogSource`: the catalog the gateway indexes (with each integration's
problem), the categories calls are forwarded to (with each category's problem), the Secret objects
that come with the catalog, and what runs while the app does. :func:`choose` takes one, once;
the app is assembled the same way for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import structlog

from toolmesh.catalog import folder
from toolmesh.common import logging as logging_setup
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import discovery, profiles
from toolmesh.gateway.catalog import GatewayCatalog
from toolmesh.gateway.cluster import ClusterSource
from toolmesh.gateway.settings import GatewaySettings, SettingsError
from toolmesh.gateway.supervisor import Categories, LocalCategories

log = structlog.get_logger("toolmesh.gateway")
EV_PROFILE = "profile.status"
#: How often idle local category servers are looked for.
REAP_EVERY = 5.0


class CatalogSource(Protocol):
    #: The tools, and (``problems``) why each failing integration's tools are missing.
    catalog: GatewayCatalog
    #: Secret objects that come with the catalog (a folder's, local development only).
    secrets: Mapping[str, Mapping[str, bytes]]

    @property
    def categories(self) -> Categories:
        """Where calls go; its ``problems()`` are the categories that are down."""
        ...

    def lifespan(self, rebuild: Callable[[], None]) -> AsyncIterator[None]:
        """Runs while the app does (an aiohttp cleanup context); ``rebuild`` re-indexes the catalog."""
        ...

    def report_circuit(self, integration: str, open_: bool) -> None:
        """An integration's circuit breaker opened (True) or closed (False) on this replica."""
        ...


class FolderSource:
    """Local mode: the folder's objects, read once; category servers started as child processes.

    Integrations whose tools only a category server knows (``spec.mcp``, ``spec.stdio``, a
    document at a URL) are discovered by starting their category servers before the app listens
    (discovery.py); each server started later (woken by a call) reports its tools again.
    """

    def __init__(self, settings: GatewaySettings) -> None:
        loaded = folder.load(settings.catalog)
        if loaded.profile_errors:  # a profile narrows access: without it, its callers would see more
            raise SettingsError(
                f"{settings.catalog}: an MCPProfile does not validate, and the gateway will not serve "
                f"its callers without it: {'; '.join(loaded.profile_errors)}"
            )
        self.catalog = catalog_mod.build(loaded)
        self.direct_limit = settings.direct_tools_limit
        self.secrets: Mapping[str, Mapping[str, bytes]] = loaded.secrets
        #: Category -> integrations whose tools its category server discovers.
        self.pending = discovery.pending(loaded)
        self.categories = LocalCategories(
            settings.catalog,
            settings.category_start_seconds,
            settings.category_idle_seconds,
            settings.call_timeout_seconds,
            log_format=logging_setup.resolve(settings.log_format, sys.stderr),  # the gateway's, on its stderr
            log_level=settings.log_level,
            endpoints=dict(settings.category_endpoints),
            on_start=self._learned,  # the gateway's service sets its own, which re-indexes too
        )

    def report_circuit(self, integration: str, open_: bool) -> None:
        """Local mode has no status to write: the metrics and the log say it."""

    def _learned(self, category: str, status: dict[str, Any], listed: list[dict[str, Any]]) -> None:
        self.catalog.learn(category, status, listed)

    async def discover(self) -> None:
        """Start the category servers whose tools only they know; they report them as they start."""
        await discovery.discover(self.categories, self.catalog, self.pending)

    async def lifespan(self, rebuild: Callable[[], None]) -> AsyncIterator[None]:
        """Discover, then stop idle category servers now and then; stop them all at the end. The
        folder is not watched: ``rebuild`` is not needed (tools a category server reports re-index
        on their own, through the service's ``on_start``)."""
        await self.discover()
        self.log_profiles()
        reaper = asyncio.create_task(self.categories.reap(REAP_EVERY), name="reap-idle-categories")
        yield
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        await self.categories.close()

    def log_profiles(self) -> None:
        """Local mode has no status to write: each profile's verdict goes to the log, once the
        catalog is complete (a selector that matches nothing is a warning)."""
        catalog = self.catalog
        for name, profile in sorted(catalog.profiles.items()):
            verdict = profiles.verdict(
                profile, catalog.tools.values(), catalog.integration_categories,
                catalog.category_descriptions, self.direct_limit,
            )  # fmt: skip
            (log.info if verdict.ready else log.warning)(
                EV_PROFILE, profile=name, tools=verdict.tools, exposure=verdict.exposure,
                reason=verdict.reason, message=verdict.message,
            )  # fmt: skip

    async def discover_once(self) -> GatewayCatalog:
        """The catalog with every discoverable tool, for a one-off command (``toolmesh search``):
        the category servers are started, asked, and stopped."""
        try:
            await self.discover()
        finally:
            await self.categories.close()
        return self.catalog


def choose(settings: GatewaySettings) -> CatalogSource:
    """The source ``settings.source`` names: the one place the gateway's mode is chosen."""
    opened: CatalogSource = (
        ClusterSource.from_settings(settings) if settings.source == "cluster" else FolderSource(settings)
    )
    return opened
