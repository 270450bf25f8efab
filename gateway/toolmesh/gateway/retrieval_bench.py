"""``toolmesh bench retrieval``: how well the router finds the tools a query needs.

Input is the retrieval-dev format: tools ``{"id", "name", "description", "input_schema", "server"}``
and queries ``{"qid", "query", "gold", "gold_groups"}`` (JSON lines). Any file in that format works.

Metrics over ``gold_groups`` (one group per needed tool; ids in a group are alternatives):
recall@k = share of groups with a member in the top k; nDCG@10 with binary gains (a tool scores
when it covers a group not covered higher up); MRR = 1 / rank of the first tool in any group;
complete@10 = every group covered in the top 10. Tokens are chars/4 of the tools' JSON: per query,
the top 10 shown; catalogue, every tool. Latency is one search, query embedding included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and the model load only when a benchmark runs, not with every CLI command
    from toolmesh.gateway.index.hybrid import HybridIndex, Prior, QueryEmbedder, Weights
    from toolmesh.gateway.index.outcomes import LearningSettings

SHOWN = 10


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tool_tokens(tool: dict[str, Any]) -> float:
    shown = {
        "name": tool["name"],
        "description": tool.get("description", ""),
        "input_schema": tool.get("input_schema") or {},
    }
    return len(json.dumps(shown, ensure_ascii=False)) / 4


def query_metrics(ranked: Sequence[str], groups: Sequence[Sequence[str]]) -> dict[str, float]:
    group_of: dict[str, list[int]] = defaultdict(list)
    for gi, group in enumerate(groups):
        for tid in group:
            group_of[tid].append(gi)
    out: dict[str, float] = {}
    for k in (1, 5, 10):
        hit = {gi for tid in ranked[:k] for gi in group_of.get(tid, ())}
        out[f"recall@{k}"] = len(hit) / len(groups)
    covered: set[int] = set()
    dcg = 0.0
    for rank, tid in enumerate(ranked[:10], start=1):
        new = [gi for gi in group_of.get(tid, ()) if gi not in covered]
        if new:
            covered.add(new[0])
            dcg += 1 / math.log2(rank + 1)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(groups), 10) + 1))
    out["ndcg@10"] = dcg / ideal
    out["mrr"] = next((1 / rank for rank, tid in enumerate(ranked, start=1) if tid in group_of), 0.0)
    out["complete@10"] = float(len(covered) == len(groups))
    return out


def run(
    tools_path: Path, queries_path: Path, embedder: QueryEmbedder | None, weights: Weights
) -> dict[str, float]:
    tools, queries, index, build_s = _build(tools_path, queries_path, embedder, weights)
    figures = _evaluate(tools, queries, index)
    figures["index_build_s"] = round(build_s, 2)
    return figures


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

    tools, queries, index, _ = _build(tools_path, queries_path, embedder, weights)
    history = [q for q in queries if _half(q["qid"]) == 0]
    held_out = [q for q in queries if _half(q["qid"]) == 1]
    before = _evaluate(tools, held_out, index)
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
    after = _evaluate(tools, held_out, index, memory.prior)
    after["outcomes"] = len(memory)
    return before, after


def _half(qid: str) -> int:
    return hashlib.sha256(qid.encode()).digest()[0] & 1


def _build(
    tools_path: Path, queries_path: Path, embedder: QueryEmbedder | None, weights: Weights
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], HybridIndex, float]:
    from toolmesh.gateway.index import text
    from toolmesh.gateway.index.hybrid import HybridIndex

    tools = load_jsonl(tools_path)
    queries = [q for q in load_jsonl(queries_path) if q.get("gold_groups")]
    docs = [
        text.document(t["name"], t.get("description", ""), t.get("input_schema"), str(t.get("server", "")))
        for t in tools
    ]
    dense_docs = [
        text.dense_document(t["name"], t.get("description", ""), str(t.get("server", ""))) for t in tools
    ]
    started = time.perf_counter()
    index = HybridIndex(
        [t["id"] for t in tools],
        docs,
        embedder,
        weights,
        dense_documents=dense_docs,
        groups=[str(t.get("server", "")) for t in tools],
    )
    return tools, queries, index, time.perf_counter() - started


def _evaluate(
    tools: list[dict[str, Any]], queries: list[dict[str, Any]], index: HybridIndex, prior: Prior | None = None
) -> dict[str, float]:
    by_id = {t["id"]: t for t in tools}
    totals: dict[str, float] = defaultdict(float)
    latencies, shown_tokens = [], []
    for q in queries:
        t0 = time.perf_counter()
        ranked = [tid for tid, _ in index.search(q["query"], SHOWN, prior)]
        latencies.append((time.perf_counter() - t0) * 1000)
        for key, value in query_metrics(ranked, q["gold_groups"]).items():
            totals[key] += value
        shown_tokens.append(sum(tool_tokens(by_id[tid]) for tid in ranked))
    n = len(queries)
    figures = {key: round(value / n, 4) for key, value in totals.items()}
    figures["tokens_per_query"] = round(statistics.mean(shown_tokens), 1)
    figures["catalogue_tokens"] = round(sum(tool_tokens(t) for t in tools), 1)
    figures["latency_ms_p50"] = round(statistics.median(latencies), 3)
    figures["latency_ms_p99"] = round(
        statistics.quantiles(latencies, n=100)[98] if n > 1 else latencies[0], 3
    )
    figures["queries"] = n
    figures["tools"] = len(tools)
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tools", type=Path, required=True, help="tools JSONL")
    parser.add_argument("--queries", type=Path, required=True, help="queries JSONL")
    parser.add_argument("--json", action="store_true", help="print the figures as one flat JSON object")
    parser.add_argument("--lexical-only", action="store_true", help="BM25 alone (no embedding model)")
    parser.add_argument(
        "--dense-weight", type=float, default=1.0, help="weight of the dense ranking in the fusion"
    )


def main(args: argparse.Namespace) -> int:
    from toolmesh.gateway.index.hybrid import Weights

    embedder = None
    if not args.lexical_only:
        from toolmesh.gateway.index.embedder import FastEmbedder

        embedder = FastEmbedder()
    figures = run(args.tools, args.queries, embedder, Weights(dense=args.dense_weight))
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['queries']} queries over {figures['tools']} tools (index built in {figures['index_build_s']} s)"
    )
    for key in ("recall@1", "recall@5", "recall@10", "ndcg@10", "mrr", "complete@10"):
        print(f"  {key:<12} {figures[key]:.4f}")
    share = figures["tokens_per_query"] / figures["catalogue_tokens"] if figures["catalogue_tokens"] else 0
    print(
        f"  tokens/query {figures['tokens_per_query']:.0f} of {figures['catalogue_tokens']:.0f} in the catalogue ({share:.2%})"
    )
    print(f"  latency      p50 {figures['latency_ms_p50']} ms, p99 {figures['latency_ms_p99']} ms")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m toolmesh.gateway.retrieval_bench")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
