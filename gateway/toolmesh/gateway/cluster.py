"""Gateway cluster mode: the catalog follows the cluster, and calls go to category Services.

``ClusterSource`` (a source.CatalogSource) lists and watches MCPCategory and MCPIntegration in one
namespace, and keeps the GatewayCatalog in step: an integration that the operator reports Ready
is compiled with the shared compiler (only when its spec or digest changed) and its tools indexed;
one that is deleted or no longer Ready loses its tools. What it found is written back as the
integration's ``Indexed`` condition (indexed.py: the only thing it writes to these objects, in
their status; a digest other than the operator's is a ``DigestMismatch``). Why an integration's tools
are missing (the operator's Ready message, or what reading or compiling its spec here said) is kept
in the catalog's ``problems``, as folder mode keeps it. A federated integration's prompts, resources and
templates are taken from its status (``discoveredPrompts``, ...: offered.py), recorded by the operator. The index is rebuilt once per burst of
changes, in a thread, and swapped in whole, so searches never wait for it; a rebuild that fails is
logged and the previous index serves on until the next change.

``ClusterCategories`` forwards calls to a category's endpoint (its Service, or an override). A
category with no ready pod is woken: the gateway renews the category's demand Lease, then waits, bounded, for the operator to report a ready pod. The Service routes
to a pod about a second after it is ready (kube-proxy), so a connection refused meanwhile is tried
again until the wake's deadline (and, for a category already serving, for ``connect_retry``
seconds: a rollout). Its ``problems`` are the categories the operator reports not Available and
those that did not wake in time (until they serve).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from toolmesh.api import MCPIntegration, conditions, demand
from toolmesh.catalog import cluster as cluster_catalog
from toolmesh.common import tracing
from toolmesh.common.mcp_forward import CategoryClient
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import indexed
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.limits import available
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.gateway.supervisor import CategoryUnavailable, OnStart, OnWake
from toolmesh.kube import ApiError, Connection, KubeClient, load_connection
from toolmesh.openapi import SpecError

log = structlog.get_logger("toolmesh.gateway")
EV_INDEXED = "catalog.integration_indexed"
EV_REMOVED = "catalog.integration_removed"
EV_PROBLEM = "catalog.integration_problem"
EV_REBUILD_FAILED = "catalog.index_rebuild_failed"
EV_DIGEST_MISMATCH = "catalog.spec_digest_mismatch"
EV_TASK_FAILED = "catalog.task_failed"
EV_WAKE = "category.wake"
EV_CONNECT_RETRY = "category.connect_retry"
#: The status fields where the operator records a federated server's prompts, resources, templates.
DISCOVERED_OFFERED = ("discoveredPrompts", "discoveredResources", "discoveredResourceTemplates")


def _ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return conditions.in_json(obj, conditions.READY).get("status") == "True" and status.get(
        "observedGeneration"
    ) == obj["metadata"].get("generation")


def _failing(obj: dict[str, Any], type_: str) -> str | None:
    """Why the object's ``type_`` condition is False, as the operator says it; None when it is not."""
    found = conditions.in_json(obj, type_)
    if found.get("status") != "False":
        return None
    return str(found.get("message") or found.get("reason") or f"{type_} is False")


def serving(category: dict[str, Any]) -> bool:
    """At least one pod of the category is ready, as the operator reports it."""
    return int((category.get("status") or {}).get("readyReplicas") or 0) > 0


