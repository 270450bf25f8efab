"""One level-based reconcile per kind: read, build with pure functions, apply, write status.

Both are idempotent and run from a coalescing work queue (workqueue.py): watch events, the resync
timer and the other kind's changes only *request* a reconcile. Integrations are validated here
and reflected into their category; a category's children are rebuilt from its valid integrations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
import structlog
from pydantic import ValidationError

from toolmesh.api import MCPCategory, MCPIntegrationStatus, conditions, demand
from toolmesh.api.base import ConditionStatus
from toolmesh.api.meta import Envelope
from toolmesh.kube import ApiError, KubeClient
from toolmesh.operator import apply, builders, bundle, checks, events, names, observed, scaling, specs, status
from toolmesh.operator.settings import OperatorSettings
from toolmesh.operator.workqueue import WorkQueue

log = structlog.get_logger("toolmesh.operator")
Key = observed.Key


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Members:
    """A category's integrations, sorted by what the category does with them."""

    served: list[bundle.Member] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # not validated at their current generation yet
    tools: int = 0


def members_of(namespace: str, category: str, index: Mapping[Key, observed.Seen]) -> Members:
    """Which integrations a category serves, from the operator's index. Pure."""
    out = Members()
    for (ns, name), seen in sorted(index.items()):
        if ns != namespace or seen.category != category:
            continue
        if not seen.current:
            out.pending.append(name)
        elif seen.ready() == ConditionStatus.TRUE and seen.status is not None:
            out.served.append(bundle.Member(name, seen.spec, seen.status.spec_digest or ""))
            out.tools += seen.status.tools or 0
        else:
            out.not_ready.append(name)
    return out


