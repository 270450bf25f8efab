"""One level-based reconcile per kind: read, build with pure functions, apply, write status.

Both are idempotent and run from a coalescing work queue (workqueue.py): watch events, the resync
timer and the other kind's changes only *request* a reconcile. Integrations are validated here
and reflected into their category; a category's children are rebuilt from its valid integrations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from toolmesh.api import API_VERSION, MCPCategory, MCPIntegration, conditions, demand
from toolmesh.api.integration import ToolSummary
from toolmesh.catalog import cluster as cluster_catalog
from toolmesh.kube import ApiError, KubeClient
from toolmesh.operator import apply, builders, bundle, discovery, names, scaling, specs, status
from toolmesh.operator.settings import OperatorSettings
from toolmesh.operator.workqueue import WorkQueue

log = structlog.get_logger("toolmesh.operator")
Key = tuple[str, str]  # (namespace, name)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _condition(raw: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    return next(
        (c for c in ((raw or {}).get("status") or {}).get("conditions") or [] if c.get("type") == type_), {}
    )


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    return f"{where}: {first['msg']}"


@dataclass
class Operator:
    client: KubeClient
    http: aiohttp.ClientSession
    settings: OperatorSettings
    clock: Callable[[], dt.datetime] = utcnow
    compiler: specs.Compiler = field(default_factory=specs.Compiler)
    #: Every MCPIntegration as last seen (watch events and our own status writes): the category's index.
    integrations: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _category_of: dict[Key, str] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)
    category_queue: WorkQueue[Key] = field(init=False)
    integration_queue: WorkQueue[Key] = field(init=False)

    def __post_init__(self) -> None:
        self.category_queue = WorkQueue(self.reconcile_category, self.settings.workers)
        self.integration_queue = WorkQueue(self.reconcile_integration, self.settings.workers)

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
            for item in items:
                key = (item["metadata"]["namespace"], item["metadata"]["name"])
                self.integrations[key] = item
                self._category_of[key] = str((item.get("spec") or {}).get("category", ""))
                self.integration_queue.request(key)

    # -- events ---------------------------------------------------------------------------------------

    def integration_seen(self, raw: dict[str, Any], deleted: bool = False) -> None:
        meta = raw["metadata"]
        key = (meta["namespace"], meta["name"])
        if deleted:
            self.integrations.pop(key, None)
            if (previous := self._category_of.pop(key, None)) is not None:
                self.category_queue.request((key[0], previous))
            return
        self.integrations[key] = raw
        self.integration_queue.request(key)

    def category_seen(self, raw: dict[str, Any], kind_of_event: str | None) -> None:
        meta = raw["metadata"]
        key = (meta["namespace"], meta["name"])
        self.category_queue.request(key)
        if kind_of_event in (
            None,
            "ADDED",
            "DELETED",
        ):  # existence changed: its integrations' Resolved may too
            for (namespace, name), obj in list(self.integrations.items()):
                if namespace == key[0] and (obj.get("spec") or {}).get("category") == key[1]:
                    self.integration_queue.request((namespace, name))

    async def _apply_status(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Write a status; None when the object was deleted since it was read."""
        try:
            return await self.client.apply_status(obj, field_manager=names.FIELD_MANAGER)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    async def warn(self, obj: dict[str, Any], reason: str, message: str) -> None:
        """A Warning Event on ``obj``: only for what an admin must act on (kubectl describe shows it)."""
        meta = obj["metadata"]
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            await self.client.create({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion", "")},
                "type": "Warning", "reason": reason, "message": message[:1024],
                "source": {"component": names.FIELD_MANAGER},
                "reportingComponent": f"{names.DOMAIN}/operator", "reportingInstance": names.FIELD_MANAGER,
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            })  # fmt: skip
        except ApiError as exc:  # an Event is best effort: never fail a reconcile for it
            log.warning("event_not_posted", reason=reason, error=str(exc))

    # -- MCPIntegration ---------------------------------------------------------------------------

    async def reconcile_integration(self, key: Key) -> None:
        namespace, name = key
        raw = await self.client.get("MCPIntegration", namespace, name)
        if raw is None:
            self.integration_seen({"metadata": {"namespace": namespace, "name": name}}, deleted=True)
            return
        self.integrations[key] = raw
        generation = int(raw["metadata"].get("generation", 1))
        category = str((raw.get("spec") or {}).get("category", ""))
        try:
            obj = MCPIntegration.model_validate(raw)
        except ValidationError as exc:
            found = status.IntegrationFindings(
                generation, [(conditions.SPEC_VALID, conditions.SPEC_INVALID, _validation_message(exc))]
            )
        else:
            found = await self._inspect(obj, namespace, generation)
        desired = status.integration(raw.get("status"), found, self.clock())
        if desired != raw.get("status"):
            was_ready = _condition(raw, conditions.READY).get("status")
            updated = await self._apply_status(
                {"apiVersion": API_VERSION, "kind": "MCPIntegration", "metadata": {"name": name, "namespace": namespace}, "status": desired},
            )  # fmt: skip
            if updated is None:
                return  # deleted meanwhile: its DELETED event requests its category
            self.integrations[key] = updated
            ready = _condition(updated, conditions.READY)
            if ready.get("status") == "False" and was_ready != "False":
                await self.warn(updated, str(ready.get("reason")), str(ready.get("message")))
            log.info(
                "integration_status",
                namespace=namespace,
                name=name,
                ready=ready.get("status"),
                reason=ready.get("reason"),
            )
        previous = self._category_of.get(key)
        self._category_of[key] = category
        if previous is not None and previous != category:
            self.category_queue.request((namespace, previous))
        if category:
            self.category_queue.request((namespace, category))

    async def _inspect(
        self, obj: MCPIntegration, namespace: str, generation: int
    ) -> status.IntegrationFindings:
        spec = obj.spec
        problems: list[tuple[str, str, str]] = []
        tools = digest = source = None
        warnings: tuple[str, ...] = ()
        discovery_pending = False
        if spec.openapi is not None:
            wire_spec = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
            placed = bundle.placement(
                str(obj.metadata["name"]), namespace, wire_spec, self.settings.max_configmap_bytes
            )
            document = await cluster_catalog.read(
                self.client, self.http, obj, namespace,
                timeout=self.settings.spec_fetch_timeout_seconds, max_bytes=self.settings.spec_max_bytes,
            )  # fmt: skip
            source = document.source
            if placed.too_large is not None:
                problems.append((conditions.SPEC_VALID, conditions.SPEC_TOO_LARGE, placed.too_large))
            elif placed.packed is not None:
                source = f"{source}; gzip-compressed into the category's catalog ConfigMap"
            if document.problem is not None:
                reason, message = document.problem
                kind = (
                    conditions.RESOLVED
                    if reason == conditions.SPEC_UNAVAILABLE and spec.openapi.spec.config_map_key_ref
                    else conditions.SPEC_VALID
                )
                problems.append((kind, reason, message))
            elif document.data is not None:
                compiled = await self.compiler.compile(obj, document.data)
                tools, digest, warnings = compiled.tools, compiled.digest or None, compiled.warnings
                if compiled.problem is not None:
                    problems.append((conditions.SPEC_VALID, *compiled.problem))
        else:
            discovered = list(obj.status.discovered_tools) if obj.status else []
            current = obj.status is not None and obj.status.observed_generation == generation
            if spec.mcp is not None and not (discovered and current):
                try:
                    discovered = await discovery.list_tools(
                        obj, self.client, namespace, self.settings.spec_fetch_timeout_seconds
                    )
                except discovery.Undiscoverable as exc:
                    log.info(
                        "integration_discovery_pending",
                        namespace=namespace,
                        name=obj.metadata.get("name"),
                        reason=str(exc),
                    )
            tools = len(discovered) or None
            discovery_pending = not discovered
        if await self.client.get("MCPCategory", namespace, spec.category) is None:
            problems.append(
                (
                    conditions.RESOLVED,
                    conditions.CATEGORY_NOT_FOUND,
                    f"spec.category: MCPCategory {spec.category!r} was not found in namespace {namespace!r}; create it or fix spec.category",
                )
            )
        for secret in sorted(
            bundle.referenced_secrets(spec.model_dump(by_alias=True, mode="json", exclude_none=True))
        ):
            if await self.client.get("Secret", namespace, secret) is None:
                where = (
                    "spec.auth.secretRef"
                    if spec.auth and spec.auth.secret_ref and spec.auth.secret_ref.name == secret
                    else "spec.stdio.env[].secretKeyRef"
                )
                problems.append(
                    (
                        conditions.RESOLVED,
                        conditions.SECRET_NOT_FOUND,
                        f"{where}: Secret {secret!r} was not found in namespace {namespace!r}; create it or fix the reference",
                    )
                )
        discovered_list: list[ToolSummary] = (
            discovered if spec.openapi is None else (list(obj.status.discovered_tools) if obj.status else [])
        )
        return status.IntegrationFindings(
            generation, problems, tools, digest, source, warnings, discovery_pending, discovered_list
        )

    # -- MCPCategory ------------------------------------------------------------------------------

    async def reconcile_category(self, key: Key) -> None:
        namespace, name = key
        raw = await self.client.get("MCPCategory", namespace, name)
        if raw is None:
            return  # deleted: its children go with it (owner references)
        try:
            obj = MCPCategory.model_validate(raw)
        except ValidationError as exc:
            log.warning("category_invalid", namespace=namespace, name=name, error=_validation_message(exc))
            return
        members, not_ready, pending, tools = [], [], [], 0
        for (ns, integration_name), item in sorted(self.integrations.items()):
            if ns != namespace or (item.get("spec") or {}).get("category") != name:
                continue
            item_status = item.get("status") or {}
            if item_status.get("observedGeneration") != item["metadata"].get("generation"):
                pending.append(integration_name)
            elif _condition(item, conditions.READY).get("status") == "True":
                members.append(
                    bundle.Member(integration_name, item["spec"], str(item_status.get("specDigest", "")))
                )
                tools += int(item_status.get("tools") or 0)
            else:
                not_ready.append(integration_name)
        deployment = await self.client.get("Deployment", namespace, names.server(name))
        if pending:
            found = status.CategoryFindings(
                int(raw["metadata"].get("generation", 1)),
                scaling.Scale(0, asleep=False),
                deployment,
                len(members),
                tools,
                names.endpoint(name, namespace),
                not_ready,
                pending,
            )
            await self._write_category_status(raw, found)
            return  # each pending integration requests this category again once validated
        packed = bundle.build(name, namespace, members, self.settings.max_configmap_bytes)
        lease = await self.client.get("Lease", namespace, names.demand_lease(name))
        live_replicas = (deployment or {}).get("spec", {}).get("replicas")
        scale = scaling.decide(obj, live_replicas, demand.last_demand(lease), self.clock())
        desired, absent = builders.children(
            obj, raw, packed, scale, self.settings.category_image, self._vault_wiring()
        )
        for manifest in desired:
            live = deployment if manifest["kind"] == "Deployment" else None
            result = await apply.ensure(self.client, manifest, live)
            if manifest["kind"] == "Deployment":
                deployment = result
        for kind, child in absent:
            await apply.ensure_absent(self.client, kind, namespace, child)
        await apply.prune(
            self.client,
            "ConfigMap",
            namespace,
            name,
            {m["metadata"]["name"] for m in desired if m["kind"] == "ConfigMap"},
        )
        found = status.CategoryFindings(
            int(raw["metadata"].get("generation", 1)),
            scale,
            deployment,
            len(members),
            tools,
            names.endpoint(name, namespace),
            not_ready,
        )
        await self._write_category_status(raw, found)
        self._schedule(key, scale.wake_at_latest)

    async def _write_category_status(self, raw: dict[str, Any], found: status.CategoryFindings) -> None:
        desired = status.category(raw.get("status"), found, self.clock())
        if desired == raw.get("status"):
            return
        meta = raw["metadata"]
        await self._apply_status(
            {"apiVersion": API_VERSION, "kind": "MCPCategory", "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, "status": desired},
        )  # fmt: skip
        ready: dict[str, Any] = next((c for c in desired["conditions"] if c["type"] == conditions.READY), {})
        log.info(
            "category_status",
            namespace=meta["namespace"],
            name=meta["name"],
            ready=ready.get("status"),
            reason=ready.get("reason"),
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
