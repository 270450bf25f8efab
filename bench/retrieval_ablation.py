"""Each routing component on and off, on every data set given. Prints a Markdown table; asserts nothing.

    python bench/retrieval_ablation.py DATASET_DIR [DATASET_DIR ...]
    python bench/retrieval_ablation.py ../shared/data/retrieval-dev/normalized/*   # the dev sets

A data set folder holds ``tools.jsonl`` and ``queries.jsonl`` in the retrieval-dev format. The
figures are those of ``toolmesh bench retrieval`` (``toolmesh.gateway.retrieval_bench.run``) with
one change of the default each row: the default (BM25 + MiniLM fused by standardised scores, each
intent of a multi-intent request searched too, a small cost for each further tool of one
integration), then without intent splitting, without the integration cost, with reciprocal rank
fusion instead, BM25 alone, and the dense ranking alone.

A second table is learning from outcomes (``learning_bench.run_learning``): figures on one half
of the queries, before and after the other half's searches and calls were learned, for an agent
that calls the gold tools it was shown and for one that always calls the first result.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from toolmesh.common.progress import BarProgress
from toolmesh.gateway.index.embedder import FastEmbedder
from toolmesh.gateway.index.hybrid import Weights
from toolmesh.gateway.learning_bench import run_learning
from toolmesh.gateway.retrieval_bench import run

DEFAULT = Weights()
ROWS: list[tuple[str, Weights, bool]] = [
    ("default: BM25 + dense, z-score fusion, intents", DEFAULT, True),
    ("without intent splitting", dataclasses.replace(DEFAULT, split_intents=False), True),
    ("without the integration cost (0)", dataclasses.replace(DEFAULT, integration_penalty=0.0), True),
    ("reciprocal rank fusion instead of z-scores", dataclasses.replace(DEFAULT, method="rrf"), True),
    ("BM25 alone (no embedding model)", DEFAULT, False),
    ("dense alone (BM25 weight 0)", dataclasses.replace(DEFAULT, lexical=0.0), True),
]
COLUMNS = ("recall@5", "recall@10", "ndcg@10", "complete@10", "latency_ms_p50", "latency_ms_p99")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sets", nargs="+", type=Path, help="data set folders (tools.jsonl, queries.jsonl)")
    args = parser.parse_args()
    folders = args.sets
    if missing := [
        f for f in folders if not (f / "tools.jsonl").is_file() or not (f / "queries.jsonl").is_file()
    ]:
        parser.error(f"not a data set folder (tools.jsonl, queries.jsonl): {', '.join(map(str, missing))}")
    embedder = FastEmbedder(progress=BarProgress("embedding tools", unit="tools"))
    for folder in folders:
        print(f"\n### {folder.name}\n")
        print("| configuration | " + " | ".join(COLUMNS) + " | tokens/query |")
        print("|---|" + "---:|" * (len(COLUMNS) + 1))
        for label, weights, dense in ROWS:
            figures = run(
                folder / "tools.jsonl", folder / "queries.jsonl", embedder if dense else None, weights
            )
            share = figures["tokens_per_query"] / figures["catalogue_tokens"]
            cells = [f"{figures[c]:.3f}" if c.startswith(("recall", "ndcg", "complete")) else f"{figures[c]:.1f}"
                     for c in COLUMNS]  # fmt: skip
            print(f"| {label} | " + " | ".join(cells) + f" | {share:.2%} |", flush=True)
        print(
            "\n| learning from outcomes (held-out half) | recall@5 | recall@10 | complete@10 | p50 | outcomes |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for agent, label in (
            ("gold", "agent calls the gold tools it is shown"),
            ("top1", "agent calls the first result"),
        ):
            before, after = run_learning(
                folder / "tools.jsonl", folder / "queries.jsonl", embedder, DEFAULT, agent
            )
            for name, f in ((f"{label}: before", before), (f"{label}: after", after)):
                print(f"| {name} | {f['recall@5']:.3f} | {f['recall@10']:.3f} | {f['complete@10']:.3f} | "
                      f"{f['latency_ms_p50']:.1f} | {int(f.get('outcomes', 0))} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
