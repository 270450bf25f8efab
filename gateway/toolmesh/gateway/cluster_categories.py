"""Forwarding in cluster mode: ``ClusterCategories`` sends calls to a category's endpoint (its
Service, or an override), and wakes a category with no ready pod.

To wake one, the gateway renews the category's demand Lease, then waits, bounded, for the operator
to report a ready pod (the MCPCategory objects as :class:`~toolmesh.gateway.cluster.ClusterSource`
watches them). The Service routes to a pod about a second after it is ready (kube-proxy), so a
connection refused meanwhile is tried again until the wake's deadline (and, for a category already
serving, for ``connect_retry`` seconds: a rollout). Its ``problems`` are the categories the
operator reports not Available and those that did not wake in time (until they serve).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from toolmesh.api import conditions, demand
from toolmesh.common import tasks, tracing
from toolmesh.common.http1 import ConnectFailed
from toolmesh.common.mcp_forward import CategoryClient
from toolmesh.gateway.supervisor import CategoryUnavailable, OnStart, OnWake
from toolmesh.kube import ApiError

if TYPE_CHECKING:
    from toolmesh.gateway.cluster import ClusterSource

log = structlog.get_logger("toolmesh.gateway")
EV_WAKE = "category.wake"
EV_CONNECT_RETRY = "category.connect_retry"
EV_TASK_FAILED = "category.task_failed"
#: How often calls still under way are looked at, to renew their categories' Leases (each Lease at
#: most every ``demand.renew_interval``): a call longer than ``idleAfter`` keeps its category up.
KEEP_ALIVE_SECONDS = 1.0


def failing(obj: dict[str, Any], type_: str) -> str | None:
    """Why the object's ``type_`` condition is False, as the operator says it; None when it is not."""
    found = conditions.in_json(obj, type_)
    if found.get("status") != "False":
        return None
    return str(found.get("message") or found.get("reason") or f"{type_} is False")


def serving(category: dict[str, Any]) -> bool:
    """At least one pod of the category is ready, as the operator reports it."""
    return int((category.get("status") or {}).get("readyReplicas") or 0) > 0


