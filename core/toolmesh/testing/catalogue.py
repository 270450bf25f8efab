"""The generated full catalogue (hack/generate_catalog.py) as the objects a cluster receives.

Shared by the benches that apply it (operator_scale, cluster_replica, catalogue_on_node) and the
test that applies a slice of it: the ten MCPCategory
objects, one MCPIntegration per spec, and one ConfigMap per spec (gzip-compressed under binaryData
when it would not fit in 1 MiB; the reader recognises gzip by its magic bytes, so the key stays
``spec.json``).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFIGMAP_LIMIT = 900 * 1024
#: What the API server accepts in one ConfigMap (its JSON, about).
CONFIGMAP_MAX = 1_000_000


@dataclass(frozen=True)
class Catalogue:
    categories: list[dict[str, Any]]
    integrations: list[dict[str, Any]]
    configmaps: list[dict[str, Any]]
    #: Specs left out by :meth:`fitting`.
    left_out: int = 0

    def fitting(self) -> Catalogue:
        """Without the few specs too large for a ConfigMap even gzip-compressed, and the
        integrations that use them."""
        too_large = {c["metadata"]["name"] for c in self.configmaps if len(json.dumps(c)) > CONFIGMAP_MAX}
        return Catalogue(
            self.categories,
            [i for i in self.integrations if not too_large & set(json.dumps(i["spec"]).split('"'))],
            [c for c in self.configmaps if c["metadata"]["name"] not in too_large],
            len(too_large),
        )


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
