"""Learning from outcomes: which tool a caller called after a search, and how the call went (pure).

A search remembers, per caller, the query vectors it searched and the tools it showed. When that
caller then calls one of those tools within ``window_seconds``, the pair (query vector, tool) is an
outcome, rewarded +1 when the call succeeded and ``error_reward`` when it failed. Later searches
whose vector is close to remembered ones (cosine at least ``similarity``) get a prior per tool:

    prior(t) = sum_n w_n r_n [tool_n = t] / (sum_n w_n + smoothing),
    w_n      = decay(age_n) * (cos(q, q_n) - similarity) / (1 - similarity)

a smoothed share of close past searches that ended well in ``t``, in [-1, 1], which the fusion adds
(times ``weight``) to a tool's standardised score. Old outcomes fade with a half-life; the memory is a
ring of ``capacity`` outcomes, so its size and cost are fixed (4,096 x 384 floats: 6 MB, a
0.2 ms scan).

Consecutive calls by one caller within the window also count as co-use (``a`` then ``b``), decayed
the same way: :meth:`Outcomes.co_used` names the tools that usually follow one, for
``describe_tools`` suggestions beside the static tool graph.

What is kept: vectors, tool names and caller names, in process, never query text; ``scope="caller"``
learns from each caller's own outcomes only (no caller's behaviour moves another's ranking),
``"shared"`` from everyone's. Off by default (docs/design/0009).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Scope = Literal["caller", "shared"]


@dataclass(frozen=True)
class LearningSettings:
    scope: Scope = "caller"
    capacity: int = 4096
    half_life_seconds: float = 7 * 86_400.0
    window_seconds: float = 600.0
    similarity: float = 0.4
    smoothing: float = 1.0
    error_reward: float = -0.5
    skip_reward: float = 0.0  # measured no better than ignoring skips (docs/design/routing.md)


@dataclass
class _Pending:
    """A caller's last search: its vectors, the tools it showed (best first), and what was called."""

    at: float
    vectors: list[Vectors]
    shown: list[str]
    pick: Callable[[str, Sequence[Vectors]], int] | None
    called: dict[str, bool] = field(default_factory=dict)


@dataclass
class _Edge:
    weight: float
    at: float


