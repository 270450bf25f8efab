"""An integration's circuit, in its status: the ``Available`` condition (cluster mode).

The gateway's breakers (breaker.py) are per replica; what an admin sees on the object is the last
word of any replica: ``Available=False`` (reason ``CircuitOpen``) when a replica's breaker opened,
``Available=True`` (``CircuitClosed``) when a trial call closed it, or when a replica's first
successful call to the integration finds the condition False (a replica restarted while its breaker
was open, and left it so). A change the object already shows (as the gateway's watch last saw it:
no extra read, no extra permission) is not written.

The condition is written by server-side apply to the status subresource under its own field manager,
``toolmesh-gateway-circuit``: an apply is its manager's whole intent for the object, so the
``Indexed`` writer (indexed.py, ``toolmesh-gateway``) and this one would each remove the other's
condition if they shared a name. Writes happen from one task, newest first per integration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import structlog

from toolmesh.api import API_VERSION, conditions
from toolmesh.kube import ApiError, KubeClient

log = structlog.get_logger("toolmesh.gateway")
FIELD_MANAGER = "toolmesh-gateway-circuit"
EV_NOT_WRITTEN = "integration.available_not_written"
OPEN_MESSAGE = (
    "The gateway's circuit breaker for this integration is open: its recent calls found the category "
    "server or the upstream down, so calls fail fast and searches mark its tools unavailable until "
    "a trial call succeeds (TOOLMESH_BREAKER_COOLDOWN_SECONDS after it opened)."
)
CLOSED_MESSAGE = "The gateway's calls to this integration succeed."


def condition(open_: bool, generation: int, since: str) -> dict[str, Any]:
    return {
        "type": conditions.AVAILABLE,
        "status": "False" if open_ else "True",
        "reason": conditions.CIRCUIT_OPEN if open_ else conditions.CIRCUIT_CLOSED,
        "message": OPEN_MESSAGE if open_ else CLOSED_MESSAGE,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def wanted(live: dict[str, Any], open_: bool, generation: int, now: str) -> dict[str, Any] | None:
    """The condition to write over ``live`` (``{}``: none yet), or None when it already says so."""
    new = condition(open_, generation, now)
    if live.get("status") == new["status"] and live.get("reason") == new["reason"]:
        return None
    return new


class Reporter:
    """Writes ``Available`` conditions from one task; the newest word per integration wins."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._pending: dict[str, bool] = {}  # integration -> open
        #: integration -> (its Available condition, its generation), as the watch last saw it
        self._live: dict[str, tuple[dict[str, Any], int]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def seen(self, obj: dict[str, Any], deleted: bool = False) -> None:
        """An integration as the watch saw it (or its deletion)."""
        name = str(obj["metadata"]["name"])
        if deleted:
            self._live.pop(name, None)
        else:
            generation = int(obj["metadata"].get("generation", 0))
            self._live[name] = (conditions.in_json(obj, conditions.AVAILABLE), generation)

    def report(self, integration: str, open_: bool) -> None:
        self._pending[integration] = open_
        self._wake.set()

    def start(self, kube: KubeClient) -> None:
        self._task = asyncio.create_task(self._run(kube), name="report-available")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, kube: KubeClient) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                name, open_ = self._pending.popitem()
                try:
                    await self._write(kube, name, open_)
                except Exception as exc:  # the API server away: the next change reports again
                    log.warning(EV_NOT_WRITTEN, integration=name, error=str(exc) or type(exc).__name__)

    async def _write(self, kube: KubeClient, name: str, open_: bool) -> None:
        if name not in self._live:
            return  # deleted meanwhile
        live, generation = self._live[name]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        new = wanted(live, open_, generation, now)
        if new is None:
            return
        body = {
            "apiVersion": API_VERSION,
            "kind": "MCPIntegration",
            "metadata": {"name": name, "namespace": self.namespace},
            "status": {"conditions": [new]},
        }
        try:
            await kube.apply_status(body, field_manager=FIELD_MANAGER)
        except ApiError as exc:
            if not exc.not_found:
                raise
            return
        self._live[name] = (new, generation)  # until the watch brings the object back
