"""Where the dense vectors live and how the nearest are found: in-process arrays, or Qdrant.

``NumpyVectors`` is the embedded default: an exact scan of a float32 matrix, measured faster here
than qdrant-client's local mode at every catalogue size (bench/vector_store.py; docs/design/0005).
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

Vectors = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int64]


class VectorStore(Protocol):
    def top(self, query: Vectors, k: int) -> Indices: ...


class NumpyVectors:
    def __init__(self, vectors: Vectors) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def top(self, query: Vectors, k: int) -> Indices:
        return fusion.top(self.vectors @ query.astype(np.float32), k)


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

    def top(self, query: Vectors, k: int) -> Indices:
        hits = self.client.query_points(
            self.collection, query=query.astype(np.float32).tolist(), limit=k, with_payload=False
        ).points
        return np.array([int(h.id) for h in hits], dtype=np.int64)

    def close(self) -> None:
        self.client.close()