@dataclass
class Operator:
    client: KubeClient
    http: aiohttp.ClientSession
    settings: OperatorSettings
    clock: Callable[[], dt.datetime] = utcnow
    compiler: specs.Compiler = field(default_factory=specs.Compiler)
    #: Every MCPIntegration as last seen (watch events and our own status writes): the category's index.
    integrations: dict[Key, observed.Seen] = field(default_factory=dict)
    _category_of: dict[Key, str] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)
    category_queue: WorkQueue[Key] = field(init=False)
    integration_queue: WorkQueue[Key] = field(init=False)
    checker: checks.Checks = field(init=False)

    def __post_init__(self) -> None:
        self.category_queue = WorkQueue(self.reconcile_category, self.settings.workers)
        self.integration_queue = WorkQueue(self.reconcile_integration, self.settings.workers)
        self.checker = checks.Checks(self.client, self.http, self.settings, self.compiler)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        await self.category_queue.close()
        await self.integration_queue.close()

    async def idle(self) -> None:
        """Both queues drained (used by tests and the scale benchmark)."""
        while True:
            await self.integration_queue.idle()
            await self.category_queue.idle()
            await asyncio.sleep(0)
            if self.integration_queue.is_idle and self.category_queue.is_idle:
                return

    async def prime(self) -> None:
        """Load every MCPIntegration before the first category reconcile.

        A category's children are built from its integrations; reconciling it from a half-filled
        index (right after a restart, while the watches replay) would drop integrations from its
        catalog and roll its pods for nothing. Each primed integration is also re-validated, which
        drops any that were deleted while the operator was down.
        """
        scopes: list[str | None] = [*self.settings.namespaces] or [None]
        for namespace in scopes:
            items, _ = await self.client.list("MCPIntegration", namespace)
            for seen in map(observed.integration, items):
                self.integrations[seen.key] = seen
                self._category_of[seen.key] = seen.category
                self.integration_queue.request(seen.key)

    # -- events ---------------------------------------------------------------------------------------

    def integration_seen(self, seen: observed.Seen) -> None:
        self.integrations[seen.key] = seen
        self.integration_queue.request(seen.key)

    def integration_gone(self, key: Key) -> None:
        self.integrations.pop(key, None)
        if (previous := self._category_of.pop(key, None)) is not None:
            self.category_queue.request((key[0], previous))

    def category_seen(self, key: Key, kind_of_event: str | None) -> None:
        self.category_queue.request(key)
        # Existence changed: its integrations' Resolved may too.
        if kind_of_event in (None, "ADDED", "DELETED"):
            for other, seen in list(self.integrations.items()):
                if other[0] == key[0] and seen.category == key[1]:
                    self.integration_queue.request(other)

    async def _apply_status(
        self, obj: Envelope[MCPIntegrationStatus] | MCPCategory
    ) -> dict[str, object] | None:
        """Write a status; None when the object was deleted since it was read."""
        try:
            written: dict[str, object] = await self.client.apply_status(
                obj, field_manager=names.FIELD_MANAGER
            )
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
        return written

    # -- MCPIntegration ---------------------------------------------------------------------------

    async def reconcile_integration(self, key: Key) -> None:
        namespace, name = key
        raw = await self.client.get("MCPIntegration", namespace, name)  # JSON: the spec may not validate
        if raw is None:
            self.integration_gone(key)
            return
        seen = self.integrations[key] = observed.integration(raw)
        if seen.model is None:
            invalid = (conditions.SPEC_VALID, conditions.SPEC_INVALID, seen.invalid or "spec: invalid")
            found = status.IntegrationFindings(seen.generation, [invalid])
        else:
            found = await self.checker.integration(seen.model, seen.generation)
        desired = status.integration(seen.status, found, self.clock())
        if desired != status.own_integration_status(seen.status) and not await self._write_integration_status(
            seen, desired
        ):
            return  # deleted meanwhile: its DELETED event requests its category
        previous = self._category_of.get(key)
        self._category_of[key] = seen.category
        if previous is not None and previous != seen.category:
            self.category_queue.request((namespace, previous))
        if seen.category:
            self.category_queue.request((namespace, seen.category))

    async def _write_integration_status(self, seen: observed.Seen, desired: MCPIntegrationStatus) -> bool:
        """Write the status, warn when it turns not Ready; False when the object is gone."""
        was_ready = seen.ready()
        written = await self._apply_status(seen.envelope.model_copy(update={"status": desired}))
        if written is None:
            return False
        updated = self.integrations[seen.key] = observed.integration(written)
        ready = conditions.find(updated.status.conditions, conditions.READY) if updated.status else None
        if ready is not None and ready.status == ConditionStatus.FALSE and was_ready != ConditionStatus.FALSE:
            await events.warn(self.client, updated.envelope, ready.reason, ready.message, self.clock())
        log.info(
            "integration_status",
            namespace=seen.meta.namespace,
            name=seen.meta.name,
            ready=ready.status if ready else None,
            reason=ready.reason if ready else None,
        )
        return True

    # -- MCPCategory ------------------------------------------------------------------------------

    async def reconcile_category(self, key: Key) -> None:
        namespace, name = key
        try:
            obj = await self.client.get(MCPCategory, namespace, name)
        except ValidationError as exc:
            message = observed.validation_message(exc)
            log.warning("category_invalid", namespace=namespace, name=name, error=message)
            return
        if obj is None:
            return  # deleted: its children go with it (owner references)
        members = members_of(namespace, name, self.integrations)
        deployment = await self.client.get("Deployment", namespace, names.server(name))
        if members.pending:  # each pending integration requests this category again once validated
            await self._write_category_status(obj, members, scaling.Scale(0, asleep=False), deployment)
            return
        scale = await self._scale(obj, deployment)
        deployment = await self._apply_children(obj, members, scale, deployment)
        await self._write_category_status(obj, members, scale, deployment)
        self._schedule(key, scale.wake_at_latest)

    async def _scale(self, obj: MCPCategory, deployment: dict[str, object] | None) -> scaling.Scale:
        """Replicas from the range, the live count (the HPA's choice) and the demand Lease."""
        meta = obj.metadata
        lease = await self.client.get("Lease", meta.namespace, names.demand_lease(meta.name))
        live = status.Rollout.model_validate(deployment) if deployment else None
        return scaling.decide(
            obj, live.spec.replicas if live else None, demand.last_demand(lease), self.clock()
        )

    async def _apply_children(
        self, obj: MCPCategory, members: Members, scale: scaling.Scale, deployment: dict[str, object] | None
    ) -> dict[str, object] | None:
        """Apply the category's children; returns the Deployment as it is now."""
        meta = obj.metadata
        packed = bundle.build(meta.name, meta.namespace, members.served, self.settings.max_configmap_bytes)
        desired, absent = builders.children(
            obj,
            packed,
            scale,
            self.settings.category_image,
            self._vault_wiring(),
            self.settings.otlp_endpoint,
            tuple(self.settings.category_settings.items()),
        )
        for manifest in desired:
            if manifest["kind"] == "Deployment":
                deployment = await apply.ensure(self.client, manifest, deployment)
            else:
                await apply.ensure(self.client, manifest)
        for kind, child in absent:
            await apply.ensure_absent(self.client, kind, meta.namespace, child)
        keep = {configmap for configmap, _, _ in packed.configmaps}
        await apply.prune(self.client, "ConfigMap", meta.namespace, meta.name, keep)
        return deployment

    async def _write_category_status(
        self,
        obj: MCPCategory,
        members: Members,
        scale: scaling.Scale,
        deployment: dict[str, object] | None,
    ) -> None:
        meta = obj.metadata
        found = status.CategoryFindings(
            meta.generation or 1,
            scale,
            status.Rollout.model_validate(deployment) if deployment else None,
            len(members.served),
            members.tools,
            names.endpoint(meta.name, meta.namespace),
            members.not_ready,
            members.pending,
        )
        desired = status.category(obj.status, found, self.clock())
        if desired == obj.status:
            return
        await self._apply_status(obj.model_copy(update={"status": desired}))
        ready = conditions.find(desired.conditions, conditions.READY)
        log.info(
            "category_status",
            namespace=meta.namespace,
            name=meta.name,
            ready=ready.status if ready else None,
            reason=ready.reason if ready else None,
        )

    def _vault_wiring(self) -> builders.VaultWiring | None:
        settings = self.settings
        if not settings.vault_addr:
            return None
        return builders.VaultWiring(
            settings.vault_addr, settings.vault_auth_mount, settings.vault_audience, settings.vault_kv_mount
        )

    def _schedule(self, key: Key, when: dt.datetime | None) -> None:
        """Come back when an active category would become idle (scale to zero), if nothing else does first."""
        if (timer := self._timers.pop(key, None)) is not None:
            timer.cancel()
        if when is None:
            return
        delay = max((when - self.clock()).total_seconds(), 0.0) + 1.0
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self.category_queue.request, key)
