"""Where the dense vectors live and how the nearest are found: in-process arrays, or Qdrant.

``NumpyVectors`` is the embedded default: an exact scan of a float32 matrix, measured faster here
than qdrant-client's local mode at every catalogue size (bench/vector_store.py; docs/design/0005),
its candidates picked by an int8 scan (index/quantized.py) in a large catalogue.
``QdrantVectors`` keeps them in Qdrant through qdrant-client: a Qdrant server when the gateway is
given ``TOOLMESH_QDRANT_URL`` (shared by gateway replicas, persistent), or qdrant-client's local
mode. Both answer the same question: the indices of the k best dot products.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from toolmesh.gateway.index import fusion
from toolmesh.gateway.index.quantized import Int8Scan

Vectors = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int64]


class VectorStore(Protocol):
    def top(self, query: Vectors, k: int, penalty: Vectors | None = None) -> Indices:
        """The ``k`` best dot products with ``query``, each less its row's ``penalty`` if given
        (hubness reduction: index/hubness.py)."""
        ...

    def scores(self, query: Vectors, ids: Indices) -> npt.NDArray[np.float32]:
        """Dot products of ``query`` with the vectors ``ids`` (to score a fusion's candidates)."""
        ...


#: Above this many vectors, an int8 scan in ONNX Runtime (index/quantized.py) picks candidates for
#: the exact scan: ``CANDIDATES_PER_RESULT`` times k, at least ``MIN_CANDIDATES``, ranked exactly in
#: float32. A float32 scan is memory-bound once its matrix outgrows the caches (50,000 x 384 reads
#: 77 MB per query); the int8 copy reads a quarter of that in integer kernels. Measured on real tool
#: vectors, the dense ranking's top 100 with the hubness penalty, p50 per query on 2 cores: 5,000
#: 0.17 ms exact, 0.22 ms int8; 10,000 0.98 / 0.28 ms; 20,000 2.5 / 0.38 ms; at 50,000 the int8
#: candidates held the exact top 10, 50 and 100 for 500 of 500 queries (docs/design/routing.md).
QUANTIZE_ABOVE = 5_000
CANDIDATES_PER_RESULT = 3
MIN_CANDIDATES = 300
#: A store that cannot subtract a per-row penalty itself (Qdrant) re-ranks this many times k.
PENALTY_POOL = 4


class NumpyVectors:
    def __init__(self, vectors: Vectors, *, quantize_above: int = QUANTIZE_ABOVE) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._scan: Int8Scan | None = None
        if len(self.vectors) > quantize_above:
            self._scan = Int8Scan(self.vectors)

    def scores(self, query: Vectors, ids: Indices) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = self.vectors[ids] @ query.astype(np.float32)
        return result

    def top(self, query: Vectors, k: int, penalty: Vectors | None = None) -> Indices:
        query = query.astype(np.float32)
        if self._scan is None:
            scores = self.vectors @ query
            return fusion.top(scores if penalty is None else scores - penalty, k)
        candidates = self._scan.top(query, max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k), penalty)
        exact = self.vectors[candidates] @ query
        return candidates[fusion.top(exact if penalty is None else exact - penalty[candidates], k)]


class QdrantVectors:
    """One collection per index (DOT distance on unit vectors); point ids are the tools' positions."""

    def __init__(
        self, vectors: Vectors, *, url: str | None = None, collection: str | None = None, client: Any = None
    ) -> None:
        from qdrant_client import QdrantClient, models

        self._models = models
        self.client = client or (QdrantClient(url=url) if url else QdrantClient(location=":memory:"))
        self.collection = collection or f"toolmesh-tools-{uuid.uuid4().hex[:8]}"
        dims = int(vectors.shape[1]) if vectors.ndim == 2 and vectors.size else 384
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self.client.create_collection(
            self.collection, vectors_config=models.VectorParams(size=dims, distance=models.Distance.DOT)
        )
        if len(vectors):
            self.client.upload_collection(
                self.collection, vectors=vectors.astype(np.float32), ids=list(range(len(vectors)))
            )

    def top(self, query: Vectors, k: int, penalty: Vectors | None = None) -> Indices:
        """With a ``penalty``, Qdrant ranks by raw dot product: the best ``PENALTY_POOL`` times ``k``
        are re-ranked here with it (on the dev sets' quick sample, the figures of an exact scan)."""
        limit = k if penalty is None else PENALTY_POOL * k
        hits = self.client.query_points(
            self.collection, query=query.astype(np.float32).tolist(), limit=limit, with_payload=False
        ).points
        ids = np.array([int(h.id) for h in hits], dtype=np.int64)
        if penalty is None:
            return ids
        scores = np.array([h.score for h in hits], dtype=np.float32) - penalty[ids]
        return ids[fusion.top(scores, k)]

    def scores(self, query: Vectors, ids: Indices) -> npt.NDArray[np.float32]:
        points = self.client.retrieve(self.collection, ids=[int(i) for i in ids], with_vectors=True)
        by_id = {int(p.id): np.asarray(p.vector, dtype=np.float32) for p in points}
        matrix = np.stack([by_id[int(i)] for i in ids]) if len(ids) else np.zeros((0, len(query)), np.float32)
        result: npt.NDArray[np.float32] = matrix @ query.astype(np.float32)
        return result

    def close(self) -> None:
        self.client.close()
