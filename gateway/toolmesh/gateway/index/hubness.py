"""Hubness reduction for the dense ranking: a tool in a crowd of near-identical tools scores a little lower.

In a large catalogue some vectors are *hubs*: they sit close to many others (one API's hundreds of
``X_Query`` operations, a data set's dozen stock-price tools) and so come near the top for many
requests, crowding out a tool that is alone in its neighbourhood (one generalist news tool) although
it answers the request as well. Cross-domain similarity local scaling (CSLS; Lample et al., "Word
translation without parallel data", 2018) corrects for it: a candidate's cosine to the query, less
half its mean cosine to its ``k`` nearest neighbours (k = 10). The correction depends on the tools
alone, so it is computed once, when the index is built, and no query or label is involved.

Measured in the union of the three dev sets (issue #17, docs/design/routing.md): MetaTool recall@10
0.547 → 0.607, NESTFUL 0.798 → 0.807 (complete@10 0.600 → 0.613), Seal-Tools 0.971 → 0.969; MetaTool
alone 0.837 → 0.808. A full weight (1.0) costs NESTFUL 0.02 more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

NEIGHBOURS = 10
#: Rows compared against: all of them up to this many, else an even sample of this many. At 50,000
#: tools the crowd is measured among 2,048 of them (its k nearest there stand for about its 250
#: nearest in all): one 50,000 x 2,048 product at index build, not 50,000 x 50,000.
SAMPLE = 2_048
CHUNK = 1_024  # rows per product: bounded memory (8 MB of similarities per chunk)


def crowding(vectors: Vectors, neighbours: int = NEIGHBOURS, sample: int = SAMPLE) -> Vectors:
    """Each row's mean cosine to its ``neighbours`` nearest other rows (unit rows: dot products),
    among all rows or an even sample of ``sample``; 0 for a row with no other row to compare."""
    n = len(vectors)
    result = np.zeros(n, dtype=np.float32)
    reference = np.arange(n) if n <= sample else np.linspace(0, n - 1, sample).astype(np.int64)
    if n < 2:
        return result
    where = np.full(n, -1, dtype=np.int64)  # each row's column among the reference rows, if it is one
    where[reference] = np.arange(len(reference))
    matrix = np.ascontiguousarray(vectors[reference].T, dtype=np.float32)
    k = min(neighbours, len(reference) - 1)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        sims = np.asarray(vectors[start:stop], dtype=np.float32) @ matrix  # a view: no copy of the rows
        own = where[start:stop]
        mine = own >= 0
        sims[np.nonzero(mine)[0], own[mine]] = -np.inf  # a row is not its own neighbour
        nearest = np.partition(sims, len(reference) - k, axis=1)[:, -k:]
        result[start:stop] = nearest.mean(axis=1)
    return result
