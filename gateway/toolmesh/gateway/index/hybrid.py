"""Hybrid retrieval: BM25 and dense cosine rankings fused with reciprocal ranks.

The index holds one routing text per tool (see :mod:`text`). A query is embedded once; both
rankings take their top ``depth`` candidates and RRF fuses them. Vectors are unit length, so the
dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from toolmesh.gateway.index import fusion, intents, text
from toolmesh.gateway.index.lexical import BM25
from toolmesh.gateway.index.vectors import NumpyVectors, VectorStore

Vectors = npt.NDArray[np.float32]


class QueryEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


@dataclass(frozen=True)
class Weights:
    lexical: float = 1.0
    dense: float = 1.0
    depth: int = 100  # candidates each ranking contributes to the fusion
    method: str = "zscore"  # or "rrf" (fusion.py)
    split_intents: bool = True  # search each intent of a multi-intent request too (intents.py)


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
    ) -> None:
        self.ids = list(ids)
        self.weights = weights
        self.embedder = embedder
        if dense_documents is None:
            documents = list(documents)
            dense_documents = documents
        self.lexical = BM25(text.terms(d) for d in documents)  # one document's terms at a time
        dense = list(dense_documents)
        self.vectors: VectorStore | None = store(embedder.embed(dense)) if embedder is not None else None

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best tools for ``query``: (id, score), best first.

        A request with several intents (intents.py) is also searched intent by intent; the results
        are interleaved, the whole request's first, so each intent gets its tools near the top.
        """
        parts = intents.split(query) if self.weights.split_intents else []
        vectors: list[Vectors | None]
        if self.embedder is not None and self.vectors is not None and self.weights.dense > 0:
            vectors = list(_embed_queries(self.embedder, [query, *parts]))
        else:
            vectors = [None] * (1 + len(parts))
        whole = self._search_one(query, vectors[0], k)
        if not parts:
            return [(self.ids[i], score) for i, score in whole]
        rankings = [
            [i for i, _ in whole],
            *([i for i, _ in self._search_one(p, v, k)] for p, v in zip(parts, vectors[1:], strict=True)),
        ]
        merged = intents.interleave(rankings, k)
        return [(self.ids[i], 1.0 / (rank + 1)) for rank, i in enumerate(merged)]

    def _search_one(self, query: str, query_vector: Vectors | None, k: int) -> list[tuple[int, float]]:
        rankings: list[npt.NDArray[np.int64]] = []
        weights: list[float] = []
        lexical = self.lexical.scores(text.terms(query))
        hits = int(np.count_nonzero(lexical))
        if hits:
            rankings.append(fusion.top(lexical, min(self.weights.depth, hits)))
            weights.append(self.weights.lexical)
        if query_vector is not None and self.vectors is not None:
            rankings.append(self.vectors.top(query_vector, self.weights.depth))
            weights.append(self.weights.dense)
        if not rankings:
            return []
        if self.weights.method == "rrf":
            candidates, fused = fusion.rrf_candidates(rankings, weights)
            best = fusion.top(fused, k)  # ties fall to the lower document index, as over the catalogue
            return [(int(candidates[i]), float(fused[i])) for i in best if fused[i] > 0]
        candidates = np.unique(np.concatenate(rankings))
        scores = [lexical[candidates]] if hits else []
        if query_vector is not None and self.vectors is not None:
            scores.append(self.vectors.scores(query_vector, candidates))
        fused = fusion.zscore_candidates(scores, weights)
        return [(int(candidates[i]), float(fused[i])) for i in fusion.top(fused, k)]


def _embed_queries(embedder: QueryEmbedder, queries: Sequence[str]) -> list[Vectors]:
    """One at a time: a batch pads every intent to the whole request's length, which measured slower
    (Seal-Tools p50 33 ms batched against 14 ms one by one) and grows the model's arena."""
    return [embedder.embed_query(q) for q in queries]