@dataclass
class Outcomes:
    dims: int
    settings: LearningSettings = field(default_factory=LearningSettings)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        n = self.settings.capacity
        self._vectors = np.zeros((n, self.dims), dtype=np.float32)
        self._reward = np.zeros(n, dtype=np.float32)
        self._at = np.zeros(n, dtype=np.float64)
        self._owner = np.full(n, -1, dtype=np.int32)
        self._tool: list[str | None] = [None] * n
        self._next = 0
        self._size = 0
        self._owners: dict[str, int] = {}
        self._pending: dict[str, _Pending] = {}
        self._last_call: dict[str, tuple[str, float]] = {}
        self._edges: dict[str, dict[str, _Edge]] = {}

    def __len__(self) -> int:
        return self._size

    # -- what happened -------------------------------------------------------------------------

    def searched(
        self,
        who: str,
        vectors: Sequence[Vectors],
        shown: Sequence[str],
        pick: Callable[[str, Sequence[Vectors]], int] | None = None,
    ) -> None:
        """``who`` searched with ``vectors`` (the whole request's, then each intent's) and saw ``shown``.

        ``pick(tool, vectors)`` says which vector a tool answers (for a request of several intents,
        the intent closest to the tool); by default the whole request's. The caller's previous
        search is settled now (:meth:`settle`).
        """
        self.settle(who)
        if vectors and shown:
            self._pending[who] = _Pending(self.clock(), list(vectors), list(shown), pick)

    def called(self, who: str, tool: str, ok: bool) -> bool:
        """``who`` called ``tool``; True when it is the first call of ``tool`` since their last search
        showed it (a call answering that search)."""
        now = self.clock()
        self._co_use(who, tool, now)
        pending = self._pending.get(who)
        if pending is None or now - pending.at > self.settings.window_seconds or tool not in pending.shown:
            return False
        if tool in pending.called:
            return False
        pending.called[tool] = ok
        return True

    def at(self, when: float) -> Outcomes:
        """The same memory with its clock set to ``when``: for applying an event that happened then
        (index/outcome_log.py), so that every replica dates it alike."""
        self.clock = lambda: when
        return self

    def settle(self, who: str | None = None) -> None:
        """Turn a finished search into outcomes: ``who``'s, or (None) every caller's past the window.

        Each tool called after it is rewarded (+1, or ``error_reward`` when the call failed); each
        tool shown above the lowest one called and not called is a skip (``skip_reward``): the caller
        read past it. A search nothing was called after teaches nothing (the caller may have left).
        """
        if who is None:
            now = self.clock()
            done = [w for w, p in self._pending.items() if now - p.at > self.settings.window_seconds]
            for caller in [
                w for w, (_, at) in self._last_call.items() if now - at > self.settings.window_seconds
            ]:
                del self._last_call[caller]  # no sequence can continue from it
        else:
            done = [who] if who in self._pending else []
        for caller in done:
            pending = self._pending.pop(caller)
            if not pending.called:
                continue
            lowest = max(pending.shown.index(t) for t in pending.called)
            for rank, tool in enumerate(pending.shown[: lowest + 1]):
                ok = pending.called.get(tool)
                if ok is None and rank < lowest:
                    reward = self.settings.skip_reward
                else:
                    reward = 1.0 if ok else self.settings.error_reward
                if reward:
                    vector = pending.vectors[pending.pick(tool, pending.vectors) if pending.pick else 0]
                    self._remember(caller, vector, tool, reward, pending.at)

    def _remember(self, who: str, vector: Vectors, tool: str, reward: float, now: float) -> None:
        slot = self._next
        self._vectors[slot] = vector
        self._reward[slot] = reward
        self._at[slot] = now
        self._owner[slot] = self._owners.setdefault(who, len(self._owners))
        self._tool[slot] = tool
        self._next = (slot + 1) % self.settings.capacity
        self._size = min(self._size + 1, self.settings.capacity)

    def _co_use(self, who: str, tool: str, now: float) -> None:
        previous = self._last_call.get(who)
        self._last_call[who] = (tool, now)
        if previous is None or previous[0] == tool or now - previous[1] > self.settings.window_seconds:
            return
        edges = self._edges.setdefault(previous[0], {})
        edge = edges.get(tool)
        if edge is None:
            edges[tool] = _Edge(1.0, now)
        else:
            edge.weight = edge.weight * float(self._decay(now - edge.at)) + 1.0
            edge.at = now

    def _decay(self, age: float | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.exp2(-np.maximum(age, 0.0) / self.settings.half_life_seconds)

    # -- what it means for the next search ----------------------------------------------------

    def prior(self, query: Vectors, who: str | None = None) -> dict[str, float]:
        """Per tool, the smoothed reward of past searches close to ``query`` (empty: nothing close)."""
        self.settle()  # searches past the window become outcomes
        if not self._size:
            return {}
        s = self.settings
        rows = slice(0, self._size)
        closeness = (self._vectors[rows] @ query.astype(np.float32) - s.similarity) / (1.0 - s.similarity)
        mask = closeness > 0
        if s.scope == "caller":
            owner = self._owners.get(who or "")
            if owner is None:
                return {}
            mask &= self._owner[rows] == owner
        near = np.flatnonzero(mask)
        if not len(near):
            return {}
        weights = closeness[near] * self._decay(self.clock() - self._at[near])
        evidence: dict[str, float] = {}
        for i, w in zip(near.tolist(), weights.tolist(), strict=True):
            tool = self._tool[i]
            if tool is not None:
                evidence[tool] = evidence.get(tool, 0.0) + w * float(self._reward[i])
        total = float(weights.sum()) + s.smoothing
        return {tool: value / total for tool, value in evidence.items() if value != 0.0}

    def co_used(self, tool: str, limit: int = 5) -> list[str]:
        """The tools most often called right after ``tool`` (decayed counts), most first."""
        now = self.clock()
        edges = self._edges.get(tool, {})
        weights = [(-(e.weight * float(self._decay(now - e.at))), name) for name, e in edges.items()]
        return [name for w, name in sorted(weights) if -w >= 0.5][:limit]

    def forget_tools(self, keep: Callable[[str], bool]) -> None:
        """Drop outcomes and co-use of tools no longer in the catalog (``keep`` says which remain)."""
        for i in range(self._size):
            tool = self._tool[i]
            if tool is not None and not keep(tool):
                self._tool[i] = None
                self._reward[i] = 0.0
        for source in list(self._edges):
            if not keep(source):
                del self._edges[source]
                continue
            self._edges[source] = {t: e for t, e in self._edges[source].items() if keep(t)}
