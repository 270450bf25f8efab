"""docs/security/threat-model.md names the test behind each defence: every one it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security" / "threat-model.md"
NAMED = sorted(set(re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", DOC.read_text())))


def test_each_defence_names_its_tests() -> None:
    assert len(NAMED) >= 30
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ") and "---" not in line]
    defences = [row for row in rows if not row.startswith("| Threat ")]
    assert defences
    assert all("::test_" in row for row in defences), [r for r in defences if "::test_" not in r]


@pytest.mark.parametrize(("path", "name"), NAMED)
def test_each_named_test_exists(path: str, name: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"docs/security/threat-model.md names {path}, which is gone"
    tests = {
        node.name
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert name in tests, f"docs/security/threat-model.md names {path}::{name}, which is gone"
