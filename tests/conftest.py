"""Shared fixtures: the repository root and the demo spec."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "examples" / "catalog" / "specs" / "tasks.openapi.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def demo_spec_text() -> str:
    return DEMO_SPEC.read_text(encoding="utf-8")