@dataclass
class ClusterCategories:
    """Forwarding in a cluster: one pooled client per category endpoint, and wake from zero."""

    source: ClusterSource
    namespace: str
    call_timeout: float
    wake_timeout: float
    renew_seconds: float
    holder: str
    endpoints: dict[str, str] = field(default_factory=dict)  # category -> MCP URL (tests, out-of-cluster)
    #: Seconds a call to a category already serving keeps trying to connect (a rollout's gap).
    connect_retry: float = 5.0
    on_start: OnStart | None = None
    #: Told of each connection retried, with its category (the gateway counts them).
    on_connect_retry: Callable[[str], None] | None = None
    #: Told of each wake from zero: the demand Lease renewed, then a ready pod reported or not in time.
    on_wake: OnWake | None = None
    running: dict[str, CategoryClient] = field(default_factory=dict)
    _urls: dict[str, str] = field(default_factory=dict)
    _renewed: dict[str, float] = field(default_factory=dict)
    #: Why each category's last wake failed (until one succeeds, or it serves).
    _failed: dict[str, str] = field(default_factory=dict)
    _keep_alive: asyncio.Task[None] | None = None

    def awake(self) -> dict[str, bool]:
        """Every MCPCategory in the namespace, True while the operator reports a ready pod."""
        return {name: serving(obj) for name, obj in self.source.category_objects.items()}

    def replicas(self) -> dict[str, int]:
        """Each MCPCategory's ready pods, as the operator reports them."""
        return {
            name: int((obj.get("status") or {}).get("readyReplicas") or 0)
            for name, obj in self.source.category_objects.items()
        }

    def problems(self) -> dict[str, str]:
        """Categories the operator reports not available, and those that did not wake in time."""
        down = {}
        for name, obj in self.source.category_objects.items():
            if (why := failing(obj, conditions.AVAILABLE)) is not None:
                down[name] = why
            elif name in self._failed and not serving(obj):
                down[name] = self._failed[name]
        return down

    async def client(self, category: str) -> CategoryClient:
        started = time.monotonic()
        if self._keep_alive is None:
            self._keep_alive = tasks.background(
                self._keep_calls_alive(), "demand-keep-alive", log, EV_TASK_FAILED
            )
        obj = self.source.category_objects.get(category)
        if obj is None:
            raise CategoryUnavailable(
                f"MCPCategory {category!r} does not exist in namespace {self.namespace!r}"
            )
        asleep = not serving(obj)
        await self._renew(category, obj, force=asleep)
        if asleep:
            log.info(EV_WAKE, category=category)
            with tracing.span(
                "toolmesh.wake", {"toolmesh.category": category, "toolmesh.wake.mode": "cluster"}
            ) as span:
                woken = await self._wake(category, obj, started + self.wake_timeout)
                if woken is None:
                    tracing.failed(span, "timeout")
            if self.on_wake is not None:
                self.on_wake(category, time.monotonic() - started, woken is not None)
            if woken is None:
                self._failed[category] = (
                    f"it is starting from zero pods and was not ready within {self.wake_timeout:g} s; "
                    "try the call again shortly"
                )
                raise CategoryUnavailable(self._failed[category])
            self._failed.pop(category, None)
            obj = woken
        url = self.endpoints.get(category) or str((obj.get("status") or {}).get("endpoint") or "")
        if not url:
            raise CategoryUnavailable("the operator has not published its endpoint yet")
        current = self.running.get(category)
        if current is None or self._urls.get(category) != url:
            if current is not None:
                await current.stop()
            current = CategoryClient(
                f"category {category}",
                url,
                self.call_timeout,
                connect_retry=self.connect_retry,
                on_connect_retry=functools.partial(self._connect_retried, category),
            )
            self.running[category] = current
            self._urls[category] = url
        if asleep:  # its pods are ready; its Service may not route to them yet
            current.connect_until = max(current.connect_until, started + self.wake_timeout)
        return current

    async def _wake(self, category: str, obj: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Wait until the operator reports a ready pod (None at ``deadline``), renewing the Lease meanwhile:
        a call waiting is demand, and a pod slower to start than ``idleAfter`` must not be scaled away."""
        every = demand.renew_interval(obj, self.renew_seconds)
        while (left := deadline - time.monotonic()) > 0:
            woken = await self.source.wait_category(category, serving, min(left, every))
            if woken is not None:
                return woken
            if deadline - time.monotonic() > 0:
                await self._renew(category, self.source.category_objects.get(category, obj), force=True)
        return None

    async def _keep_calls_alive(self) -> None:
        """Calls still under way are demand: their categories' Leases are renewed as a new call's
        would be (a call that began ``idleAfter`` ago must not see its pods scaled away)."""
        while True:
            await asyncio.sleep(KEEP_ALIVE_SECONDS)
            for category, client in list(self.running.items()):
                obj = self.source.category_objects.get(category)
                if client.in_flight and obj is not None:
                    await self._renew(category, obj, force=False)

    def _connect_retried(self, category: str, attempt: int, error: ConnectFailed) -> None:
        log.info(EV_CONNECT_RETRY, category=category, attempt=attempt, error=str(error.os_error))
        if self.on_connect_retry is not None:
            self.on_connect_retry(category)

    async def _renew(self, category: str, obj: dict[str, Any], *, force: bool) -> None:
        """Tell the operator the category is in use (at most every ``renew_interval``, unless waking)."""
        now = time.monotonic()
        every = demand.renew_interval(obj, self.renew_seconds)
        if not force and now - self._renewed.get(category, -1e9) < every:
            return
        self._renewed[category] = now
        lease = demand.lease(
            category, self.namespace, self.holder, dt.datetime.now(dt.UTC), obj["metadata"].get("uid")
        )
        try:
            await self.source.kube.apply(lease, field_manager=demand.FIELD_MANAGER)
        except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("category.demand_not_recorded", category=category, error=str(exc))

    async def close(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keep_alive
            self._keep_alive = None
        await asyncio.gather(*(c.stop() for c in self.running.values()), return_exceptions=True)
        self.running.clear()
