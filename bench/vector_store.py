"""Dense top-k: in-process numpy vs Qdrant through qdrant-client. Prints figures; asserts nothing.

    python bench/vector_store.py [--sizes 1000,10000,50000] [--queries 200] [--k 100]

Random unit vectors of 384 dimensions (latency does not depend on the data for exact search),
top 100 as the hybrid index asks, with recall against the exact top 100. "numpy (default)" is the
gateway's store: above 5,000 vectors its candidates come from an int8 scan (index/quantized.py);
random vectors, all nearly equidistant, are the hardest case for it. qdrant-client's local mode is what an embedded Qdrant means
through qdrant-client; a Qdrant server adds a network hop to the same work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from toolmesh.gateway.index import fusion
from toolmesh.gateway.index.vectors import Indices, NumpyVectors, QdrantVectors, Vectors, VectorStore


class EdgeVectors:
    """qdrant-edge-py: the Qdrant engine in-process, HNSW with default parameters (bench only)."""

    def __init__(self, vectors: Vectors) -> None:
        import qdrant_edge as q

        self.q = q
        config = q.EdgeConfig(
            vectors={"": q.EdgeVectorParams(size=int(vectors.shape[1]), distance=q.Distance.Dot)}
        )
        self.shard = q.EdgeShard.create(tempfile.mkdtemp(prefix="toolmesh-edge-"), config)
        for start in range(0, len(vectors), 1000):
            points = [
                q.Point(i, vectors[i].tolist(), None) for i in range(start, min(len(vectors), start + 1000))
            ]
            self.shard.update(q.UpdateOperation.upsert_points(points))
        self.shard.optimize()

    def top(self, query: Vectors, k: int) -> Indices:
        hits = self.shard.query(self.q.QueryRequest(limit=k, query=self.q.Query.Nearest(query.tolist())))
        return np.array([int(h.id) for h in hits], dtype=np.int64)


def measure(store: VectorStore, vectors: Vectors, queries: Vectors, k: int) -> tuple[float, float, float]:
    """p50 and p99 latency, and recall of the exact top k."""
    store.top(queries[0], k)
    times, recall = [], []
    for q in queries:
        t0 = time.perf_counter()
        found = store.top(q, k)
        times.append((time.perf_counter() - t0) * 1000)
        recall.append(len(set(found.tolist()) & set(fusion.top(vectors @ q, k).tolist())) / k)
    return statistics.median(times), statistics.quantiles(times, n=100)[98], float(np.mean(recall))


class ExactVectors(NumpyVectors):
    """The in-process store without its int8 candidate scan: float32 only, at any size."""

    def __init__(self, vectors: Vectors) -> None:
        super().__init__(vectors, quantize_above=10**12)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    # One BLAS thread, as the gateway runs (index/embedder.py): BLAS workers spinning after each
    # product would take the core the int8 scan's second thread needs.
    threadpool_limits(limits=1, user_api="blas")
    rng = np.random.default_rng(0)
    print(f"dense top-{args.k}, {args.queries} queries, 384 dimensions:")
    for size in (int(s) for s in args.sizes.split(",")):
        vectors = rng.standard_normal((size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.integers(0, size, args.queries)] + 0.01
        stores: tuple[tuple[str, type], ...] = (
            ("numpy, exact", ExactVectors),
            ("numpy (default)", NumpyVectors),
            ("qdrant-client local", QdrantVectors),
            ("qdrant-edge HNSW", EdgeVectors),
        )  # fmt: skip
        for name, make in stores:
            t0 = time.perf_counter()
            store = make(vectors)
            build = time.perf_counter() - t0
            p50, p99, recall = measure(store, vectors, queries, args.k)
            print(f"  {size:>6} vectors  {name:<20} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                  f"recall@{args.k} {recall:.3f}  build {build:6.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
