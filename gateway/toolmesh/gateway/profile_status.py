"""MCPProfile status, written by the gateway (cluster mode): tools matched, exposure, subjects, Ready.

The gateway holds what a profile's status is about (every tool's name, integration and category),
so it writes the whole status of MCPProfile objects, and the operator does not watch them
(docs/design/0021). It is written with server-side apply to the status subresource under the
field manager ``toolmesh-gateway-profile``, only when what it says changed (compared with the
object as the watch last saw it: no extra read), from one task, newest first per profile. Every
replica computes the same status from the same catalog, so replicas agree rather than flap;
``lastTransitionTime`` moves only when Ready's status does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from toolmesh.api import API_VERSION, conditions
from toolmesh.gateway import profiles
from toolmesh.kube import ApiError, KubeClient

log = structlog.get_logger("toolmesh.gateway")
FIELD_MANAGER = "toolmesh-gateway-profile"
EV_NOT_WRITTEN = "profile.status_not_written"
EV_STATUS = "profile.status"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Ready condition of a status in wire form (``{}`` when it has none)."""
    found: dict[str, Any] = next(
        (c for c in (status or {}).get("conditions") or [] if c.get("type") == conditions.READY), {}
    )
    return found


def _said(status: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a status says, transition time aside: two statuses saying the same are not rewritten."""
    ready = _ready(status)
    return (
        status.get("observedGeneration"), status.get("tools"), status.get("exposure"), status.get("subjects"),
        ready.get("status"), ready.get("reason"), ready.get("message"),
    )  # fmt: skip


def status(
    verdict: profiles.Verdict, generation: int, live: Mapping[str, Any] | None, now: str
) -> dict[str, Any]:
    """The status for ``verdict`` (``live``: the object's status as last seen, for its transition time)."""
    ready = "True" if verdict.ready else "False"
    previous = _ready(live)
    since = str(previous["lastTransitionTime"]) if previous.get("status") == ready else now
    return {
        "observedGeneration": generation,
        "tools": verdict.tools,
        "exposure": verdict.exposure,
        "subjects": verdict.subjects,
        "conditions": [{
            "type": conditions.READY, "status": ready, "reason": verdict.reason, "message": verdict.message,
            "lastTransitionTime": since, "observedGeneration": generation,
        }],
    }  # fmt: skip


class Reporter:
    """Writes MCPProfile statuses from one task; the newest status per profile wins."""

    def __init__(self, namespace: str, direct_limit: int) -> None:
        self.namespace = namespace
        self.direct_limit = direct_limit
        self._pending: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def refresh(
        self,
        objects: Mapping[str, Mapping[str, Any]],
        compiled: Mapping[str, profiles.Profile],
        tools: Iterable[profiles.Tool],
        integrations: Mapping[str, str],
        categories: Iterable[str],
    ) -> None:
        """Work out every profile's status over the catalog; ask for the writes of those that changed."""
        every, known = list(tools), list(categories)
        for name, profile in compiled.items():
            obj = objects.get(name)
            if obj is None:
                continue
            verdict = profiles.verdict(profile, every, integrations, known, self.direct_limit)
            live = obj.get("status") or {}
            wanted = status(verdict, profile.generation, live, _now())
            if _said(wanted) == _said(live):
                self._pending.pop(name, None)
                continue
            log.info(EV_STATUS, profile=name, tools=verdict.tools, ready=verdict.ready, reason=verdict.reason)
            self._pending[name] = wanted
            self._wake.set()

    def start(self, kube: KubeClient) -> None:
        self._task = asyncio.create_task(self._run(kube), name="report-profiles")

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
                name, wanted = self._pending.popitem()
                await self._write(kube, name, wanted)

    async def _write(self, kube: KubeClient, name: str, wanted: dict[str, Any]) -> None:
        body = {
            "apiVersion": API_VERSION,
            "kind": "MCPProfile",
            "metadata": {"name": name, "namespace": self.namespace},
            "status": wanted,
        }
        try:
            await kube.apply_status(body, field_manager=FIELD_MANAGER)
        except ApiError as exc:
            if not exc.not_found:  # deleted meanwhile: nothing to say
                log.warning(EV_NOT_WRITTEN, profile=name, error=str(exc))
        except Exception as exc:  # the API server away: the next change reports again
            log.warning(EV_NOT_WRITTEN, profile=name, error=str(exc) or type(exc).__name__)
