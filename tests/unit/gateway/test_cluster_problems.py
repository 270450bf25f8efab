"""Cluster mode's problems, as /readyz states them: integrations from their status and from compiling
here, categories from their Available condition and from a wake that timed out. The same against
the real API server: tests/integration/k8s/test_gateway_cluster.py."""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp

from toolmesh.gateway.cluster import ClusterCategories, ClusterSource
from toolmesh.kube import Connection, KubeClient

NAMESPACE = "tools"
SPEC = json.dumps({
    "openapi": "3.0.3",
    "info": {"title": "Notes", "version": "1"},
    "paths": {"/notes": {"get": {"operationId": "listNotes", "responses": {"200": {"description": "ok"}}}}},
})  # fmt: skip


def condition(type_: str, status: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_, "status": status, "reason": "Observed", "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }  # fmt: skip


def integration(name: str, spec: str, ready: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1},
        "spec": {"category": "notes", "openapi": {"spec": {"inline": spec}}},
        "status": {"observedGeneration": 1, "conditions": [ready]},
    }


def category(name: str, available: dict[str, Any], ready_replicas: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPCategory",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1},
        "spec": {"description": f"The {name} tools."},
        "status": {"conditions": [available], "readyReplicas": ready_replicas},
    }


def source() -> ClusterSource:
    found = ClusterSource(NAMESPACE, cast(Connection, None))
    found.kube, found.http = cast(KubeClient, None), cast(aiohttp.ClientSession, None)  # inline specs only
    found.categories = ClusterCategories(
        found, NAMESPACE, call_timeout=1, wake_timeout=1, renew_seconds=30, holder="test"
    )
    return found


async def test_an_integration_the_operator_reports_not_ready_is_a_problem_until_it_is_served() -> None:
    cluster = source()
    message = "spec.auth.secretRef: Secret 'notes' was not found in namespace 'tools'; create it"
    await cluster._apply(
        "MCPIntegration", "ADDED", integration("notes", SPEC, condition("Ready", "False", message))
    )
    assert cluster.catalog.problems == {"notes": message}
    assert cluster.catalog.tools == {}
    assert cluster.catalog.integration_categories == {"notes": "notes"}  # the console places it, tools or not
    await cluster._apply("MCPIntegration", "MODIFIED", integration("notes", SPEC, condition("Ready", "True")))
    assert cluster.catalog.problems == {}
    assert list(cluster.catalog.tools) == ["notes__listNotes"]
    await cluster._apply(
        "MCPIntegration", "MODIFIED", integration("notes", SPEC, condition("Ready", "False", "x"))
    )
    await cluster._apply("MCPIntegration", "DELETED", {"metadata": {"name": "notes"}})
    assert cluster.catalog.problems == {}
    assert cluster.catalog.integration_categories == {}
    await cluster.close()


async def test_a_spec_that_does_not_compile_here_is_a_problem_though_the_operator_says_ready() -> None:
    cluster = source()
    await cluster._apply(
        "MCPIntegration", "ADDED", integration("notes", "swagger: nonsense", condition("Ready", "True"))
    )
    assert cluster.catalog.problems == {
        "notes": "notes: unsupported Swagger version 'nonsense' (supported: 2.0)"
    }
    assert cluster.catalog.tools == {}
    await cluster.close()


async def test_a_category_not_available_or_that_did_not_wake_is_down() -> None:
    cluster = source()
    rolling = "Deployment mcp-notes has 0/1 pods available; see its pods' events."
    await cluster._apply("MCPCategory", "ADDED", category("notes", condition("Available", "False", rolling)))
    await cluster._apply("MCPCategory", "ADDED", category("pm", condition("Available", "True")))
    assert cluster.categories.problems() == {"notes": rolling}
    cluster.categories._failed["pm"] = "it did not wake"
    assert cluster.categories.problems() == {"notes": rolling, "pm": "it did not wake"}
    await cluster._apply(
        "MCPCategory", "MODIFIED", category("pm", condition("Available", "True"), ready_replicas=1)
    )
    assert cluster.categories.problems() == {"notes": rolling}, "serving since: the failed wake is past"
    assert cluster.categories.replicas() == {"notes": 0, "pm": 1}  # ready pods, as the operator reports them
