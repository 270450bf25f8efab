"""The Helm chart: linted, rendered for every ci/*-values.yaml scenario, every object valid
(kubernetes-validate strict) and accepted by the real API server (server-side dry run), bad values
rejected by values.schema.json with a message naming them, and RBAC identical to deploy/ (which
test_rbac.py proves sufficient and minimal)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.k8s.conftest import ROOT
from toolmesh.kube import KubeClient
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s
CHART = ROOT / "charts" / "toolmesh"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.37.0"


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run(
        ["bash", str(ROOT / "hack" / "helm-binary.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    return built.stdout.strip().splitlines()[-1]


ISSUER = ("--set", "gateway.auth.issuer=https://login.example.com")  # the one value without a default


def render(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, "template", "toolmesh", str(CHART), "--namespace", "toolmesh", "--kube-version", KUBE_VERSION, *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_each_scenario_lints_and_renders_valid_objects(helm: str, scenario: Path) -> None:
    lint = subprocess.run(
        [helm, "lint", str(CHART), "--strict", "-f", str(scenario)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = render(helm, "-f", str(scenario))
    assert rendered.returncode == 0, rendered.stderr
    docs = objects(rendered.stdout)
    assert docs
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a Prometheus Operator CRD: no schema here
            continue
        kubernetes_validate.validate(doc, "1.33", strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
async def test_the_api_server_accepts_every_rendered_object(
    helm: str, scenario: Path, cluster: LocalCluster, kube: KubeClient
) -> None:
    docs = objects(render(helm, "-f", str(scenario)).stdout)
    for namespace in {
        "toolmesh",
        *(d["metadata"].get("namespace") for d in docs if d["metadata"].get("namespace")),
    }:
        cluster.kubectl("create", "namespace", namespace, check=False)
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue
        await kube.apply(doc, field_manager="helm-dry-run", force=False, dry_run=True)


def test_a_bad_value_is_rejected_naming_it(helm: str) -> None:
    no_issuer = render(helm)
    assert no_issuer.returncode != 0  # secure by default: OAuth tokens, and the issuer must be named
    assert "gateway.auth.issuer is required when gateway.auth.mode is jwt" in no_issuer.stderr
    typo = render(helm, *ISSUER, "--set", "gateway.replicaz=3")
    assert typo.returncode != 0
    assert "additional properties 'replicaz' not allowed" in typo.stderr
    negative = render(helm, *ISSUER, "--set", "gateway.replicas=-1")
    assert negative.returncode != 0
    assert "/gateway/replicas" in negative.stderr


def _rules(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return next(d for d in docs if d["kind"] == kind)["rules"]


def test_the_chart_grants_exactly_the_rbac_the_tests_prove_minimal(helm: str) -> None:
    docs = objects(render(helm, *ISSUER).stdout)
    operator = list(yaml.safe_load_all((ROOT / "deploy" / "operator-rbac.yaml").read_text()))
    gateway = list(yaml.safe_load_all((ROOT / "deploy" / "gateway-rbac.yaml").read_text()))
    assert _rules(docs, "ClusterRole") == _rules(operator, "ClusterRole")
    assert _rules(docs, "Role") == _rules(gateway, "ClusterRole")


def test_without_crds_install_no_crd_is_rendered_and_keep_is_the_default(helm: str) -> None:
    crds = [d for d in objects(render(helm, *ISSUER).stdout) if d["kind"] == "CustomResourceDefinition"]
    assert {d["metadata"]["name"] for d in crds} == {
        "mcpcategories.toolmesh.dev",
        "mcpintegrations.toolmesh.dev",
    }
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for d in crds)
    none = objects(render(helm, *ISSUER, "--set", "crds.install=false").stdout)
    assert not [d for d in none if d["kind"] == "CustomResourceDefinition"]
