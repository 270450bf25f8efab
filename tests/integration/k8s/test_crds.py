"""The CRDs on the real API server: every example is accepted, every invalid fixture is rejected
with the message its ``# expect:`` line states (the same fixtures the offline CRD emulator checks,
tests/conventions), and the printer columns show."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.k8s.conftest import ROOT
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s
INVALID = sorted((ROOT / "tests" / "conventions" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_the_api_server_rejects_each_invalid_fixture_naming_the_field(
    path: Path, cluster: LocalCluster, namespace: str
) -> None:
    text = path.read_text()
    expected = next(
        line.split("# expect:", 1)[1].strip() for line in text.splitlines() if line.startswith("# expect:")
    )
    result = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(path), check=False)
    assert result.returncode != 0, f"{path.name} was accepted"
    assert expected in result.stderr, result.stderr


def test_the_examples_are_accepted_by_the_api_server(cluster: LocalCluster, namespace: str) -> None:
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-k", str(ROOT / "examples" / "catalog"), check=False
    )
    assert result.returncode == 0, result.stderr
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        if "kustomization" in path.name:
            continue
        docs = [
            d
            for d in yaml.safe_load_all(path.read_text())
            if d and str(d.get("apiVersion", "")).startswith("toolmesh.dev/")
        ]
        if not docs:
            continue
        result = cluster.kubectl(
            "apply",
            "--dry-run=server",
            "-n",
            namespace,
            "-f",
            "-",
            input=yaml.safe_dump_all(docs),
            check=False,
        )
        assert result.returncode == 0, f"{path}: {result.stderr}"
