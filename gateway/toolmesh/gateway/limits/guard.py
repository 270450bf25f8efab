"""What the gateway checks before forwarding a call, and learns after: rate limits and breakers.

``GatewayService.call_wire`` asks :meth:`Limits.admit` before forwarding (a refusal is answered, not
forwarded) and tells :meth:`Limits.record` the outcome after. Limits are counted in Redis when
TOOLMESH_REDIS_URL is set, shared by every replica; if Redis cannot be reached, each replica counts
alone meanwhile (so a limit holds per replica rather than not at all) and says so in a metric and
its log. Breakers are per replica (docs/design/0016).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError

from toolmesh.api.integration import Limits as IntegrationLimits
from toolmesh.common.call_meta import REFUSED_META
from toolmesh.gateway.limits import windows
from toolmesh.gateway.limits.breaker import Breaker, Pass, State
from toolmesh.gateway.limits.counters import Counters, MemoryCounters
from toolmesh.gateway.metrics import GatewayMetrics
from toolmesh.gateway.settings import GatewaySettings

log = structlog.get_logger("toolmesh.gateway")
EV_LIMITED = "tool.rate_limited"
EV_CIRCUIT = "integration.circuit"
EV_STORE = "limits.store_unavailable"
WARN_EVERY = 60.0  # seconds between two warnings that Redis is unavailable


@dataclass(frozen=True)
class Refusal:
    """A call not forwarded: the outcome counted, the text and ``_meta`` the caller gets."""

    outcome: str  # rate_limited | circuit_open
    text: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class Ticket:
    """A call let through, to report its outcome with."""

    integration: str
    admitted: Pass


class Limits:
    def __init__(
        self,
        settings: GatewaySettings,
        specs: Mapping[str, IntegrationLimits],
        metrics: GatewayMetrics,
        shared: Counters | None = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.specs, self.metrics = settings, specs, metrics
        self.shared, self.local = shared, MemoryCounters()
        #: The wall clock windows are counted in (replicas agree on it); breakers use ``monotonic``.
        self.clock, self.monotonic = clock, monotonic
        self.breakers: dict[str, Breaker] = {}
        #: Told when an integration's circuit opens (True) or closes (False), and of the first call
        #: to it that succeeds on this replica (False): cluster mode writes its status.
        self.on_change: Callable[[str, bool], None] = lambda integration, open_: None
        self._confirmed: set[str] = set()
        self._warned = -WARN_EVERY
        #: Whether the gateway's settings limit every integration (else only those with spec.limits
        #: do, and a call to any other is let through without counting: the common case, kept cheap).
        self._defaults = any(
            (
                settings.limits_caller_per_minute,
                settings.limits_caller_tool_per_minute,
                settings.limits_integration_per_minute,
                settings.limits_integration_caller_per_minute,
            )
        )

    def configured(self, integration: str) -> windows.Configured:
        spec = self.specs.get(integration)
        s = self.settings
        total = spec.calls_per_minute if spec is not None else None
        each = spec.per_user_calls_per_minute if spec is not None else None
        return windows.Configured(
            caller=s.limits_caller_per_minute,
            caller_tool=s.limits_caller_tool_per_minute,
            integration=s.limits_integration_per_minute if total is None else total,
            integration_caller=s.limits_integration_caller_per_minute if each is None else each,
        )

    def breaker(self, integration: str) -> Breaker:
        found = self.breakers.get(integration)
        if found is None:
            found = self.breakers[integration] = Breaker(
                self.settings.breaker_failures,
                self.settings.breaker_cooldown_seconds,
                self.settings.call_timeout_seconds,
                clock=self.monotonic,
                on_change=lambda state: self._changed(integration, state),
            )
        return found

    async def admit(self, caller: str, tool: str, integration: str) -> Ticket | Refusal:
        """Let the call through (a ticket to report its outcome with), or say why not."""
        breaker = self.breaker(integration)
        admitted = breaker.admit()
        if not isinstance(admitted, Pass):
            return self._circuit_open(integration, admitted)
        if not self._defaults and integration not in self.specs:
            return Ticket(integration, admitted)
        wanted = windows.limits(self.configured(integration), caller, tool, integration)
        if not wanted:
            return Ticket(integration, admitted)
        index, left = windows.window(self.clock())
        over = await self._count(wanted, index)
        if over is None:
            return Ticket(integration, admitted)
        breaker.release(admitted)
        limit = wanted[over]
        self.metrics.limited.labels(integration, limit.scope.value).inc()
        log.info(EV_LIMITED, tool=tool, integration=integration, limit=limit.scope.value)
        return _rate_limited(limit, integration, windows.retry_seconds(left))

    async def _count(self, wanted: list[windows.Limit], index: int) -> int | None:
        if self.shared is not None:
            try:
                return await self.shared.admit(wanted, index)
            except (RedisError, OSError, TimeoutError) as exc:
                self.metrics.limits_store_errors.inc()
                now = self.monotonic()
                if now - self._warned >= WARN_EVERY:
                    self._warned = now
                    log.warning(EV_STORE, reason=f"{type(exc).__name__}: {exc}", fallback="per replica")
        return await self.local.admit(wanted, index)

    def record(self, ticket: Ticket, *, outage: bool) -> None:
        """The outcome of a call let through: an outage (the category server or upstream down) or not."""
        breaker = self.breaker(ticket.integration)
        breaker.record(ticket.admitted, outage=outage)
        if not outage and ticket.integration not in self._confirmed and breaker.state is State.CLOSED:
            self._confirmed.add(ticket.integration)
            self.on_change(ticket.integration, False)

    def unavailable(self, integration: str) -> str:
        """A note for the integration's tools in search results while its circuit is open; else ''."""
        breaker = self.breakers.get(integration)
        if breaker is None or breaker.state is State.CLOSED:
            return ""
        return f" (unavailable: integration {integration} is failing; retry in {windows.retry_seconds(breaker.retry_after())} s)"

    def _circuit_open(self, integration: str, wait: float) -> Refusal:
        seconds = windows.retry_seconds(wait)
        return Refusal(
            "circuit_open",
            f"integration {integration} is unavailable: its recent calls failed (its category server "
            f"or upstream did not answer), so calls fail fast until a trial call succeeds. Retry in "
            f"{seconds} s; this call was not forwarded.",
            {
                REFUSED_META: {
                    "reason": "circuitOpen",
                    "integration": integration,
                    "retryAfterSeconds": seconds,
                }
            },
        )

    def _changed(self, integration: str, state: State) -> None:
        self.metrics.circuit_state.labels(integration).set(state.value)
        self.metrics.circuit_transitions.labels(integration, state.name.lower()).inc()
        log.warning(EV_CIRCUIT, integration=integration, state=state.name.lower())
        if state is not State.HALF_OPEN:
            self._confirmed.add(integration)
            self.on_change(integration, state is State.OPEN)

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()


def _rate_limited(limit: windows.Limit, integration: str, seconds: int) -> Refusal:
    what = windows.DESCRIBED[limit.scope].format(integration=integration)
    return Refusal(
        "rate_limited",
        f"rate limit reached: {what} is {limit.calls}. Retry in {seconds} s; this call was not forwarded.",
        {REFUSED_META: {"reason": "rateLimited", "limit": limit.scope.value, "calls": limit.calls,
                        "integration": integration, "retryAfterSeconds": seconds}},
    )  # fmt: skip
