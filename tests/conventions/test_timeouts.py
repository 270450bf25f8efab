"""Every test runs under a timeout (pytest-timeout, set in pyproject.toml): a hang fails that test
with the stacks dumped, the run goes on. The node tier gets the longer limit of tests/conftest.py.

Run on a small suite of its own, in a pytest of its own (a subprocess), with the repository's
configuration and tests/conftest.py's collection hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from tests.conftest import NODE_TIER_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
    import time

    import pytest


    def test_hangs() -> None:
        time.sleep(60)


    def test_is_quick() -> None:
        assert True


    @pytest.mark.node
    def test_of_the_node_tier(request: pytest.FixtureRequest) -> None:
        print("node-tier timeout:", request.node.get_closest_marker("timeout").args[0])
"""


def run_pytest(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_collection_modifyitems\n")
    (tmp_path / "test_hang.py").write_text(textwrap.dedent(TESTS))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), *options, str(tmp_path / "test_hang.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_the_configured_timeout_applies_to_every_test() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "[pytest] timeout" in result.stdout or "--timeout=" in result.stdout
    with (ROOT / "pyproject.toml").open("rb") as fh:
        options = tomllib.load(fh)["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) < NODE_TIER_TIMEOUT


def test_a_hanging_test_fails_on_its_own_and_the_run_goes_on(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-o", "timeout=2")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 2 passed" in out, out
    assert "FAILED test_hang.py::test_hangs - Failed: Timeout (>2.0s) from pytest-timeout" in out, out
    assert f"node-tier timeout: {NODE_TIER_TIMEOUT}" in out, out
