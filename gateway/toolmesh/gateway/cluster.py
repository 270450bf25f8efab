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

Calls go to the categories' Services through ``ClusterCategories`` (cluster_categories.py), which
wakes a category from zero pods. MCPProfile objects are followed too, and their status written
(profile_status.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from toolmesh.api import MCPIntegration, MCPProfile, conditions
from toolmesh.catalog import cluster as cluster_catalog
from toolmesh.common import tasks
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import compile_pool, indexed, profile_status, profiles
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.cluster_categories import ClusterCategories, failing
from toolmesh.gateway.limits import available
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.kube import ApiError, Connection, KubeClient, load_connection
from toolmesh.openapi import SpecError

log = structlog.get_logger("toolmesh.gateway")
#: An integration's tools and the verdict on them, or the verdict saying why it has none here.
Found = tuple[list[ToolRecord], indexed.Verdict] | indexed.Verdict
EV_INDEXED = "catalog.integration_indexed"
EV_REMOVED = "catalog.integration_removed"
EV_PROBLEM = "catalog.integration_problem"
EV_REBUILD_FAILED = "catalog.index_rebuild_failed"
EV_DIGEST_MISMATCH = "catalog.spec_digest_mismatch"
EV_TASK_FAILED = "catalog.task_failed"
EV_NO_PROFILES = "catalog.profiles_not_installed"
EV_PROFILE_INVALID = "catalog.profile_invalid"
#: The status fields where the operator records a federated server's prompts, resources, templates.
DISCOVERED_OFFERED = ("discoveredPrompts", "discoveredResources", "discoveredResourceTemplates")


def _ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return conditions.in_json(obj, conditions.READY).get("status") == "True" and status.get(
        "observedGeneration"
    ) == obj["metadata"].get("generation")


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
        direct_limit: int = 32,
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
        #: The MCPProfile objects, by name, as last seen, and their status (profile_status.py).
        self.profile_objects: dict[str, dict[str, Any]] = {}
        self.profiles = profile_status.Reporter(namespace, direct_limit)
        #: The kinds followed: MCPProfile only where its CRD is installed (none: no profile exists).
        self.kinds = ["MCPCategory", "MCPIntegration", "MCPProfile"]
        #: Large documents are compiled in worker processes (compile_pool.py), which exit when idle.
        self.workers = compile_pool.Workers()
        self._prefetched: dict[str, asyncio.Task[Found]] = {}
        self._validated: dict[str, MCPIntegration] = {}  # the listing at start, validated once

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ClusterSource:
        connection = load_connection(settings.kubeconfig)
        source = cls(
            settings.namespace or connection.namespace, connection, direct_limit=settings.direct_tools_limit
        )
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
        self.profiles.start(kube)
        versions = {}
        for kind in list(self.kinds):
            try:
                items, versions[kind] = await self.kube.list(kind, self.namespace)
            except ApiError as exc:
                # Without the MCPProfile CRD no profile can exist: nothing to apply. Any other
                # refusal (RBAC) fails the start: serving callers more than their profiles allow
                # is not a way to degrade.
                if kind != "MCPProfile" or not exc.not_found:
                    raise
                log.warning(EV_NO_PROFILES, namespace=self.namespace)
                self.kinds.remove(kind)
                continue
            if kind == "MCPIntegration":
                await self._apply_listed(items)
            else:
                for item in items:
                    await self._apply(kind, "ADDED", item)
        await self._rebuild()
        for kind in self.kinds:
            self._tasks.append(
                tasks.background(self._follow(kind, versions[kind]), f"watch-{kind}", log, EV_TASK_FAILED)
            )

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._rebuilding] if self._rebuilding else [])]
        for task in tasks:
            task.cancel()
        # Their exceptions, if any, were logged when they ended (_background).
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.reporter.close()
        await self.circuits.close()
        await self.profiles.close()
        self.workers.close()

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
        objects = {"MCPCategory": self.category_objects, "MCPProfile": self.profile_objects}
        known = set(objects[kind]) if kind in objects else set(self._indexed)
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
        if kind == "MCPProfile":
            self._apply_profile(name, type_, obj)
            return
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
            self._note(name, failing(obj, conditions.READY))
            self._remove(name)
            self.reporter.report(obj, None)
        else:
            await self._index(name, obj)

    async def _apply_listed(self, items: list[dict[str, Any]]) -> None:
        """The integrations listed at start: their documents read and compiled a few at a time (as
        many as there are compile workers), then applied in the list's order, as one by one would
        (the first integration listed keeps a tool name two claim)."""
        slots = asyncio.Semaphore(self.workers.processes)

        async def records(name: str, model: MCPIntegration) -> Found:
            async with slots:
                return await self._records(name, model)

        for obj in items:
            name = str(obj["metadata"]["name"])
            with contextlib.suppress(ValidationError):
                model = MCPIntegration.model_validate(obj)
                self._validated[name] = model  # _index takes it rather than validating again
                if _ready(obj) and model.spec.openapi is not None:
                    self._prefetched[name] = asyncio.create_task(records(name, model), name=f"compile-{name}")
        try:
            for obj in items:
                await self._apply("MCPIntegration", "ADDED", obj)
        finally:
            self._validated.clear()
            left, self._prefetched = list(self._prefetched.values()), {}
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

    def _apply_profile(self, name: str, type_: str, obj: dict[str, Any]) -> None:
        """A profile applies as soon as it is seen (its status follows, profile_status.py)."""
        if type_ == "DELETED":
            self.profile_objects.pop(name, None)
            self.catalog.profiles.pop(name, None)
            return
        self.profile_objects[name] = obj
        try:
            self.catalog.profiles[name] = profiles.Profile.of(MCPProfile.model_validate(obj))
        except ValidationError as exc:  # the CRD let it through: a newer API than this gateway's
            # The previous version, if any, goes on applying; a new one is not applied.
            log.error(EV_PROFILE_INVALID, profile=name, error=str(exc.errors()[0]["msg"]))
        self.report_profiles([name])

    def report_profiles(self, names: Iterable[str] | None = None) -> None:
        """Bring the status of profiles ``names`` (None: every one, after an index rebuild) up to
        date with the catalog."""
        catalog = self.catalog
        chosen = {n: p for n, p in catalog.profiles.items() if names is None or n in names}
        self.profiles.refresh(
            self.profile_objects, chosen, list(catalog.tools.values()),
            catalog.integration_categories, self.category_objects,
        )  # fmt: skip

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
        model = self._validated.pop(name, None)
        if model is None:
            try:
                model = MCPIntegration.model_validate(obj)
            except ValidationError as exc:
                self._note(name, str(exc.errors()[0]["msg"]))
                return
        prefetched = self._prefetched.pop(name, None)  # read and compiled already (_apply_listed)
        found = await (prefetched if prefetched is not None else self._records(name, model))
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

    async def _records(self, name: str, obj: MCPIntegration) -> Found:
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
            records, digest = await asyncio.to_thread(
                catalog_mod.compiled_records, obj, name, data, self.workers
            )
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
            self._rebuilding = tasks.background(self._rebuild_soon(), "rebuild-index", log, EV_TASK_FAILED)

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
                self.report_profiles()
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
