"""The Helm chart: linted, rendered for every ci/*-values.yaml scenario, every object valid
(kubernetes-validate strict) and accepted by the real API server (server-side dry run), bad values
rejected by values.schema.json with a message naming them, and RBAC identical to deploy/ (which
test_rbac.py proves sufficient and minimal)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.k8s.conftest import ROOT
from toolmesh.category.metrics import Metrics as CategoryMetrics
from toolmesh.gateway.metrics import GatewayMetrics
from toolmesh.kube import KubeClient
from toolmesh.operator import metrics as operator_metrics
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s
CHART = ROOT / "charts" / "toolmesh"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.37.0"
MONITORING = "monitoring.coreos.com/"


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run(
        ["bash", str(ROOT / "hack" / "helm-binary.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    return built.stdout.strip().splitlines()[-1]


ISSUER = (  # the two values without a default: who issues the tokens, and the URL they are for
    "--set", "gateway.auth.issuer=https://login.example.com", "--set", "gateway.publicUrl=https://mcp.example.com",
)  # fmt: skip


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
        if doc["apiVersion"].startswith(MONITORING):  # Prometheus Operator kinds: no schema here
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
        if doc["apiVersion"].startswith(MONITORING):
            continue
        await kube.apply(doc, field_manager="helm-dry-run", force=False, dry_run=True)


def test_a_bad_value_is_rejected_naming_it(helm: str) -> None:
    no_issuer = render(helm)
    assert no_issuer.returncode != 0  # secure by default: OAuth tokens, and the issuer must be named
    assert "gateway.auth.issuer is required when gateway.auth.mode is jwt" in no_issuer.stderr
    no_url = render(helm, "--set", "gateway.auth.issuer=https://login.example.com")
    assert no_url.returncode != 0  # the resource MCP clients ask tokens for is <publicUrl>/mcp
    assert "gateway.publicUrl is required when gateway.auth.mode is jwt" in no_url.stderr
    bad_url = render(helm, *ISSUER, "--set", "gateway.publicUrl=mcp.example.com")
    assert bad_url.returncode != 0
    assert "/gateway/publicUrl" in bad_url.stderr
    unsigned = render(helm, *ISSUER, "--set", "gateway.auth.delegate.clientId=toolmesh-gateway")
    assert unsigned.returncode != 0  # replicas must sign the gateway's own tokens with one key
    assert "gateway.auth.delegate.signingKeySecret is required" in unsigned.stderr
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
        "mcpprofiles.toolmesh.dev",
    }
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for d in crds)
    none = objects(render(helm, *ISSUER, "--set", "crds.install=false").stdout)
    assert not [d for d in none if d["kind"] == "CustomResourceDefinition"]


# -- monitoring: the ServiceMonitors and PodMonitor, the alerts, the Grafana dashboard ------------

MONITORING_ON = (
    *ISSUER,
    "--set", "serviceMonitor.enabled=true",
    "--set", "prometheusRule.enabled=true",
    "--set", "grafanaDashboard.enabled=true",
)  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: hack/test-deps.sh installs it (Debian's prometheus package)"
    return found


def _monitoring(helm: str, *args: str) -> dict[str, dict[str, Any]]:
    rendered = render(helm, *args)
    assert rendered.returncode == 0, rendered.stderr
    return {
        f"{d['kind']}/{d['metadata']['name']}": d
        for d in objects(rendered.stdout)
        if d["apiVersion"].startswith(MONITORING) or "grafana_dashboard" in d["metadata"].get("labels", {})
    }


def _dashboard(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    configmap = docs["ConfigMap/toolmesh-dashboard"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    parsed: dict[str, Any] = json.loads(configmap["data"]["toolmesh.json"])
    return parsed


def _rule_groups(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["PrometheusRule/toolmesh"]["spec"]
    return spec


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_monitoring_is_off_by_default_and_switched_on_by_its_values(helm: str) -> None:
    assert _monitoring(helm, *ISSUER) == {}
    docs = _monitoring(helm, *MONITORING_ON)
    assert set(docs) == {
        "ServiceMonitor/toolmesh-gateway",
        "ServiceMonitor/toolmesh-operator",
        "PodMonitor/toolmesh-category-servers",
        "PrometheusRule/toolmesh",
        "ConfigMap/toolmesh-dashboard",
    }
    kubernetes_validate.validate(docs["ConfigMap/toolmesh-dashboard"], "1.33", strict=True)
    # Each monitor scrapes a port its target declares.
    rendered = objects(render(helm, *MONITORING_ON).stdout)
    operator_service = next(d for d in rendered if d["metadata"]["name"] == "toolmesh-operator-metrics")
    assert docs["ServiceMonitor/toolmesh-operator"]["spec"]["endpoints"][0]["port"] in {
        p["name"] for p in operator_service["spec"]["ports"]
    }
    assert docs["PodMonitor/toolmesh-category-servers"]["spec"]["podMetricsEndpoints"][0]["port"] == "ops"
    thresholds = _monitoring(
        helm,
        *MONITORING_ON,
        "--set-json",
        "prometheusRule.errorRatio=0.25",
        "--set",
        "prometheusRule.slowWakeSeconds=7",
        "--set",
        "prometheusRule.circuitOpenMinutes=3",
    )
    rules = {r["alert"]: r for g in _rule_groups(thresholds)["groups"] for r in g["rules"]}
    assert rules["ToolmeshIntegrationErrors"]["expr"].rstrip().endswith("> 0.25")
    assert rules["ToolmeshSlowWakes"]["expr"].rstrip().endswith("> 7")
    assert rules["ToolmeshCircuitOpen"]["for"] == "3m"
    assert "for 3 minutes" in rules["ToolmeshCircuitOpen"]["annotations"]["description"]


def test_the_rendered_alerts_pass_promtool_and_fire_on_the_metrics_they_watch(
    helm: str, promtool: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rule_groups(_monitoring(helm, *MONITORING_ON))))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # promtool's rule unit tests: series as the gateway and operator expose them, alerts expected.
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'toolmesh_gateway_category_down{category="pm",pod="g1"}', "values": "1x20"},
                    {"series": 'toolmesh_gateway_category_down{category="code",pod="g1"}', "values": "0x20"},
                    {"series": 'toolmesh_operator_integration_ready{namespace="a",integration="tasks",category="pm",reason="SecretNotFound"}', "values": "0x20"},
                    {"series": 'toolmesh_operator_integration_ready{namespace="a",integration="notes",category="pm",reason="Ready"}', "values": "1x20"},
                    {"series": 'toolmesh_gateway_tool_calls_total{category="pm",integration="tasks",outcome="ok"}', "values": "0+10x30"},
                    {"series": 'toolmesh_gateway_tool_calls_total{category="pm",integration="tasks",outcome="error"}', "values": "0+10x30"},
                    {"series": 'toolmesh_gateway_tool_calls_total{category="pm",integration="notes",outcome="ok"}', "values": "0+10x30"},
                    {"series": 'toolmesh_gateway_category_wakes_total{category="pm",outcome="failed"}', "values": "0 1 1 1"},
                    # tasks: open, a probe (half-open) that fails, open again; notes: open 2 minutes, then closed.
                    {"series": 'toolmesh_gateway_circuit_state{integration="tasks",pod="g1"}', "values": "2 2 2 1 2x16"},
                    {"series": 'toolmesh_gateway_circuit_state{integration="tasks",pod="g2"}', "values": "0x20"},
                    {"series": 'toolmesh_gateway_circuit_state{integration="notes",pod="g1"}', "values": "2 2 0x18"},
                    # g1 cannot reach Redis; g2 did once, long ago.
                    {"series": 'toolmesh_gateway_rate_limit_store_errors_total{pod="g1"}', "values": "0+3x20"},
                    {"series": 'toolmesh_gateway_rate_limit_store_errors_total{pod="g2"}', "values": "5x20"},
                    *(
                        {"series": f'toolmesh_gateway_category_wake_seconds_bucket{{category="{c}",le="{le}"}}', "values": v}
                        for c, slow in (("pm", False), ("code", True))
                        for le, v in (("1", "0+0x60" if slow else "0+1x60"), ("30", "0+0x60" if slow else "0+1x60"), ("60", "0+1x60"), ("+Inf", "0+1x60"))
                    ),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "ToolmeshCategoryDown", "exp_alerts": [
                        {"exp_labels": {"severity": "critical", "category": "pm"}, "exp_annotations": {
                            "summary": "Category pm is down: its tools fail.",
                            "description": "The gateway has seen category pm down for 5 minutes (not Available, or a wake that failed). kubectl describe mcpcategory pm; the gateway's /readyz names the cause.",
                        }},
                    ]},
                    {"eval_time": "3m", "alertname": "ToolmeshCategoryDown", "exp_alerts": []},
                    {"eval_time": "20m", "alertname": "ToolmeshIntegrationNotReady", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "namespace": "a", "integration": "tasks", "category": "pm", "reason": "SecretNotFound"}, "exp_annotations": {
                            "summary": "Integration a/tasks is not Ready (SecretNotFound): its tools are not served.",
                            "description": "The operator reports MCPIntegration tasks not Ready for 15 minutes, reason SecretNotFound. kubectl -n a describe mcpintegration tasks: the Ready condition's message names the field and the fix.",
                        }},
                    ]},
                    {"eval_time": "25m", "alertname": "ToolmeshIntegrationErrors", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "integration": "tasks"}, "exp_annotations": {
                            "summary": "Integration tasks fails 50% of its calls.",
                            "description": "More than 0.1 of the calls to integration tasks failed over 10 minutes. The category server's toolmesh_category_tool_calls_total by outcome says which kind (upstream_error, unavailable, invalid_arguments) and which tool.",
                        }},
                    ]},
                    {"eval_time": "2m", "alertname": "ToolmeshWakesFailing", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "category": "pm"}, "exp_annotations": {
                            "summary": "Category pm did not wake in time.",
                            "description": "Calls to category pm failed because it was not ready within the gateway's wake deadline (TOOLMESH_CATEGORY_START_SECONDS). kubectl get pods -l toolmesh.dev/category=pm.",
                        }},
                    ]},
                    {"eval_time": "12m", "alertname": "ToolmeshCircuitOpen", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "integration": "tasks"}, "exp_annotations": {
                            "summary": "The circuit of integration tasks is open: its calls fail fast.",
                            "description": "A gateway has kept the circuit breaker of integration tasks open (or half-open) for 10 minutes: consecutive outages of its upstream or category server opened it, and no probe since has succeeded. kubectl describe mcpintegration tasks (its Available condition, reason CircuitOpen); the dashboard's \"Upstream errors by kind and tool\" says what fails.",
                        }},
                    ]},
                    {"eval_time": "8m", "alertname": "ToolmeshCircuitOpen", "exp_alerts": []},
                    {"eval_time": "10m", "alertname": "ToolmeshRateLimitStoreErrors", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "pod": "g1"}, "exp_annotations": {
                            "summary": "Gateway g1 cannot count rate limits in Redis.",
                            "description": "For 5 minutes gateway g1 could not reach Redis (or it answered after 0.5 s) to count rate limits: each replica counts alone meanwhile, so a limit lets through up to its value times the replicas. Check Redis (redis.url, TOOLMESH_REDIS_URL); the gateway logs limits.store_unavailable.",
                        }},
                    ]},
                    {"eval_time": "3m", "alertname": "ToolmeshRateLimitStoreErrors", "exp_alerts": []},
                    {"eval_time": "45m", "alertname": "ToolmeshSlowWakes", "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "category": "code"}, "exp_annotations": {
                            "summary": "Category code takes 58.5s to wake (95th percentile).",
                            "description": "Calls that find category code at zero wait this long for a ready pod. Check its pods' scheduling and image pulls, or keep it warm (spec.replicas.min: 1).",
                        }},
                    ]},
                ],
            }
        ],
    }  # fmt: skip
    unit = tmp_path / "rules_test.yaml"
    unit.write_text(yaml.safe_dump(tests))
    tested = subprocess.run(
        [promtool, "test", "rules", str(unit)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _defined_metrics() -> set[str]:
    """Every sample name the gateway, the category server and the operator can expose, from their registries."""
    registries = [GatewayMetrics().registry, CategoryMetrics().registry, operator_metrics.registry(dict)]
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    out = set()
    for registry in registries:
        for family in registry.collect():
            out.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return out


PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    found = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if match.group(2) is None and match.group(1) not in PROMQL_WORDS:
            found.add(match.group(1))
    return found


def test_every_dashboard_and_alert_expression_names_only_metrics_the_code_defines(helm: str) -> None:
    docs = _monitoring(helm, *MONITORING_ON)
    exprs = _dashboard_exprs(_dashboard(docs)) + [
        r["expr"] for g in _rule_groups(docs)["groups"] for r in g["rules"]
    ]
    defined = _defined_metrics()
    assert "toolmesh_operator_integration_ready" in defined  # the custom collectors are read too
    used: set[str] = set()
    for expr in exprs:
        names_in = metric_names(expr)
        assert names_in, f"selects no metric: {expr}"
        assert names_in <= defined, f"{sorted(names_in - defined)} in {expr!r} are defined nowhere"
        used |= names_in
    # The questions of issue #20 each have a panel or an alert on their metric.
    for question in (
        "toolmesh_gateway_tool_calls_total",
        "toolmesh_gateway_tool_call_seconds_bucket",
        "toolmesh_category_tool_call_seconds_bucket",
        "toolmesh_gateway_category_wake_seconds_bucket",
        "toolmesh_gateway_category_wakes_total",
        "toolmesh_gateway_search_seconds_bucket",
        "toolmesh_gateway_search_followups_total",
        "toolmesh_gateway_category_awake",
        "toolmesh_gateway_category_down",
        "toolmesh_operator_integration_ready",
        "toolmesh_gateway_circuit_state",
        "toolmesh_gateway_circuit_transitions_total",
        "toolmesh_gateway_rate_limited_total",
        "toolmesh_gateway_rate_limit_store_errors_total",
    ):
        assert question in used, question


def test_the_metric_name_reader_sees_through_functions_labels_and_keywords() -> None:
    expr = 'sum by (le, category) (rate(a_bucket{x="y{z}"}[5m])) / on (c) group_left (d) b_total or vector(0)'
    assert metric_names(expr) == {"a_bucket", "b_total"}


def test_promtool_parses_every_dashboard_expression(helm: str, promtool: str, tmp_path: Path) -> None:
    """Each panel query as a recording rule (Grafana's variables given values), checked by promtool."""
    exprs = _dashboard_exprs(_dashboard(_monitoring(helm, *MONITORING_ON)))
    assert exprs
    grafana = {"$__rate_interval": "5m", "$category": ".*", "$integration": ".*"}
    rules = []
    for i, expr in enumerate(exprs):
        for variable, value in grafana.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"toolmesh:dashboard_panel_{i}", "expr": expr})
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in checked.stdout
