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

from toolmesh.gateway.index import fusion, text
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
        """The ``k`` best tools for ``query``: (id, fused score), best first."""
        rankings: list[npt.NDArray[np.int64]] = []
        weights: list[float] = []
        lexical = self.lexical.scores(text.terms(query))
        hits = int(np.count_nonzero(lexical))
        if hits:
            rankings.append(fusion.top(lexical, min(self.weights.depth, hits)))
            weights.append(self.weights.lexical)
        query_vector = None
        if self.embedder is not None and self.vectors is not None and self.weights.dense > 0:
            query_vector = self.embedder.embed_query(query)
            rankings.append(self.vectors.top(query_vector, self.weights.depth))
            weights.append(self.weights.dense)
        if not rankings:
            return []
        if self.weights.method == "rrf":
            candidates, fused = fusion.rrf_candidates(rankings, weights)
            best = fusion.top(fused, k)  # ties fall to the lower document index, as over the catalogue
            return [(self.ids[int(candidates[i])], float(fused[i])) for i in best if fused[i] > 0]
        candidates = np.unique(np.concatenate(rankings))
        scores = [lexical[candidates]] if hits else []
        if query_vector is not None and self.vectors is not None:
            scores.append(self.vectors.scores(query_vector, candidates))
        fused = fusion.zscore_candidates(scores, weights)
        best = fusion.top(fused, k)
        return [(self.ids[int(candidates[i])], float(fused[i])) for i in best]
