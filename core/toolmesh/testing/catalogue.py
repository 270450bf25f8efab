"""The generated full catalogue (hack/generate_catalog.py) as the objects a cluster receives.

Shared by bench/operator_scale.py and the test that applies a slice of it: the ten MCPCategory
objects, one MCPIntegration per spec, and one ConfigMap per spec (gzip-compressed under binaryData
when it would not fit in 1 MiB; the reader recognises gzip by its magic bytes, so the key stays
``spec.json``).
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFIGMAP_LIMIT = 900 * 1024


@dataclass(frozen=True)
class Catalogue:
    categories: list[dict[str, Any]]
    integrations: list[dict[str, Any]]
    configmaps: list[dict[str, Any]]


def objects(folder: Path, namespace: str) -> Catalogue:
    categories = [d for d in yaml.safe_load_all((folder / "categories.yaml").read_text()) if d]
    integrations = [yaml.safe_load(p.read_text()) for p in sorted((folder / "integrations").glob("*.yaml"))]
    configmaps = []
    for spec in sorted(folder.glob("openapi-*/spec.json")):
        data = spec.read_bytes()
        configmap: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": spec.parent.name, "namespace": namespace},
        }
        if len(data) < CONFIGMAP_LIMIT:
            configmap["data"] = {"spec.json": data.decode()}
        else:
            configmap["binaryData"] = {"spec.json": base64.b64encode(gzip.compress(data, mtime=0)).decode()}
        configmaps.append(configmap)
    for obj in [*categories, *integrations]:
        obj["metadata"]["namespace"] = namespace
    return Catalogue(categories, integrations, configmaps)
