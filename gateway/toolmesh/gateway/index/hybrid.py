"""Hybrid retrieval: BM25 and dense cosine rankings, fused by standardised scores (or reciprocal ranks).

The index holds one routing text per tool (see :mod:`text`). A query is embedded once per intent;
both rankings take their top ``depth`` candidates and the fusion ranks their union. Vectors are unit
length, so the dot product is the cosine. A ``prior`` (learned from outcomes, outcomes.py) adds to
the standardised scores of the tools it names, which join the candidates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from toolmesh.gateway.index import fusion, hubness, intents, text
from toolmesh.gateway.index.lexical import BM25
from toolmesh.gateway.index.vectors import NumpyVectors, VectorStore

Vectors = npt.NDArray[np.float32]
#: Per query vector, a score to add per tool name (in standardised units before ``Weights.prior``).
Prior = Callable[[Vectors], Mapping[str, float]]


class QueryEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


@dataclass(frozen=True)
class Weights:
    lexical: float = 1.0
    dense: float = 1.5  # issue #17: in the union of the dev sets (tuned on MetaTool, checked on the others)
    depth: int = 100  # candidates each ranking contributes to the fusion
    method: str = "zscore"  # or "rrf" (fusion.py)
    split_intents: bool = True  # search each intent of a multi-intent request too (intents.py)
    #: Two-stage routing's diversity: each further tool of one integration costs this many standard
    #: deviations (fusion.diversify); 0 ranks by score alone.
    integration_penalty: float = 0.25
    prior: float = 4.0  # weight of a learned prior (outcomes.py), in standard deviations of the fusion
    #: Each of a search's first this many tools brings the tools of its integration that must run
    #: first (their response fills its identifier arguments; graph.prerequisites) beside it. Applied
    #: by the router and the benchmark, over the index's ranking; 0: none.
    prerequisites: int = 10
    #: Hubness reduction (hubness.py): a tool's dense score loses this times its mean cosine to its
    #: ten nearest tools, so a crowd of near-identical tools does not bury a tool alone in its
    #: neighbourhood. 0.5 is CSLS's own weight; 0: raw cosines.
    hubness: float = 0.5


@dataclass(frozen=True)
class Scores:
    """Why a tool ranks where it does for a query (HybridIndex.explain)."""

    lexical: float  #: BM25 of its routing text (0: no term in common with the query)
    dense: float | None  #: cosine of the query's and its description's vectors; None: no model
    fused: float | None  #: the fusion's score; None: not a candidate of the whole query


@dataclass
class Ranked:
    """A search's results, best first, and the query vectors it searched (the whole request's first)."""

    results: list[tuple[str, float]]
    vectors: list[Vectors] = field(default_factory=list)
    #: Each result's position in the index (parallel to ``results``).
    positions: list[int] = field(default_factory=list)


class HybridIndex:
    """``documents`` feed BM25; ``dense_documents`` (shorter; default: the same) feed the embedder."""

    def __init__(
        self,
        ids: Sequence[str],
        documents: Iterable[str],
        embedder: QueryEmbedder | None,
        weights: Weights = Weights(),
        dense_documents: Sequence[str] | None = None,
        store: Callable[[Vectors], VectorStore] = NumpyVectors,
        groups: Sequence[str] | None = None,
    ) -> None:
        self.ids = list(ids)
        names: dict[str, int] = {}
        #: Each tool's integration, as a small integer (for fusion.diversify); None: no grouping.
        self.groups = (
            np.array([names.setdefault(g, len(names)) for g in groups], dtype=np.int32) if groups else None
        )
        self.weights = weights
        self.embedder = embedder
        if dense_documents is None:
            documents = list(documents)
            dense_documents = documents
        self.lexical = BM25(text.terms(d) for d in documents)  # one document's terms at a time
        dense = list(dense_documents)
        matrix = embedder.embed(dense) if embedder is not None else None
        #: What each tool's dense score loses for the crowd around it (hubness.py); None: nothing.
        self.penalty: Vectors | None = None
        if matrix is not None and weights.hubness > 0 and weights.dense > 0 and len(matrix):
            self.penalty = weights.hubness * hubness.crowding(matrix)
        self.vectors: VectorStore | None = store(matrix) if matrix is not None else None

    @functools.cached_property
    def _position(self) -> dict[str, int]:
        """Each tool's position; built only when learning asks (50,000 entries are megabytes)."""
        return {tid: i for i, tid in enumerate(self.ids)}

    def search(self, query: str, k: int = 10, prior: Prior | None = None) -> list[tuple[str, float]]:
        """The ``k`` best tools for ``query``: (id, score), best first."""
        return self.ranked(query, k, prior).results

    def ranked(self, query: str, k: int = 10, prior: Prior | None = None) -> Ranked:
        """:meth:`search`, with the query vectors it used (to remember what a search led to).

        A request with several intents (intents.py) is also searched intent by intent; the results
        are interleaved, the whole request's first, so each intent gets its tools near the top.
        """
        parts = intents.split(query) if self.weights.split_intents else []
        vectors: list[Vectors | None]
        if self.embedder is not None and self.vectors is not None and self.weights.dense > 0:
            vectors = list(_embed_queries(self.embedder, [query, *parts]))
        else:
            vectors = [None] * (1 + len(parts))
        used = [v for v in vectors if v is not None]
        whole = self._search_one(query, vectors[0], k, prior)
        if not parts:
            return Ranked([(self.ids[i], score) for i, score in whole], used, [i for i, _ in whole])
        rankings = [
            [i for i, _ in whole],
            *(
                [i for i, _ in self._search_one(p, v, k, prior)]
                for p, v in zip(parts, vectors[1:], strict=True)
            ),
        ]
        merged = intents.interleave(rankings, k)
        return Ranked([(self.ids[i], 1.0 / (rank + 1)) for rank, i in enumerate(merged)], used, list(merged))

    def best_cosine(self, ranked: Ranked, shown: Collection[str]) -> float | None:
        """How close the closest of ``shown`` (some of ``ranked``'s results) is to what was asked:
        the highest cosine between the search's query vectors and theirs; None without a model."""
        if self.vectors is None or not ranked.vectors:
            return None
        found = np.array(
            [p for (tid, _), p in zip(ranked.results, ranked.positions, strict=True) if tid in shown],
            dtype=np.int64,
        )
        if not len(found):
            return None
        return max(float(self.vectors.scores(v, found).max()) for v in ranked.vectors)

    def closest(self, tool: str, vectors: Sequence[Vectors]) -> int:
        """Which of ``vectors`` (a search's) is closest to ``tool``'s own: the intent it answered."""
        position = self._position.get(tool)
        if position is None or self.vectors is None or len(vectors) < 2:
            return 0
        ids = np.array([position], dtype=np.int64)
        return int(np.argmax([float(self.vectors.scores(v, ids)[0]) for v in vectors]))

    def explain(self, query: str, ids: Sequence[str], prior: Prior | None = None) -> dict[str, Scores]:
        """Each of ``ids``' scores for ``query`` as a whole (the console's search playground): its
        lexical and dense scores, and the fused score it ranked by (None when it was not among the
        candidates, e.g. a prerequisite or a tool of one intent of a multi-intent request)."""
        wanted = set(ids)
        positions = {tid: i for i, tid in enumerate(self.ids) if tid in wanted}  # one pass, kept by no one
        found = np.fromiter(positions.values(), dtype=np.int64, count=len(positions))
        vector = None
        if self.embedder is not None and self.vectors is not None and self.weights.dense > 0:
            vector = self.embedder.embed_query(query)
        lexical = self.lexical.scores(text.terms(query))
        dense = (
            self.vectors.scores(vector, found) if vector is not None and self.vectors is not None else None
        )
        fused: dict[int, float] = {}
        if (pair := self._fused(query, vector, prior)) is not None:
            candidates, values = pair
            members = set(positions.values())
            fused = {int(c): float(v) for c, v in zip(candidates, values, strict=True) if int(c) in members}
        return {
            tid: Scores(
                lexical=float(lexical[i]),
                dense=float(dense[n]) if dense is not None else None,
                fused=fused.get(i),
            )
            for n, (tid, i) in enumerate(positions.items())
        }

    def _search_one(
        self, query: str, query_vector: Vectors | None, k: int, prior: Prior | None = None
    ) -> list[tuple[int, float]]:
        pair = self._fused(query, query_vector, prior)
        if pair is None:
            return []
        candidates, fused = pair
        if self.weights.method == "rrf":  # ties fall to the lower document index, as over the catalogue
            return [(int(candidates[i]), float(fused[i])) for i in fusion.top(fused, k) if fused[i] > 0]
        if self.groups is not None and self.weights.integration_penalty > 0:
            best = fusion.diversify(
                fused, self.groups[candidates].tolist(), self.weights.integration_penalty, k
            )
        else:
            best = fusion.top(fused, k)
        return [(int(candidates[i]), float(fused[i])) for i in best]

    def _fused(
        self, query: str, query_vector: Vectors | None, prior: Prior | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:
        """The candidates of both rankings (and of the prior) and their fused scores; None: no candidate."""
        rankings: list[npt.NDArray[np.int64]] = []
        weights: list[float] = []
        lexical = self.lexical.scores(text.terms(query))
        hits = int(np.count_nonzero(lexical))
        if hits:
            rankings.append(fusion.top(lexical, min(self.weights.depth, hits)))
            weights.append(self.weights.lexical)
        if query_vector is not None and self.vectors is not None:
            rankings.append(self.vectors.top(query_vector, self.weights.depth, self.penalty))
            weights.append(self.weights.dense)
        if not rankings:
            return None
        if self.weights.method == "rrf":  # ranks only: a learned prior (a score) does not apply
            return fusion.rrf_candidates(rankings, weights)
        learned = prior(query_vector) if prior is not None and query_vector is not None else {}
        position = self._position if learned else {}
        known = {position[t]: v for t, v in learned.items() if t in position}
        boosted = np.fromiter(known, dtype=np.int64, count=len(known))  # candidates too
        candidates = np.unique(np.concatenate([*rankings, boosted]))
        scores = [lexical[candidates]] if hits else []
        if query_vector is not None and self.vectors is not None:
            scores.append(self._dense_scores(query_vector, candidates))
        fused = fusion.zscore_candidates(scores, weights)
        if known:  # added after the standardisation, in its units
            values = np.fromiter(known.values(), dtype=np.float32, count=len(known))
            fused[np.searchsorted(candidates, boosted)] += self.weights.prior * values
        return candidates, fused

    def _dense_scores(self, query_vector: Vectors, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The dense ranking's scores of ``ids``: cosines, less each tool's hubness penalty."""
        assert self.vectors is not None
        cosines = self.vectors.scores(query_vector, ids)
        return cosines if self.penalty is None else cosines - self.penalty[ids]


def _embed_queries(embedder: QueryEmbedder, queries: Sequence[str]) -> list[Vectors]:
    """One at a time: a batch pads every intent to the whole request's length, which measured slower
    (Seal-Tools p50 33 ms batched against 14 ms one by one) and grows the model's arena."""
    return [embedder.embed_query(q) for q in queries]
