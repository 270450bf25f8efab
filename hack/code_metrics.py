"""Print the code-shape figures that issue #22 tracks.

    python hack/code_metrics.py            # human-readable
    python hack/code_metrics.py --json     # one JSON object

Product code is the four source roots (core, gateway, operator, category-images); tests, benches
and hack scripts are not counted. Figures:

- `.get(` calls and the name `Any` in the operator package (dict-shaped code left in it);
- functions (and methods) over 60 lines, each named;
- `create_app`'s length;
- module size (lines) median / p90 / max.
"""

from __future__ import annotations

import ast
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = ("core", "gateway", "operator", "category-images")
LONG_FUNCTION = 60


def product_modules() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in (ROOT / root).rglob("*.py"))


def functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            found.append((node.name, node.end_lineno - node.lineno + 1))
    return found


def metrics() -> dict[str, object]:
    modules = product_modules()
    operator = [p for p in modules if "toolmesh/operator/" in p.as_posix()]
    operator_text = "".join(p.read_text() for p in operator)
    long_functions = []
    create_app = 0
    for path in modules:
        for name, length in functions(path):
            if length > LONG_FUNCTION:
                long_functions.append(f"{path.relative_to(ROOT)}:{name} ({length})")
            if name == "create_app":
                create_app = max(create_app, length)
    sizes = sorted(len(p.read_text().splitlines()) for p in modules)
    return {
        "operator_get_calls": operator_text.count(".get("),
        "operator_any": len(re.findall(r"\bAny\b", operator_text)),
        "functions_over_60_lines": len(long_functions),
        "long_functions": long_functions,
        "create_app_lines": create_app,
        "modules": len(sizes),
        "module_lines_median": statistics.median(sizes),
        "module_lines_p90": sizes[int(0.9 * (len(sizes) - 1))],
        "module_lines_max": sizes[-1],
    }


def main() -> None:
    figures = metrics()
    if "--json" in sys.argv[1:]:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        if isinstance(value, list):
            print(f"{key}:")
            for item in value:
                print(f"  {item}")
        else:
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
