"""Fusing the lexical and the dense ranking: standardised scores (the default), or reciprocal ranks.

``zscore``: each method's scores over the union of their top candidates are standardised (mean 0,
standard deviation 1) and summed with weights. Rank fusion throws away how far apart scores are;
on the shared dev sets the standardised sum was better on both (recall@10 0.824 vs 0.791 on
MetaTool, 0.898 vs 0.836 on Seal-Tools, equal weights; docs/design/0005), and it needs no
per-set tuning beyond the weights.
"""

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


def zscore_candidates(
    scores: Sequence[npt.NDArray[np.float32]], weights: Sequence[float]
) -> npt.NDArray[np.float32]:
    """Weighted sum of each method's standardised scores, over the same candidates (one array each)."""
    fused = np.zeros(len(scores[0]) if scores else 0, dtype=np.float32)
    for values, weight in zip(scores, weights, strict=True):
        spread = float(values.std()) if len(values) else 0.0  # no candidates: an empty index
        if spread > 0:
            fused += weight * (values - float(values.mean())) / spread
    return fused


def diversify(
    scores: npt.NDArray[np.float32], groups: Sequence[int], penalty: float, k: int
) -> npt.NDArray[np.int64]:
    """The k best by score (indices into ``scores``; ``groups[i]`` is candidate i's group), where
    each tool of a group already ranked above costs ``penalty``.

    Groups are integrations: the second tool of one integration is ranked as if ``penalty`` lower,
    the third as if twice that, and so on, so that one large API (GitHub's 1,200 operations) cannot
    fill a result by itself while a close second tool of it still beats a weak one elsewhere.
    """
    order = top(scores, len(scores))
    if penalty <= 0 or not len(order):
        return order[:k]
    group = np.asarray(groups, dtype=np.int64)[order]
    # How many tools of its group rank above each one: its position within its group, in order.
    by_group = np.argsort(group, kind="stable")
    sorted_groups = group[by_group]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    above = np.empty(len(group), dtype=np.int64)
    above[by_group] = np.arange(len(group)) - np.repeat(starts, sizes)
    adjusted = (scores[order] - penalty * above).astype(np.float32)
    return order[top(adjusted, k)]
