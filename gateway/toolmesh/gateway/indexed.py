"""The gateway's word on each integration, in its status: the ``Indexed`` condition (cluster mode).

The operator compiles an integration's document and records the digest in ``status.specDigest``;
the gateway compiles it again to index the tools. When the two digests differ (the operator and the
gateway run different compiler versions), agents would search tools that are not what the operator
validated and the category server serves. The gateway says so where an admin looks, on the object:

* ``Indexed=True`` (reason ``Indexed``): the tools are in the gateway's search index, compiled to
  the recorded digest;
* ``Indexed=False``: ``DigestMismatch`` (indexed, but compiled to another digest: align the
  images), or why the gateway could not index a Ready integration (``SpecUnavailable``,
  ``SpecInvalid``: e.g. a URL the operator can fetch and the gateway cannot).

The condition is the gateway's alone: it is written with server-side apply under the field manager
``toolmesh-gateway`` to the status subresource, and the operator neither carries nor compares it.
Writes happen only when the condition changes, from one task, newest first per integration, so a
burst of changes costs one write per integration, and every replica computes the same condition
(no replica-specific text), so replicas agree instead of flapping. An integration the operator
reports not Ready has its ``Indexed`` removed (the operator's Ready already says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog

from toolmesh.api import API_VERSION, conditions
from toolmesh.kube import ApiError, KubeClient

log = structlog.get_logger("toolmesh.gateway")
FIELD_MANAGER = "toolmesh-gateway"
EV_REPORT_FAILED = "catalog.indexed_not_written"


@dataclass(frozen=True)
class Verdict:
    status: str  # "True" | "False"
    reason: str
    message: str


def indexed(tools: int) -> Verdict:
    return Verdict("True", "Indexed", f"{tools} tools are in the gateway's search index.")


def digest_mismatch(compiled: str, recorded: str) -> Verdict:
    return Verdict(
        "False",
        conditions.DIGEST_MISMATCH,
        f"The gateway compiled this spec to {compiled}, but status.specDigest (the operator's) is "
        f"{recorded}: the two run different compiler versions, so searches may show tools the "
        "category server does not serve. Run the same toolmesh version in the operator, the gateway "
        "and the category image.",
    )


def not_indexed(reason: str, message: str) -> Verdict:
    return Verdict("False", reason, f"The gateway could not index this integration: {message}")


def _verdict(found: dict[str, Any]) -> Verdict | None:
    """The verdict a live ``Indexed`` condition (JSON, ``{}`` when absent) says, if any."""
    return (
        Verdict(str(found["status"]), str(found.get("reason")), str(found.get("message"))) if found else None
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(
    namespace: str, name: str, verdict: Verdict | None, generation: int, since: str
) -> dict[str, Any]:
    """The gateway's whole intent for the status: its one condition, or none (which removes it)."""
    owned = [] if verdict is None else [{
        "type": conditions.INDEXED, "status": verdict.status, "reason": verdict.reason,
        "message": verdict.message, "lastTransitionTime": since,
        "observedGeneration": generation,
    }]  # fmt: skip
    return {
        "apiVersion": API_VERSION,
        "kind": "MCPIntegration",
        "metadata": {"name": name, "namespace": namespace},
        "status": {"conditions": owned},
    }


class Reporter:
    """Writes ``Indexed`` conditions from one task; the newest verdict per integration wins."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        #: integration -> (verdict, generation, the live condition's transition time when kept)
        self._pending: dict[str, tuple[Verdict | None, int, str | None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._refused = False

    def report(self, obj: dict[str, Any], verdict: Verdict | None) -> None:
        """Ask for ``verdict`` on ``obj`` (as last seen): nothing is written when it already says so."""
        found = conditions.in_json(obj, conditions.INDEXED)
        name, live = str(obj["metadata"]["name"]), _verdict(found)
        if live == verdict:
            self._pending.pop(name, None)
            return
        kept = live is not None and verdict is not None and live.status == verdict.status
        since = str(found["lastTransitionTime"]) if kept else None
        self._pending[name] = (verdict, int(obj["metadata"].get("generation", 0)), since)
        self._wake.set()

    def start(self, kube: KubeClient) -> None:
        self._task = asyncio.create_task(self._run(kube), name="report-indexed")

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
                name, (verdict, generation, since) = self._pending.popitem()
                await self._write(kube, name, verdict, generation, since)

    async def _write(
        self, kube: KubeClient, name: str, verdict: Verdict | None, generation: int, since: str | None
    ) -> None:
        body = status_body(self.namespace, name, verdict, generation, since or _now())
        try:
            await kube.apply_status(body, field_manager=FIELD_MANAGER)
        except ApiError as exc:
            if exc.not_found:
                return  # deleted meanwhile
            if exc.status == 403 and self._refused:
                return  # said once: RBAC without status writes (an older chart)
            self._refused = self._refused or exc.status == 403
            log.warning(EV_REPORT_FAILED, integration=name, error=str(exc))
        except Exception as exc:  # the API server away: the next change reports again
            log.warning(EV_REPORT_FAILED, integration=name, error=str(exc) or type(exc).__name__)
