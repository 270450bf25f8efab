"""Reciprocal-rank fusion of several rankings (Cormack et al., 2009), weighted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RRF_K = 60


def top(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k best scores, best first; ties by index, so results are deterministic."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order].astype(np.int64)


def rrf(
    rankings: Sequence[npt.NDArray[np.int64]], weights: Sequence[float], n: int, k: int = RRF_K
) -> npt.NDArray[np.float32]:
    """Fused score per document: sum of weight / (k + rank) over the rankings it appears in."""
    fused = np.zeros(n, dtype=np.float32)
    for ranking, weight in zip(rankings, weights, strict=True):
        fused[ranking] += weight / (k + np.arange(1, len(ranking) + 1, dtype=np.float32))
    return fused


def rrf_candidates(
    rankings: Sequence[npt.NDArray[np.int64]], weights: Sequence[float], k: int = RRF_K
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The same fused scores as :func:`rrf`, for the documents the rankings name only (sorted ids).

    A search fuses a few hundred candidates; scoring an array the size of the catalogue for them
    costs more than the fusion itself at 50,000 tools.
    """
    ids = np.unique(np.concatenate(rankings)) if rankings else np.empty(0, dtype=np.int64)
    fused = np.zeros(len(ids), dtype=np.float32)
    for ranking, weight in zip(rankings, weights, strict=True):
        fused[np.searchsorted(ids, ranking)] += weight / (
            k + np.arange(1, len(ranking) + 1, dtype=np.float32)
        )
    return ids.astype(np.int64), fused
