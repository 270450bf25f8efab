"""Each routing component on and off, on every data set given. Prints a Markdown table; asserts nothing.

    python bench/retrieval_ablation.py [DATASET_DIR ...]     # default: ../shared/data/retrieval-dev/normalized/*

A data set folder holds ``tools.jsonl`` and ``queries.jsonl`` in the retrieval-dev format. The
figures are those of ``toolmesh bench retrieval`` (``toolmesh.gateway.retrieval_bench.run``) with
one change of the default each row: the default (BM25 + MiniLM fused by standardised scores, each
intent of a multi-intent request searched too), then without intent splitting, with reciprocal
rank fusion instead, BM25 alone, and the dense ranking alone.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from toolmesh.gateway.index.embedder import FastEmbedder
from toolmesh.gateway.index.hybrid import Weights
from toolmesh.gateway.retrieval_bench import run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETS = ROOT.parent / "shared" / "data" / "retrieval-dev" / "normalized"
DEFAULT = Weights()
ROWS: list[tuple[str, Weights, bool]] = [
    ("default: BM25 + dense, z-score fusion, intents", DEFAULT, True),
    ("without intent splitting", dataclasses.replace(DEFAULT, split_intents=False), True),
    ("reciprocal rank fusion instead of z-scores", dataclasses.replace(DEFAULT, method="rrf"), True),
    ("BM25 alone (no embedding model)", DEFAULT, False),
    ("dense alone (BM25 weight 0)", dataclasses.replace(DEFAULT, lexical=0.0), True),
]
COLUMNS = ("recall@5", "recall@10", "ndcg@10", "complete@10", "latency_ms_p50", "latency_ms_p99")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sets", nargs="*", type=Path, help="data set folders (tools.jsonl, queries.jsonl)")
    args = parser.parse_args()
    folders = args.sets or sorted(p for p in DEFAULT_SETS.iterdir() if (p / "tools.jsonl").is_file())
    embedder = FastEmbedder()
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


if __name__ == "__main__":
    main()
