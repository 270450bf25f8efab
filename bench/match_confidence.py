"""Can a search tell "no good match" from a match? The best shown tool's cosine, measured. Prints
figures; asserts nothing.

    python bench/match_confidence.py --set DIR [--set DIR ...] [--distractors N] [--shown 8]

Each set's queries are searched twice: against the pool of every set's tools (plus the distractors),
where the tools they need are present, and against the same pool without that set's own tools,
where they are absent (another set may still hold an equivalent: absent is "probably no match").
For each search: the highest cosine between the query and the tools it shows as lines (``--shown``,
the gateway's default 8), and whether a needed tool is among them. Printed: how well that cosine
separates a search that shows a needed tool from one over a pool without them (ROC AUC), and, per
threshold, the share of each kind of search at or above it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from toolmesh.gateway.index.embedder import FastEmbedder
from toolmesh.gateway.index.hybrid import HybridIndex, Weights
from toolmesh.gateway.retrieval_bench import build_index
from toolmesh.gateway.retrieval_data import BenchSet, distractors, load_set, pool

THRESHOLDS = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70]


def best_cosines(index: HybridIndex, bench: BenchSet, shown: int) -> tuple[list[float], list[bool]]:
    """Per query: the best cosine among the tools shown (HybridIndex.best_cosine, as the gateway
    has it), and whether a needed tool is shown."""
    best, hit = [], []
    for q in bench.queries:
        ranked = index.ranked(q["query"], shown)
        ids = {tid for tid, _ in ranked.results}
        cosine = index.best_cosine(ranked, ids)
        best.append(cosine if cosine is not None else 0.0)
        hit.append(any(ids.intersection(g) for g in q["gold_groups"]))
    return best, hit


def auc(positive: list[float], negative: list[float]) -> float:
    """The chance that a positive scores above a negative (ties count half)."""
    pos, neg = np.sort(np.array(positive)), np.array(negative)
    below = np.searchsorted(pos, neg, side="left")
    at = np.searchsorted(pos, neg, side="right") - below
    return float(((len(pos) - below - at) + at / 2).sum() / (len(pos) * len(neg)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", dest="sets", type=Path, action="append", required=True, metavar="DIR")
    parser.add_argument("--distractors", type=int, default=0, metavar="N")
    parser.add_argument("--shown", type=int, default=8)
    args = parser.parse_args()
    sets = pool([load_set(folder) for folder in args.sets], distractors(args.distractors, None))
    embedder = FastEmbedder()
    weights = Weights(prerequisites=0)
    everything = [t for s in sets for t in s.tools]
    present, _, _ = build_index(everything, embedder, weights)
    rows = []
    for bench in sets:
        if not bench.queries:
            continue
        others = [t for s in sets if s is not bench for t in s.tools]
        absent, _, _ = build_index(others, embedder, weights)
        best_present, hits = best_cosines(present, bench, args.shown)
        best_absent, _ = best_cosines(absent, bench, args.shown)
        rows.append((bench.name, best_present, hits, best_absent))
    print(f"best cosine among the {args.shown} tools shown; pool of {len(everything)} tools")
    print(f"{'set':<12} {'hit':>5}  AUC hit vs absent  AUC hit vs miss  median cosine: hit / miss / absent")
    for name, best_present, hits, best_absent in rows:
        on = [b for b, h in zip(best_present, hits, strict=True) if h]
        off = [b for b, h in zip(best_present, hits, strict=True) if not h]
        print(
            f"{name:<12} {len(on) / len(hits):5.3f}  {auc(on, best_absent):17.3f}  "
            f"{auc(on, off) if off else float('nan'):15.3f}  "
            f"{np.median(on):.3f} / {np.median(off) if off else float('nan'):.3f} / {np.median(best_absent):.3f}"
        )
    print("share at or above each threshold: searches showing a needed tool | over a pool without them")
    for t in THRESHOLDS:
        cells = []
        for name, best_present, hits, best_absent in rows:
            on = [b for b, h in zip(best_present, hits, strict=True) if h]
            cells.append(
                f"{name} {np.mean(np.array(on) >= t):.2f} | {np.mean(np.array(best_absent) >= t):.2f}"
            )
        print(f"  {t:.2f}: " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
