"""Dense top-k: in-process numpy vs Qdrant through qdrant-client. Prints figures; asserts nothing.

    python bench/vector_store.py [--sizes 1000,10000,50000] [--queries 200] [--k 100]

Random unit vectors of 384 dimensions (latency does not depend on the data for exact search),
top 100 as the hybrid index asks. qdrant-client's local mode is what an embedded Qdrant means
through qdrant-client; a Qdrant server adds a network hop to the same work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from toolmesh.gateway.index.vectors import NumpyVectors, QdrantVectors, VectorStore


def measure(store: VectorStore, queries: np.ndarray, k: int) -> tuple[float, float]:
    store.top(queries[0], k)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        store.top(q, k)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"dense top-{args.k}, {args.queries} queries, 384 dimensions:")
    for size in (int(s) for s in args.sizes.split(",")):
        vectors = rng.standard_normal((size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.integers(0, size, args.queries)] + 0.01
        for name, make in (("numpy", NumpyVectors), ("qdrant-client local", QdrantVectors)):
            t0 = time.perf_counter()
            store = make(vectors)
            build = time.perf_counter() - t0
            p50, p99 = measure(store, queries, args.k)
            print(
                f"  {size:>6} vectors  {name:<20} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  build {build:6.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
