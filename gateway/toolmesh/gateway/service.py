"""What the gateway does for an agent: list, search, describe and call tools, whatever their category;
and list, get and read federated servers' prompts and resources.

Transport-free; ``server.py`` puts it behind MCP. A failure of one call (unknown tool, a category
that will not start, a category server that died) is an ``isError`` result for that call only; a
prompt or resource that cannot be had is an MCP error for that request only. What a caller may not
use (``spec.access``, or outside its profiles: profiles.py) is neither listed nor told apart from
what does not exist.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import structlog
from mcp import types
from mcp.server.subscriptions import InMemorySubscriptionBus

from toolmesh.common import tracing
from toolmesh.common.call_meta import outage
from toolmesh.common.credentials_meta import USER_CREDENTIALS_META
from toolmesh.common.mcp_backchannel import Ask, AskFailed
from toolmesh.common.mcp_client import (
    Resumption,
    ServerUnavailable,
    ToolAnswer,
    is_input_required,
    tool_answer,
)
from toolmesh.common.mcp_events import ListWatch
from toolmesh.common.mcp_forward import CategoryClient
from toolmesh.common.mcp_results import text_result, wire
from toolmesh.common.mcp_sse import Progress
from toolmesh.gateway import auth
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.identity.credentials import CredentialsNeeded, UpstreamIdentity
from toolmesh.gateway.identity.states import StatesUnavailable
from toolmesh.gateway.index.hybrid import Scores
from toolmesh.gateway.limits.counters import Counters
from toolmesh.gateway.limits.guard import Limits, Refusal
from toolmesh.gateway.metrics import CategoryState, GatewayMetrics
from toolmesh.gateway.offered import Offered
from toolmesh.gateway.recent import Recent
from toolmesh.gateway.router import MORE_HEADER, WEAK_NOTE, Router, compact
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.gateway.supervisor import Categories, CategoryUnavailable
from toolmesh.vault import VaultError

log = structlog.get_logger("toolmesh.gateway")
#: Seconds between looks at what the gateway lists, to tell listening clients what changed.
LIST_WATCH_SECONDS = 1.0
#: Most rounds of questions one call may put to an agent asked mid-call.
MAX_ROUNDS = 8
EV_CALL = "tool.forwarded"
P = ParamSpec("P")
T = TypeVar("T")


def _router_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="toolmesh-router")


@dataclass
class GatewayService:
    settings: GatewaySettings
    catalog: GatewayCatalog
    router: Router
    categories: Categories
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    #: Each caller's own upstream credentials (Vault, OAuth broker); without Vault, calls needing them say so.
    identity: UpstreamIdentity = field(default_factory=UpstreamIdentity.without_vault)
    #: Rate-limit counts shared by every replica (Redis); None: counted in process.
    shared_counts: Counters | None = None
    #: Rate limits and circuit breakers of forwarded calls (limits/guard.py).
    limits: Limits = field(init=False)
    #: The last calls and wakes, for the console (recent.py).
    recent: Recent = field(default_factory=Recent)
    #: List changes, told to listening clients (subscriptions/listen, a 2025 session's GET stream).
    events: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    #: Once the catalog has outgrown the direct limit, the meta-tools are listed from then on.
    _outgrown: bool = field(default=False, repr=False)
    #: The same for each set of profiles (their names and generations) that outgrew it.
    _outgrown_scopes: set[tuple[tuple[str, int], ...]] = field(default_factory=set, repr=False)
    #: The router's own thread: a search embeds its query (CPU for milliseconds, more for long
    #: queries) off the event loop, so other requests go on meanwhile; and every use of the learned
    #: outcomes (search, describe, call) happens on this one thread, one at a time.
    worker: ThreadPoolExecutor = field(default_factory=_router_thread, repr=False)

    @property
    def direct(self) -> bool:
        """List the tools themselves (a small catalog) rather than the three meta-tools.

        Follows the catalog as it grows (a cluster's gateway usually starts before its catalogue is
        applied), and never goes back: once agents were shown the meta-tools, every later listing
        shows them too, so cached lists and prompt prefixes stay valid.
        """
        if not self._outgrown and len(self.catalog.tools) > self.settings.direct_tools_limit:
            self._outgrown = True
        return not self._outgrown

    def __post_init__(self) -> None:
        self.limits = Limits(self.settings, self.catalog.limits, self.metrics, self.shared_counts)
        self.metrics.tools.set(len(self.catalog.tools))
        self.metrics.running.set_function(lambda: len(self.categories.running))
        self.metrics.digest_mismatches.set_function(lambda: len(self.catalog.digest_mismatches))
        self.categories.on_start = self._learn
        self.categories.on_connect_retry = lambda category: self.metrics.connect_retries.labels(
            category
        ).inc()
        self.categories.on_wake = self._woken
        self.metrics.category_states.source = self.category_states
        if self.identity.broker is not None:
            self.identity.broker.on_event = lambda integration, event: self.metrics.oauth.labels(
                integration, event
            ).inc()

    async def lifespan(self) -> AsyncIterator[None]:
        """While the app runs (following the shared learning log, if any); then the router's thread
        is shut down."""
        log = self.router.log
        follower = asyncio.create_task(log.follow(self._apply), name="follow-outcomes") if log else None
        watch = ListWatch(self.events, {"tools": self._listed_tools, "prompts": self._listed_prompts,
                                        "resources": self._listed_resources})  # fmt: skip
        watching = asyncio.create_task(watch.run(LIST_WATCH_SECONDS), name="watch-lists")
        yield
        watching.cancel()
        if follower is not None and log is not None:
            log.stop()
            follower.cancel()
            # Bounded: a follower stuck in a Redis client that ignores cancellation must not hold the
            # shutdown (it goes with the event loop).
            await asyncio.wait([follower], timeout=5.0)
        if log is not None:
            log.close()
        await self.limits.close()
        self.close()

    def _listed_tools(self) -> Hashable:
        """What tools/list shows, as a fingerprint: the meta-tools never change; a direct listing
        changes with its tools' names and descriptions (callers each see their own part of it)."""
        if not self.direct:
            return "meta-tools"
        return tuple(sorted((r.name, r.description) for r in self.catalog.tools.values()))

    def _listed_prompts(self) -> Hashable:
        return frozenset(self.catalog.offered.prompts)

    def _listed_resources(self) -> Hashable:
        return frozenset(self.catalog.offered.resources), frozenset(self.catalog.offered.templates)

    def _woken(self, category: str, seconds: float, ok: bool) -> None:
        self.recent.woke(category, seconds, ok)
        self.metrics.wakes.labels(category, "ok" if ok else "failed").inc()
        self.metrics.wake_latency.labels(category).observe(seconds)

    def category_states(self) -> dict[str, CategoryState]:
        """Every category with tools in the catalogue or known to the forwarding side: awake, down."""
        awake = self.categories.awake()
        down = self.categories.problems()
        known = {record.category for record in self.catalog.tools.values()} | set(awake) | set(down)
        return {c: CategoryState(awake.get(c, False), c in down) for c in known}

    async def _apply(self, event: dict[str, Any]) -> None:
        """One event of the shared learning log, on the router's thread; this replica's calls that
        answered a search are counted here (they are known only once the log has ordered them)."""
        followed = await self.on_worker(self.router.apply, event)
        if followed and self.router.log is not None and event.get("origin") == self.router.log.origin:
            self.metrics.followups.labels("ok" if event.get("ok") else "error").inc()

    def allowed(self, record: ToolRecord) -> bool:
        """May the caller of the request being handled see and call this tool (spec.access, and
        the caller's profiles)?"""
        return self.permits()(record)

    def permits(self) -> Callable[[ToolRecord], bool]:
        """Whether the caller of the request being handled may see and call a tool: its profiles
        worked out once, for a search or a listing that asks about many tools."""
        caller = auth.caller()
        scope = self.catalog.scope(caller)

        def permitted(record: ToolRecord) -> bool:
            return self.catalog.allowed(record, caller.groups, caller.scopes) and (
                scope is None or scope.selects(record)
            )

        return permitted

    def may_use(self, integration: str) -> bool:
        """May the caller use what ``integration`` offers (its prompts and resources): spec.access,
        and a profile of the caller's that selects it by name or category?"""
        caller = auth.caller()
        if not self.catalog.allows(integration, caller.groups, caller.scopes):
            return False
        scope = self.catalog.scope(caller)
        category = self.catalog.integration_categories.get(integration, "")
        return scope is None or scope.covers(integration, category)

    def listing(self) -> list[ToolRecord] | None:
        """The tools to list directly to the caller of the request being handled, or None for the
        meta-tools. Without a profile: the catalog's tools while it is small (:attr:`direct`).
        With profiles: their tools while they are at most the direct limit; a scope that once
        outgrew it is searched from then on (as the catalog, so that cached lists stay valid)."""
        scope = self.catalog.scope(auth.caller())
        permitted = self.permits()
        if scope is None:
            return [r for r in self.catalog.tools.values() if permitted(r)] if self.direct else None
        if scope.key in self._outgrown_scopes:
            return None
        limit = self.settings.direct_tools_limit
        shown: list[ToolRecord] = []
        for record in self.catalog.tools.values():
            if permitted(record):
                shown.append(record)
                if len(shown) > limit:
                    self._outgrown_scopes.add(scope.key)
                    return None
        return shown

    def offered(self, table: dict[str, Offered]) -> list[dict[str, Any]]:
        """The prompts, resources or templates of ``table`` the caller may use, in wire form."""
        return [o.definition for o in table.values() if self.may_use(o.integration)]

    def visible(self, name: str, permitted: Callable[[ToolRecord], bool] | None = None) -> ToolRecord | None:
        """The tool, if it exists and the caller may use it (else None: the two are not told apart)."""
        record = self.catalog.tools.get(name)
        return record if record is not None and (permitted or self.allowed)(record) else None

    async def on_worker(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` run on the router's thread, in the request's context (its caller)."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.worker, call)

    def close(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)

    async def search(self, query: str, limit: int | None, categories: list[str]) -> types.CallToolResult:
        return await self.on_worker(self._search, query, limit, categories)

    async def describe(self, names: list[str]) -> types.CallToolResult:
        return await self.on_worker(self._describe, names)

    def _search(self, query: str, limit: int | None, categories: list[str]) -> types.CallToolResult:
        started = time.perf_counter()
        # A limit the caller names is the number of tools shown; without one, the default's lines
        # are followed by more tools by name, within the token budget (router.layout).
        more = 0 if limit else self.settings.search_more_names
        limit = limit or self.settings.search_limit
        with tracing.span("toolmesh.search") as span:
            shown = self.router.shown(
                query,
                limit=limit,
                budget=self.settings.search_token_budget,
                categories=categories,
                allowed=self.permits(),
                caller=auth.caller().subject,
                more=more,
            )
            if tracing.enabled():
                scored = [(record.name, score) for record, score in shown.lines]
                text = query if self.settings.trace_query_text else None
                span.set_attributes(
                    tracing.search_attributes(scored, limit=limit, categories=categories, query=text)
                )
        found = [record for record, _ in shown.lines]
        self.metrics.search_latency.observe(time.perf_counter() - started)
        self.metrics.searches.labels("yes" if found else "no").inc()
        if not found:
            return text_result("No tools match. Try other words, or fewer category filters.")
        lines = [compact(r) + self.limits.unavailable(r.integration) for r in found]
        if shown.weak:
            lines.insert(0, WEAK_NOTE.format(cosine=shown.best_cosine))
        if shown.more:
            lines.append(MORE_HEADER + ", ".join(r.name for r in shown.more))
        lines.append(
            "\nCall describe_tools with the names you need to get their input schemas, then call_tool."
        )
        return text_result("\n".join(lines))

    async def explain(
        self, query: str, limit: int, categories: list[str]
    ) -> list[tuple[ToolRecord, Scores | None]]:
        """What search_tools would show the caller for ``query``, each tool with its scores (the
        console's playground): neither counted nor remembered, for learning or anywhere else."""
        return await self.on_worker(self._explain, query, limit, categories)

    def _explain(
        self, query: str, limit: int, categories: list[str]
    ) -> list[tuple[ToolRecord, Scores | None]]:
        found = self.router.search(
            query, limit=limit, budget=self.settings.search_token_budget, categories=categories,
            allowed=self.permits(),
        )  # fmt: skip
        scores = self.router.scores(query, [r.name for r in found], auth.caller().subject)
        return [(r, scores.get(r.name)) for r in found]

    def _describe(self, names: list[str]) -> types.CallToolResult:
        with tracing.span("toolmesh.describe", {"toolmesh.describe.requested": len(names)}) as span:
            result = self._described(names)
            span.set_attribute("toolmesh.describe.unknown", result.is_error is True)
            return result

    def _described(self, names: list[str]) -> types.CallToolResult:
        permitted = self.permits()
        records = {n: self.visible(n, permitted) for n in names}
        known = []
        for record in records.values():
            if record is not None:
                definition = record.definition()
                if related := self.router.related(record, permitted):
                    definition["related"] = related  # next tools on the same resource (the tool graph)
                known.append(definition)
        unknown = [n for n, r in records.items() if r is None]
        if not known:
            return text_result(
                f"unknown tools: {', '.join(unknown)}; use search_tools to find tools", error=True
            )
        payload: dict[str, Any] = {"tools": known}
        if unknown:
            payload["unknown"] = unknown
        return text_result(json.dumps(payload, ensure_ascii=False))

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
        ask: Ask | None = None,
    ) -> ToolAnswer:
        """Forward a call to the tool's category server; the result, or why it was not forwarded.
        ``progress`` is told each step the tool reports (the agent asked for them); ``resume``
        carries the agent's answers to the ``input_required`` a previous round returned."""
        return tool_answer(await self.call_wire(name, arguments, progress, resume, ask))

    async def call_wire(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
        ask: Ask | None = None,
    ) -> dict[str, Any]:
        """:meth:`call` with the result in wire form, as the category server sent it (the forwarding
        fast path passes it on; the MCP endpoint validates it for the caller's protocol version)."""
        record = self.visible(name)
        if record is None:
            self.metrics.calls.labels("", "", "unknown_tool").inc()
            return wire(text_result(f"unknown tool {name!r}; use search_tools to find tools", error=True))
        with tracing.span(
            "toolmesh.call", tracing.call_attributes(name, record.category, record.integration)
        ):
            return await self._forward(record, name, arguments, progress, resume, ask)

    async def _forward(
        self,
        record: ToolRecord,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None,
        resume: Resumption | None,
        ask: Ask | None = None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        meta: dict[str, Any] | None = None
        own = self.catalog.auth.get(record.integration)
        if own is not None:  # the caller's own credentials travel with this call, and only with it
            try:
                with tracing.span("toolmesh.credentials", {"toolmesh.integration": record.integration}):
                    values = await self.identity.credentials(auth.caller().subject, record.integration, own)
            except CredentialsNeeded as exc:
                return self._refuse(record, "needs_credentials", str(exc), started)
            except VaultError as exc:
                return self._refuse(
                    record, "unavailable", f"the credential store is unavailable: {exc}", started
                )
            except StatesUnavailable as exc:
                return self._refuse(
                    record,
                    "unavailable",
                    f"{record.integration}: the sign-in could not start: {exc}",
                    started,
                )
            meta = {USER_CREDENTIALS_META: values}
        ticket = await self.limits.admit(auth.caller().subject, name, record.integration)
        if isinstance(ticket, Refusal):
            return self._refuse(record, ticket.outcome, ticket.text, started, ticket.meta)
        try:
            client = await self.categories.client(record.category)
            result = await client.call_wire(name, arguments, meta, progress, resume)
            if ask is not None and is_input_required(result):
                result = await self._ask_agent(ask, client, name, arguments, meta, progress, result)
        except (CategoryUnavailable, ServerUnavailable) as exc:
            self.limits.record(ticket, outage=True)
            self._observe(record, "unavailable", started)
            log.warning(EV_CALL, tool=name, category=record.category, outcome="unavailable", reason=str(exc))
            return wire(text_result(f"category {record.category} is unavailable: {exc}", error=True))
        failed = result.get("isError") is True
        self.limits.record(ticket, outage=failed and outage(result))
        if is_input_required(result):  # a round of the call, not its outcome: nothing to learn yet
            self._observe(record, "input_required", started)
            return result
        outcome = "error" if failed else "ok"
        self._observe(record, outcome, started)
        learning = self.router.outcomes is not None  # off: no hop to the router's thread for nothing
        if learning and await self.on_worker(self.router.called, auth.caller().subject, name, ok=not failed):
            self.metrics.followups.labels(outcome).inc()
        log.info(EV_CALL, tool=name, category=record.category, outcome=outcome)
        return result

    async def _ask_agent(
        self,
        ask: Ask,
        client: CategoryClient,
        name: str,
        arguments: dict[str, Any] | None,
        meta: dict[str, Any] | None,
        progress: Progress | None,
        result: dict[str, Any],
    ) -> dict[str, Any]:
        """The rounds of a call whose server needs input, for an agent that is asked mid-call (a
        2025 session, mcp_backchannel): its questions put to the agent, the call retried with the
        answers, as a 2026-07-28 agent would have retried it."""
        for _ in range(MAX_ROUNDS):
            if not is_input_required(result):
                return result
            questions = result.get("inputRequests") or {}
            try:
                answers = await ask(questions) if isinstance(questions, dict) and questions else {}
            except AskFailed as exc:
                return wire(
                    text_result(
                        f"{name} needs input from you first, which could not be had: {exc}", error=True
                    )
                )
            state = result.get("requestState")
            resume = Resumption(answers or None, state if isinstance(state, str) else None)
            result = await client.call_wire(name, arguments, meta, progress, resume)
        return result

    def _refuse(
        self, record: ToolRecord, outcome: str, text: str, started: float, meta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A call that was not forwarded: counted, logged, and answered with ``text`` (and ``meta``)."""
        self._observe(record, outcome, started)
        log.info(EV_CALL, tool=record.name, category=record.category, outcome=outcome)
        return wire(text_result(text, error=True)) | ({"_meta": meta} if meta else {})

    def _observe(self, record: ToolRecord, outcome: str, started: float) -> None:
        tracing.outcome(outcome)
        seconds = time.perf_counter() - started
        self.metrics.calls.labels(record.category, record.integration, outcome).inc()
        self.metrics.latency.labels(record.category, record.integration).observe(seconds)
        self.recent.called(record.name, record.category, record.integration, seconds, outcome)

    def _learn(self, category: str, status: dict[str, Any], listed: list[dict[str, Any]]) -> None:
        """A category server started (local mode): index the tools it discovered, note the
        integrations it could not serve (a remote that does not answer, a missing credential)."""
        if self.catalog.learn(category, status, listed):
            self.metrics.tools.set(len(self.catalog.tools))
            self.router.rebuild()
