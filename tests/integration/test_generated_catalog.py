"""hack/generate_catalog.py: a ten-category catalogue from real specs that the gateway indexes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolmesh.catalog import folder
from toolmesh.gateway import catalog as gateway_catalog
from toolmesh.gateway.router import Router

pytestmark = pytest.mark.corpus
ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_catalogue_fills_all_ten_categories_and_routes(tmp_path: Path) -> None:
    out = tmp_path / "catalog"
    subprocess.run(
        [sys.executable, str(ROOT / "hack" / "generate_catalog.py"), str(out), "--per-category", "4"],
        check=True,
        capture_output=True,
    )
    loaded = folder.load(out)
    assert len(loaded.categories) == 10
    assert [e for e in loaded.entries if e.error] == []
    assert {e.obj.spec.category for e in loaded.entries if e.obj} == set(loaded.categories)
    built = gateway_catalog.build(loaded)
    assert built.problems == {}
    assert len(built.tools) > 100
    router = Router(built, embedder=None)
    found = router.search("send a message", limit=5, budget=10**6)
    assert any(r.category == "comms" for r in found)