class ClusterSource:
    """The catalog source of cluster mode (source.CatalogSource): the namespace's objects, watched."""

    kube: KubeClient
    http: aiohttp.ClientSession
    #: Forwarding to the categories' Services (set by :meth:`from_settings`).
    categories: ClusterCategories
    #: No Secret objects come with the catalog: the operator mounts them in category pods.
    secrets: Mapping[str, Mapping[str, bytes]] = {}

    def __init__(
        self,
        namespace: str,
        connection: Connection,
        *,
        fetch_timeout: float = 30.0,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.namespace, self.connection = namespace, connection
        self.catalog = GatewayCatalog({}, {}, {})
        self._rebuild_index: Callable[[], None] = lambda: None
        self._fetch_timeout, self._max_bytes = fetch_timeout, max_bytes
        #: The MCPCategory objects, by name, as last seen.
        self.category_objects: dict[str, dict[str, Any]] = {}
        self._indexed: dict[str, tuple[str, list[str]]] = {}  # integration -> (content key, tool names)
        self._changed = asyncio.Condition()
        self._dirty = False
        self._rebuilding: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: The Indexed condition of each integration, written from one task (indexed.py).
        self.reporter = indexed.Reporter(namespace)
        #: The Available condition of each integration: its circuit (limits/available.py).
        self.circuits = available.Reporter(namespace)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ClusterSource:
        connection = load_connection(settings.kubeconfig)
        source = cls(settings.namespace or connection.namespace, connection)
        source.categories = ClusterCategories(
            source,
            source.namespace,
            call_timeout=settings.call_timeout_seconds,
            wake_timeout=settings.category_start_seconds,
            renew_seconds=settings.demand_renew_seconds,
            holder=socket.gethostname(),
            endpoints=dict(settings.category_endpoints),
        )
        return source

    # -- lifecycle --------------------------------------------------------------------------------

    async def lifespan(self, rebuild: Callable[[], None]) -> AsyncIterator[None]:
        """Follow the cluster while the app runs, calling ``rebuild`` when the tools changed."""
        self._rebuild_index = rebuild
        async with (
            KubeClient(self.connection, user_agent="toolmesh-gateway") as kube,
            aiohttp.ClientSession() as http,
        ):
            await self.start(kube, http)
            yield
            await self.close()
            await self.categories.close()

    async def start(self, kube: KubeClient, http: aiohttp.ClientSession) -> None:
        """Load everything once (so the first search sees every tool), then follow changes."""
        self.kube, self.http = kube, http
        self.reporter.start(kube)
        self.circuits.start(kube)
        versions = {}
        for kind in ("MCPCategory", "MCPIntegration"):
            items, versions[kind] = await self.kube.list(kind, self.namespace)
            for item in items:
                await self._apply(kind, "ADDED", item)
        await self._rebuild()
        for kind in ("MCPCategory", "MCPIntegration"):
            self._tasks.append(_background(self._follow(kind, versions[kind]), f"watch-{kind}"))

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._rebuilding] if self._rebuilding else [])]
        for task in tasks:
            task.cancel()
        # Their exceptions, if any, were logged when they ended (_background).
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.reporter.close()
        await self.circuits.close()

    async def _follow(self, kind: str, version: str | None) -> None:
        """Watch from ``version``; when the watch breaks or falls behind, list again and go on.

        Never ends on an API or network error (the API server restarting, a 410 after a long
        disconnection): the catalog keeps serving what it has and catches up when it can.
        """
        while True:
            try:
                if version is None:
                    version = await self._relist(kind)
                async for event in self.kube.watch(kind, self.namespace, resource_version=version):
                    version = str(event.object.get("metadata", {}).get("resourceVersion", version))
                    if event.type != "BOOKMARK":
                        await self._apply(kind, event.type, event.object)
            except ApiError as exc:
                if not exc.gone:
                    log.warning("catalog.watch_failed", kind=kind, error=str(exc))
                    await asyncio.sleep(1.0)
                version = None
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("catalog.watch_failed", kind=kind, error=str(exc) or type(exc).__name__)
                await asyncio.sleep(1.0)
                version = None

    async def _relist(self, kind: str) -> str:
        """The watch fell too far behind: list again and drop what disappeared meanwhile."""
        items, version = await self.kube.list(kind, self.namespace)
        seen = {item["metadata"]["name"] for item in items}
        known = set(self.category_objects) if kind == "MCPCategory" else set(self._indexed)
        for name in known - seen:
            await self._apply(kind, "DELETED", {"metadata": {"name": name, "namespace": self.namespace}})
        for item in items:
            await self._apply(kind, "MODIFIED", item)
        return version

    def report_circuit(self, integration: str, open_: bool) -> None:
        """An integration's circuit opened (True) or closed (False) here: say so in its status."""
        self.circuits.report(integration, open_)

    # -- changes ----------------------------------------------------------------------------------

    async def _apply(self, kind: str, type_: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if kind == "MCPCategory":
            if type_ == "DELETED":
                self.category_objects.pop(name, None)
                self.catalog.category_descriptions.pop(name, None)
            else:
                self.category_objects[name] = obj
                self.catalog.category_descriptions[name] = str((obj.get("spec") or {}).get("description", ""))
            async with self._changed:
                self._changed.notify_all()
            return
        self.circuits.seen(obj, deleted=type_ == "DELETED")
        if type_ == "DELETED":
            self.catalog.problems.pop(name, None)
            self.catalog.digest_mismatches.discard(name)
            self.catalog.integration_categories.pop(name, None)
            self._remove(name)
            return
        if category := (obj.get("spec") or {}).get("category"):
            self.catalog.integration_categories[name] = str(category)
        if not _ready(obj):
            self._note(name, _failing(obj, conditions.READY))
            self._remove(name)
            self.reporter.report(obj, None)
        else:
            await self._index(name, obj)

    def _note(self, integration: str, problem: str | None) -> None:
        """Record why ``integration``'s tools are missing (None: nothing is wrong), and log a new problem."""
        if problem is None:
            self.catalog.problems.pop(integration, None)
        elif self.catalog.problems.get(integration) != problem:
            self.catalog.problems[integration] = problem
            log.warning(EV_PROBLEM, integration=integration, problem=problem)

    def _remove(self, name: str) -> None:
        self.catalog.offered.remove(name)
        self.catalog.access.pop(name, None)
        self.catalog.auth.pop(name, None)
        self.catalog.limits.pop(name, None)
        _, tools = self._indexed.pop(name, ("", []))
        for tool in tools:
            record = self.catalog.tools.get(tool)
            if record is not None and record.integration == name:
                del self.catalog.tools[tool]
        if tools:
            log.info(EV_REMOVED, integration=name, tools=len(tools))
            self._schedule_rebuild()

    async def _index(self, name: str, obj: dict[str, Any]) -> None:
        status = obj.get("status") or {}
        key = hashlib.sha256(
            json.dumps(
                [obj.get("spec"), status.get("specDigest"), status.get("discoveredTools")], sort_keys=True
            ).encode()
        ).hexdigest()
        if self._indexed.get(name, ("",))[0] == key:
            return  # a status or metadata change: the tools are the same
        try:
            model = MCPIntegration.model_validate(obj)
        except ValidationError as exc:
            self._note(name, str(exc.errors()[0]["msg"]))
            return
        found = await self._records(name, model)
        if isinstance(found, indexed.Verdict):
            self.reporter.report(obj, found)
            return
        records, verdict = found
        self._note(name, None if verdict.status == "True" else verdict.message)
        self._remove(name)
        if model.spec.access is not None:
            self.catalog.access[name] = model.spec.access
        self.catalog.note_auth(name, model.spec.auth)
        if model.spec.limits is not None:
            self.catalog.limits[name] = model.spec.limits
        self.catalog.offered.replace(
            name, model.spec.category, *(list(status.get(k) or []) for k in DISCOVERED_OFFERED)
        )
        added = []
        for record in records:
            if record.name not in self.catalog.tools:
                self.catalog.tools[record.name] = record
                added.append(record.name)
        self._indexed[name] = (key, added)
        log.info(EV_INDEXED, integration=name, category=model.spec.category, tools=len(added))
        self.reporter.report(obj, indexed.indexed(len(added)) if verdict.status == "True" else verdict)
        self._schedule_rebuild()

    async def _records(
        self, name: str, obj: MCPIntegration
    ) -> tuple[list[ToolRecord], indexed.Verdict] | indexed.Verdict:
        """The integration's tools and the verdict on them (True, or a digest mismatch), or, when it
        cannot be indexed here, the verdict saying why (its problem noted)."""
        if obj.spec.openapi is None:
            discovered = obj.status.discovered_tools if obj.status else []
            return [
                ToolRecord(t.name, t.description, {"type": "object"}, obj.spec.category, name)
                for t in discovered
            ], indexed.indexed(len(discovered))
        document = await cluster_catalog.read(
            self.kube, self.http, obj, self.namespace, timeout=self._fetch_timeout, max_bytes=self._max_bytes
        )
        if document.data is None:
            reason, message = document.problem or (conditions.SPEC_UNAVAILABLE, "its spec could not be read")
            self._note(name, message)
            return indexed.not_indexed(reason, message)
        data = document.data
        try:
            records, digest = await asyncio.to_thread(catalog_mod.compiled_records, obj, name, data)
        except SpecError as exc:
            self._note(name, str(exc))
            return indexed.not_indexed(conditions.SPEC_INVALID, str(exc))
        recorded = obj.status.spec_digest if obj.status else None
        if recorded and digest != recorded:
            self.catalog.digest_mismatches.add(name)
            log.warning(EV_DIGEST_MISMATCH, integration=name, compiled=digest, recorded=recorded)
            return records, indexed.digest_mismatch(digest, recorded)
        self.catalog.digest_mismatches.discard(name)
        return records, indexed.indexed(len(records))

    def _schedule_rebuild(self) -> None:
        self._dirty = True
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = _background(self._rebuild_soon(), "rebuild-index")

    async def _rebuild_soon(self) -> None:
        await asyncio.sleep(0.1)  # one rebuild for a burst of changes
        await self._rebuild()

    async def _rebuild(self) -> None:
        """Rebuild the index until no change came meanwhile; never raises (but CancelledError)."""
        while True:
            self._dirty = False
            try:
                await asyncio.to_thread(self._rebuild_index)
            except Exception:
                # Whatever broke (the model, its cache, a document), searches go on with the
                # previous index, swapped out only by a build that completes (Router.rebuild).
                log.exception(EV_REBUILD_FAILED, tools=len(self.catalog.tools))
            if not self._dirty:
                return

    async def wait_category(
        self, name: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any] | None:
        """The category once ``predicate`` holds for it; None after ``timeout`` seconds."""

        def check() -> bool:
            obj = self.category_objects.get(name)
            return obj is not None and predicate(obj)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(check), timeout)
            except TimeoutError:
                return None
        return self.category_objects.get(name)


def _background(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task whose exception, should it end with one, is logged at once (and so never unretrieved)."""
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(_log_failure)
    return task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error(EV_TASK_FAILED, task=task.get_name(), exc_info=exc)


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
            if (why := _failing(obj, conditions.AVAILABLE)) is not None:
                down[name] = why
            elif name in self._failed and not serving(obj):
                down[name] = self._failed[name]
        return down

    async def client(self, category: str) -> CategoryClient:
        started = time.monotonic()
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
                woken = await self.source.wait_category(category, serving, self.wake_timeout)
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

    def _connect_retried(self, category: str, attempt: int, error: aiohttp.ClientConnectorError) -> None:
        log.info(EV_CONNECT_RETRY, category=category, attempt=attempt, error=str(error.os_error))
        if self.on_connect_retry is not None:
            self.on_connect_retry(category)

    async def _renew(self, category: str, obj: dict[str, Any], *, force: bool) -> None:
        """Tell the operator the category is in use (at most every renew_seconds, unless waking)."""
        now = time.monotonic()
        if not force and now - self._renewed.get(category, -1e9) < self.renew_seconds:
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
        await asyncio.gather(*(c.stop() for c in self.running.values()), return_exceptions=True)
        self.running.clear()
