"""``toolmesh compile SPEC``: show the tools a spec compiles to, and what was skipped or simplified.

SPEC is a file, ``-`` (standard input) or an http(s) URL, fetched as a category server fetches
``spec.openapi.spec.url``: within the same time and size budget (``toolmesh.catalog.fetch``).
A folder compiles every JSON and YAML file under it, a line each and the totals (compile_folder.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from toolmesh.catalog import fetch
from toolmesh.cli import compile_folder
from toolmesh.openapi import CompiledSpec, CompileOptions, Level, Selector, SpecError, compile_spec

EXIT_BAD_INPUT = 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compile", help="compile an OpenAPI/Swagger document to MCP tools", description=__doc__
    )
    p.add_argument(
        "spec",
        help="path or http(s) URL of a JSON or YAML document (gzip accepted), - for standard input, "
        "or a folder: every JSON and YAML file under it",
    )
    p.add_argument("--json", action="store_true", help="print the tools and diagnostics as one JSON object")
    p.add_argument("--prefix", help="tool-name prefix, as an integration's toolPrefix")
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep operations whose operationId matches",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="drop operations whose operationId matches",
    )
    p.add_argument("--tag", action="append", default=[], help="keep operations with this tag")
    p.add_argument("--read-only", action="store_true", help="keep only GET, HEAD and OPTIONS operations")
    p.add_argument("--verbose", "-v", action="store_true", help="also print informational diagnostics")


def _options(args: argparse.Namespace) -> CompileOptions:
    include = (
        Selector(operations=tuple(args.include), tags=tuple(args.tag)) if args.include or args.tag else None
    )
    exclude = Selector(operations=tuple(args.exclude)) if args.exclude else None
    return CompileOptions(prefix=args.prefix, include=include, exclude=exclude, read_only=args.read_only)


def _read(path: str) -> bytes:
    """The document: standard input, a URL (fetched within the budget: FetchError) or a file (OSError)."""
    if path == "-":
        return sys.stdin.buffer.read()
    if path.startswith(("http://", "https://")):
        return asyncio.run(fetch.fetch(path))
    return Path(path).read_bytes()


def render_text(spec: CompiledSpec, out: TextIO, *, verbose: bool) -> None:
    out.write(f"{spec.title or '(untitled)'} {spec.version} [{spec.source_format}]\n")
    out.write(f"{len(spec.tools)} tools from {spec.operations_total} operations  {spec.digest}\n\n")
    width = max((len(t.name) for t in spec.tools), default=0)
    for tool in spec.tools:
        first_line = tool.description.splitlines()[0] if tool.description else ""
        out.write(f"  {tool.name:<{width}}  {tool.route.method:<6} {tool.route.path}  {first_line[:80]}\n")
    shown = [d for d in spec.diagnostics if verbose or d.level == Level.WARNING]
    if shown:
        out.write("\n")
        for d in shown:
            out.write(f"  {d}\n")
    hidden = len(spec.diagnostics) - len(shown)
    if hidden:
        out.write(f"\n  ({hidden} informational diagnostics; -v shows them)\n")


def render_json(spec: CompiledSpec) -> dict[str, Any]:
    return {
        "title": spec.title,
        "version": spec.version,
        "format": spec.source_format,
        "digest": spec.digest,
        "operations": spec.operations_total,
        "tools": [t.to_dict() for t in spec.tools],
        "servers": [s.to_dict() for s in spec.servers],
        "securitySchemes": {s.name: s.to_dict() for s in spec.security_schemes},
        "diagnostics": [
            {"level": str(d.level), "code": d.code, "operation": d.operation, "message": d.message}
            for d in spec.diagnostics
        ],
    }


def run(args: argparse.Namespace) -> int:
    if Path(args.spec).is_dir():
        return compile_folder.run(Path(args.spec), _options(args), as_json=args.json)
    try:
        data = _read(args.spec)
    except OSError as exc:
        print(f"toolmesh compile: cannot read {args.spec}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except fetch.FetchError as exc:
        print(f"toolmesh compile: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        spec = compile_spec(data, _options(args), source=args.spec)
    except SpecError as exc:
        print(f"toolmesh compile: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        json.dump(render_json(spec), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render_text(spec, sys.stdout, verbose=args.verbose)
    return 0
