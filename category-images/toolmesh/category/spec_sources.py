"""The OpenAPI integrations whose documents are at URLs: fetched when the server loads, and again
every ``TOOLMESH_CATEGORY_SPEC_REFRESH_SECONDS`` (docs/design/0022).

A document whose SHA-256 digest is the one last compiled for an integration costs a conditional
request and nothing more (``not_modified`` when the server answered 304, ``unchanged`` when it sent
the same bytes again). A new digest is compiled, and its tools replace the integration's when it
compiles (``recompiled``). A fetch or compile that fails on refresh keeps the tools of the last
good document and is reported (``failed``): in ``/readyz`` under ``problems``, a warning in the
log, and ``toolmesh_category_spec_refreshes_total``. Connected clients are not told
(``notifications/tools/list_changed``); a ``tools/list`` after the refresh shows the new tools.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from toolmesh.catalog.folder import Entry
from toolmesh.category.metrics import Metrics
from toolmesh.category.registry import Registry
from toolmesh.category.specs import Document, SpecCache, SpecUnavailable

log = structlog.get_logger("toolmesh.category")

EV_REFRESHED = "spec.refreshed"
EV_REFRESH_FAILED = "spec.refresh_failed"


@dataclass(frozen=True)
class Attempt:
    """The newest document compiled for an integration, and what it left to report (None: served)."""

    sha256: str
    problem: str | None


@dataclass
class SpecSources:
    cache: SpecCache
    registry: Registry
    metrics: Metrics
    entries: dict[str, Entry] = field(default_factory=dict)
    attempts: dict[str, Attempt] = field(default_factory=dict)

    async def load(self, entry: Entry) -> None:
        """The integration's first fetch and compile (a failure fails the integration)."""
        assert entry.spec_url is not None
        self.entries[entry.name] = entry
        try:
            document = await self.cache.fetch(entry.spec_url)
        except SpecUnavailable as exc:
            self.registry.fail(entry, str(exc))
            return
        self._compile(entry, document)

    async def refresh(self) -> None:
        """Fetch each URL once more (conditionally) and compile the documents that changed."""
        urls: dict[str, list[Entry]] = {}
        for entry in self.entries.values():
            assert entry.spec_url is not None
            urls.setdefault(entry.spec_url, []).append(entry)
        for url, entries in urls.items():
            try:
                document = await self.cache.fetch(url)
            except SpecUnavailable as exc:
                for entry in entries:
                    self._failed(entry, str(exc))
                continue
            for entry in entries:
                attempt = self.attempts.get(entry.name)
                if attempt is None or attempt.sha256 != document.sha256:
                    problem = self._compile(entry, document)
                    if problem is not None:
                        log.warning(EV_REFRESH_FAILED, integration=entry.name, reason=problem)
                    else:
                        log.info(EV_REFRESHED, integration=entry.name, document=document.sha256)
                    self._count(entry.name, "failed" if problem else "recompiled")
                    continue
                state = self.registry.states.get(entry.name)
                if state is not None and state.ready:  # a fetch failure before is over
                    state.refresh_problem = attempt.problem
                self._count(entry.name, "not_modified" if document.not_modified else "unchanged")

    async def run(self, every: float) -> None:
        """Refresh every ``every`` seconds, until cancelled (when the server stops)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.refresh()
            except Exception as exc:  # a bug here must not end the schedule; said, and tried next time
                log.error(EV_REFRESH_FAILED, reason=f"{type(exc).__name__}: {exc}")

    def _compile(self, entry: Entry, document: Document) -> str | None:
        """Serve the tools of ``document`` for the integration; the problem if it cannot (the tools
        of the document before, if any, are kept)."""
        before = self.registry.states.get(entry.name)
        problem = self.registry.replace_openapi(entry, document.body, report=True)
        if problem is None:
            self.registry.states[entry.name].source_digest = document.sha256
        elif before is not None and before.ready:
            problem = f"{problem}; the tools of the document compiled before are served meanwhile"
            before.refresh_problem = problem
        else:
            self.registry.fail(entry, problem)
        self.attempts[entry.name] = Attempt(document.sha256, problem)
        self._publish(entry.name)
        return problem

    def _failed(self, entry: Entry, problem: str) -> None:
        state = self.registry.states.get(entry.name)
        if state is not None and state.ready:
            state.refresh_problem = f"{problem}: fetching it again failed; the tools of the document fetched before are served meanwhile"
        log.warning(EV_REFRESH_FAILED, integration=entry.name, reason=problem)
        self._count(entry.name, "failed")

    def _count(self, integration: str, outcome: str) -> None:
        self.metrics.spec_refreshes.labels(integration, outcome).inc()

    def _publish(self, integration: str) -> None:
        state = self.registry.states[integration]
        self.metrics.integration_ready.labels(integration).set(1 if state.ready else 0)
        self.metrics.integration_tools.labels(integration).set(state.tools)
