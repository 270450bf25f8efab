"""``toolmesh compile FOLDER``: every spec under a folder (a corpus), a line each and the totals.

The JSON and YAML files under FOLDER are compiled one by one with the same options; one that cannot
be read or compiled is reported and the others go on. Progress goes to stderr (a bar on a terminal,
a line at start and end elsewhere: toolmesh.common.progress); the results go to stdout once done.
Exit status: 0 when every spec compiled, 1 when any failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from toolmesh.common.progress import Bar
from toolmesh.openapi import CompileOptions, Level, SpecError, compile_spec

SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Outcome:
    """One spec of the folder: what it compiled to, or why it did not."""

    path: str
    title: str = ""
    tools: int = 0
    operations: int = 0
    warnings: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "title": self.title,
            "tools": self.tools,
            "operations": self.operations,
            "warnings": self.warnings,
        }


def specs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def compile_one(path: Path, folder: Path, options: CompileOptions) -> Outcome:
    name = str(path.relative_to(folder))
    try:
        spec = compile_spec(path.read_bytes(), options, source=str(path))
    except OSError as exc:
        return Outcome(name, error=f"cannot read: {exc.strerror or exc}")
    except SpecError as exc:  # its message begins with the source, already on the line
        return Outcome(name, error=str(exc).removeprefix(f"{path}: "))
    warnings = sum(1 for d in spec.diagnostics if d.level == Level.WARNING)
    return Outcome(name, spec.title, len(spec.tools), spec.operations_total, warnings)


def compile_all(folder: Path, options: CompileOptions, stream: TextIO | None = None) -> list[Outcome]:
    paths = specs(folder)
    with Bar(f"compiling {folder}", len(paths), unit="specs", stream=stream) as bar:
        outcomes = []
        for path in paths:
            outcomes.append(compile_one(path, folder, options))
            bar.advance()
    return outcomes


def render_text(outcomes: list[Outcome], out: TextIO) -> None:
    width = max((len(o.path) for o in outcomes), default=0)
    for o in outcomes:
        if o.error is not None:
            out.write(f"  {o.path:<{width}}  error: {o.error}\n")
        else:
            warned = f", {o.warnings} warnings" if o.warnings else ""
            out.write(f"  {o.path:<{width}}  {o.tools} tools from {o.operations} operations{warned}\n")
    compiled = [o for o in outcomes if o.error is None]
    out.write(
        f"\n{len(outcomes)} specs: {len(compiled)} compiled ({sum(o.tools for o in compiled)} tools from "
        f"{sum(o.operations for o in compiled)} operations), {len(outcomes) - len(compiled)} failed\n"
    )


def run(folder: Path, options: CompileOptions, *, as_json: bool) -> int:
    outcomes = compile_all(folder, options)
    if as_json:
        failed = sum(1 for o in outcomes if o.error is not None)
        report = {
            "specs": [o.to_dict() for o in outcomes],
            "compiled": len(outcomes) - failed,
            "failed": failed,
        }
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render_text(outcomes, sys.stdout)
    return 1 if any(o.error is not None for o in outcomes) else 0
