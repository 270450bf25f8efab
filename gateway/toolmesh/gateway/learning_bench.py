"""Learning from outcomes, measured (bench/retrieval_ablation.py): figures on half of a data set's
queries before and after the router learns from the other half's calls (docs/design/0009)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from toolmesh.gateway.retrieval_bench import SHOWN, build_index, evaluate
from toolmesh.gateway.retrieval_data import load_pair

if TYPE_CHECKING:  # numpy and the model load only when a benchmark runs
    from toolmesh.gateway.index.hybrid import QueryEmbedder, Weights
    from toolmesh.gateway.index.outcomes import LearningSettings


def run_learning(
    tools_path: Path,
    queries_path: Path,
    embedder: QueryEmbedder,
    weights: Weights,
    agent: str = "gold",
    settings: LearningSettings | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Figures on half of the queries before and after learning from the other half's outcomes.

    The halves are fixed by a hash of each query's id. In the history half each query is searched
    as a caller would, then the caller calls tools it was shown: ``agent="gold"`` calls those of the
    query's gold tools that the search showed (a capable agent), ``"top1"`` always calls the first
    result (a naive one: it also learns the router's own mistakes). Every call succeeds. Learning is
    shared (one caller), as one team's agents would share it.
    """
    from toolmesh.gateway.index.outcomes import LearningSettings, Outcomes

    bench_set = load_pair(tools_path, queries_path)
    index, _, costs = build_index(bench_set.tools, embedder, weights)
    history = [q for q in bench_set.queries if _half(q["qid"]) == 0]
    held_out = [q for q in bench_set.queries if _half(q["qid"]) == 1]
    before = evaluate(held_out, index, costs)
    memory = Outcomes(
        dims=len(embedder.embed_query("x")), settings=settings or LearningSettings(scope="shared")
    )
    for q in history:
        ranked = index.ranked(q["query"], SHOWN, memory.prior)
        shown = [tid for tid, _ in ranked.results]
        memory.searched("agent", ranked.vectors, shown, index.closest)
        gold = {tid for group in q["gold_groups"] for tid in group}
        for tid in shown[:1] if agent == "top1" else [t for t in shown if t in gold]:
            memory.called("agent", tid, ok=True)
    memory.settle("agent")
    after = evaluate(held_out, index, costs, memory.prior)
    after["outcomes"] = len(memory)
    return before, after


def _half(qid: str) -> int:
    return hashlib.sha256(qid.encode()).digest()[0] & 1
