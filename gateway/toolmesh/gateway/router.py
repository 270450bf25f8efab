"""Search over the catalog's tools: hybrid ranking, category filter, a token budget, and (when
turned on) what callers' past searches led to (index/outcomes.py)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.index import graph
from toolmesh.gateway.index.hybrid import HybridIndex, Prior, QueryEmbedder, Scores, Weights
from toolmesh.gateway.index.outcome_log import OutcomeLog, vectors_of
from toolmesh.gateway.index.outcomes import Outcomes
from toolmesh.gateway.index.vectors import NumpyVectors, Vectors, VectorStore

#: Candidates ranked before the category filter and the budget cut.
CANDIDATES = 50
#: Most tools a search shows by name after its result lines (layout).
MORE_NAMES = 100
#: Below this cosine between a query and the closest tool a search shows, the search says that no
#: tool is close (bench/match_confidence.py over the dev sets: 1 % or less of the searches that show
#: a needed tool fall below it; 2-32 % of those over a pool without the needed tools do).
WEAK_MATCH = 0.30


@dataclass
class Router:
    catalog: GatewayCatalog
    embedder: QueryEmbedder | None
    weights: Weights = field(default_factory=Weights)
    store: Callable[[Vectors], VectorStore] = NumpyVectors
    #: Learning from outcomes (off: None). Needs the embedder: outcomes are kept by query vector.
    outcomes: Outcomes | None = None
    #: With several replicas, what is learned goes through this shared log (index/outcome_log.py),
    #: and :meth:`apply` feeds it back, in the log's order, to ``outcomes``.
    log: OutcomeLog | None = None
    #: The tools the index serves (those of the catalog when it was last built).
    indexed: frozenset[str] = field(default=frozenset(), init=False)
    #: Why the last build failed (the index before it serves on); None when it succeeded.
    failure: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        """Index the catalog's tools as they are now (cheap: embeddings come from the cache).

        Built aside and swapped in at the end: searches go on with the previous index meanwhile (the
        cluster source rebuilds in a thread), and keep it if the build fails (which it raises, and
        remembers in ``failure``).
        """
        try:
            self._build()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            raise
        self.failure = None

    def _build(self) -> None:
        records = list(self.catalog.tools.values())
        by_integration: dict[str, list[ToolRecord]] = {}
        for record in records:
            by_integration.setdefault(record.integration, []).append(record)
        index = HybridIndex(
            [r.name for r in records],
            (self.catalog.document(r) for r in records),
            self.embedder,
            self.weights,
            dense_documents=[self.catalog.dense_document(r) for r in records],
            store=self.store,
            groups=[r.integration for r in records],
        )
        self._index, self._by_integration = index, by_integration
        self.indexed = frozenset(index.ids)
        self._first: dict[str, list[str]] = {}
        if self.outcomes is not None:
            self.outcomes.forget_tools(lambda name: name in self.catalog.tools)
        release_freed_memory()

    def search(
        self,
        query: str,
        *,
        limit: int,
        budget: int,
        categories: Sequence[str] = (),
        allowed: Callable[[ToolRecord], bool] | None = None,
        caller: str | None = None,
    ) -> list[ToolRecord]:
        """The best tools for ``query``, at most ``limit``, whose compact listing fits ``budget`` tokens.

        With learning on, ``caller`` (who searches) is remembered with what the search showed, so
        that the call they make next can teach the ranking (:meth:`called`).
        """
        shown = self.shown(
            query, limit=limit, budget=budget, categories=categories, allowed=allowed, caller=caller, more=0
        )
        return [record for record, _ in shown.lines]

    def shown(
        self,
        query: str,
        *,
        limit: int,
        budget: int,
        categories: Sequence[str] = (),
        allowed: Callable[[ToolRecord], bool] | None = None,
        caller: str | None = None,
        more: int = MORE_NAMES,
    ) -> Shown:
        """What one search shows (:func:`layout`): its best tools as result lines, each with its
        fused score (0 for a tool shown as another's prerequisite), then up to ``more`` of the next
        by name alone, within ``budget`` tokens."""
        prior: Prior | None = None
        if self.outcomes is not None:
            prior = functools.partial(self.outcomes.prior, who=caller)
        ranked = self._index.ranked(query, max(CANDIDATES, limit + more), prior)
        scores = dict(ranked.results)
        names = [name for name, _ in ranked.results]
        if self.weights.prerequisites > 0:
            names = graph.with_prerequisites(names, self._prerequisites, self.weights.prerequisites)
        found: list[ToolRecord] = []
        for name in names:
            record = self.catalog.tools.get(name)
            if record is None:  # removed since this index was built (cluster mode)
                continue
            if categories and record.category not in categories:
                continue
            if allowed is not None and not allowed(record):
                continue  # never show a tool the caller cannot call
            found.append(record)
            if len(found) >= limit + more:
                break
        cut = layout(
            [line_tokens(r) for r in found[:limit]], [name_tokens(r) for r in found], limit, budget, more
        )
        lines = found[: cut.lines]
        out = Shown(
            [(r, scores.get(r.name, 0.0)) for r in lines],
            found[cut.lines : cut.lines + cut.names],
            self._index.best_cosine(ranked, {r.name for r in lines}),
        )
        if self.outcomes is not None and caller is not None:
            names_shown = [r.name for r in lines]
            if self.log is not None:
                self.log.searched(caller, ranked.vectors, names_shown)
            else:
                self.outcomes.searched(caller, ranked.vectors, names_shown, self._closest)
        return out

    def scores(self, query: str, names: Sequence[str], caller: str | None = None) -> dict[str, Scores]:
        """Each of ``names``' lexical, dense and fused scores for ``query`` (HybridIndex.explain), with
        what ``caller`` taught the ranking (learning on); nothing is remembered of the query."""
        prior = functools.partial(self.outcomes.prior, who=caller) if self.outcomes is not None else None
        return self._index.explain(query, names, prior)

    def _prerequisites(self, name: str) -> list[str]:
        """The tools to run before ``name`` (graph.prerequisites), worked out once per index."""
        found = self._first.get(name)
        if found is None:
            record = self.catalog.tools.get(name)
            candidates = self._by_integration.get(record.integration, ()) if record is not None else ()
            found = graph.prerequisites(record, candidates) if record is not None else []
            self._first[name] = found
        return found

    def _closest(self, tool: str, vectors: Sequence[Vectors]) -> int:
        # Through the router, not a bound method of this index: a remembered search must not keep
        # an index that a rebuild replaced alive (at 50,000 tools, hundreds of MB).
        return self._index.closest(tool, vectors)

    def called(self, caller: str, name: str, ok: bool) -> bool:
        """``caller`` called ``name`` (``ok``: it succeeded); True when it answered their last search
        (through the shared log: False here, and :meth:`apply` says it once the log has it)."""
        if self.outcomes is None:
            return False
        if self.log is not None:
            self.log.called(caller, name, ok)
            return False
        return self.outcomes.called(caller, name, ok)

    def apply(self, event: dict[str, Any]) -> bool:
        """One event of the shared log, dated as it happened; True for a call that answered a search."""
        if self.outcomes is None:
            return False
        clock = self.outcomes.clock
        try:
            memory = self.outcomes.at(float(event["at"]))
            if event["kind"] == "searched":
                memory.searched(event["who"], vectors_of(event), event["shown"], self._closest)
                return False
            return memory.called(event["who"], event["tool"], bool(event["ok"]))
        finally:
            self.outcomes.clock = clock

    def related(
        self, record: ToolRecord, allowed: Callable[[ToolRecord], bool] | None = None, limit: int = 5
    ) -> list[str]:
        """Tools likely to come next after ``record``: those callers called next (with learning on),
        then those of its integration on the same resource (index/graph.py)."""
        observed = self.outcomes.co_used(record.name, limit) if self.outcomes is not None else []
        names = graph.related(record, self._by_integration.get(record.integration, ()), limit=limit * 2)
        out: list[str] = []
        for name in (*observed, *names):
            other = self.catalog.tools.get(name)
            if other is not None and name not in out and (allowed is None or allowed(other)):
                out.append(name)
        return out[:limit]


def release_freed_memory() -> None:
    """Return the heap pages an index build freed to the OS (glibc's malloc_trim; elsewhere nothing).

    A build allocates and frees millions of small objects; without this the process keeps their
    pages (at 50,000 tools: 470 MB resident instead of 390 MB).
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def compact(record: ToolRecord) -> str:
    """One line per tool in search results: name, first sentence of the description, category."""
    first = record.description.strip().split("\n", 1)[0][:200]
    return f"{record.name} [{record.category}]: {first}"


def line_tokens(record: ToolRecord) -> int:
    """What one result line costs against the search's token budget (chars/4, as the benchmark counts)."""
    return len(compact(record)) // 4


@dataclass(frozen=True)
class Shown:
    """A search's results: tools shown as result lines (with their fused scores), then more by name."""

    lines: list[tuple[ToolRecord, float]]
    more: list[ToolRecord] = field(default_factory=list)
    #: The highest cosine between the query and the tools shown as lines (None: no model):
    #: below WEAK_MATCH, none of them is close to what was asked.
    best_cosine: float | None = None

    @property
    def weak(self) -> bool:
        """Is no shown tool close to what was asked (the catalogue may have nothing for it)?"""
        return bool(self.lines) and self.best_cosine is not None and self.best_cosine < WEAK_MATCH


@dataclass(frozen=True)
class Layout:
    """How many of a ranking one search shows as result lines, and how many after them by name."""

    lines: int
    names: int


#: What a search says first when no tool it shows is close to what was asked (Shown.weak).
WEAK_NOTE = (
    "No close match (the closest tool's similarity is {cosine:.2f}): the catalogue may have no tool "
    "for this; try other words before calling one of these.\n"
)
#: What introduces the names after a search's result lines (its tokens count against the budget).
MORE_HEADER = "\nAlso matching (by name; describe_tools gives any of them): "


def name_tokens(record: ToolRecord) -> int:
    """What one name costs in the list after the result lines (with its separator), chars/4."""
    return max(1, (len(record.name) + 2) // 4)


def layout(
    line_costs: Sequence[int], name_costs: Sequence[int], limit: int, budget: int, more: int = MORE_NAMES
) -> Layout:
    """What one search shows of a ranking: up to ``limit`` result lines (the first always, the
    rest while they fit ``budget`` tokens); then, when the lines stopped at ``limit`` and not at the
    budget, up to ``more`` of the tools ranked next, by name alone (``name_costs``, by rank), while
    the rest of the budget lasts. A name costs a few tokens where a line costs twenty to forty, so
    the budget an agent pays for covers several times more of the ranking (docs/design/routing.md)."""
    spent, lines = 0, 0
    for n, cost in enumerate(line_costs[:limit]):
        if n and spent + cost > budget:
            return Layout(lines, 0)
        spent += cost
        lines += 1
    names = 0
    spent += len(MORE_HEADER) // 4
    for cost in name_costs[lines : lines + more]:
        if spent + cost > budget:
            break
        spent += cost
        names += 1
    return Layout(lines, names)
