"""docs/architecture.md stays true: every module it names exists, and every package is on it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
SOURCE_ROOTS = ("core", "gateway", "operator", "category-images")
NAMED = sorted(set(re.findall(r"`(toolmesh(?:\.[a-z_0-9]+)+)`", DOC.read_text())))


def test_the_page_names_modules() -> None:
    assert len(NAMED) > 20


@pytest.mark.parametrize("module", NAMED)
def test_each_named_module_exists(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"docs/architecture.md names {module}, which is gone"


def test_every_package_of_the_four_roots_is_on_the_page() -> None:
    packages = {
        f"toolmesh.{p.name}"
        for root in SOURCE_ROOTS
        for p in (ROOT / root / "toolmesh").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert len(packages) >= 12
    missing = sorted(packages - set(NAMED))
    assert not missing, f"docs/architecture.md does not place {missing} in a source root"
