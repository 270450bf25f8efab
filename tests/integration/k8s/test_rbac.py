"""The operator's RBAC (deploy/operator-rbac.yaml) is sufficient and minimal, on the real API server.

The operator runs with its own ServiceAccount's token. The API server's audit log records every
request it made: none may be forbidden (sufficient), and every permission granted must have been
used (minimal). Server-side apply of an object that does not exist yet is authorized as ``create``
while it is logged as ``patch``, so ``create`` counts as used where ``patch`` created the object.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from tests.integration.k8s.conftest import ROOT, OperatorThread, condition, eventually, serve
from tests.integration.k8s.test_gateway_cluster import apply_examples
from tests.integration.k8s.test_operator import SPEC, category, create, integration, ready
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.operator.settings import OperatorSettings
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s
RBAC = ROOT / "deploy" / "operator-rbac.yaml"
USER = "system:serviceaccount:toolmesh-system:toolmesh-operator"


@pytest.fixture
def operator_kubeconfig(cluster: LocalCluster) -> Path:
    cluster.kubectl("create", "namespace", "toolmesh-system", check=False)
    cluster.kubectl("apply", "--server-side", "-f", str(RBAC))
    token = cluster.kubectl(
        "create", "token", "toolmesh-operator", "-n", "toolmesh-system", "--duration=1h"
    ).stdout.strip()
    return cluster.kubeconfig_for("operator", token=token)


@pytest.fixture
def sa_operator(operator_kubeconfig: Path, namespace: str) -> Iterator[OperatorThread]:
    settings = OperatorSettings(
        namespaces=[namespace],
        resync_seconds=3600,
        category_image="toolmesh:test",
        log_format="console",
        max_configmap_bytes=4096,
    )
    running = OperatorThread(operator_kubeconfig, settings).start()
    try:
        yield running
    finally:
        running.stop()


def granted(path: Path = RBAC) -> set[tuple[str, str, str]]:
    role = next(d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "ClusterRole")
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def audited(log: Path, namespace: str, user: str = USER) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if event.get("user", {}).get("username") == user and ref.get("namespace") in (namespace, None):
            events.append(event)
    return events


def used(events: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    out = set()
    for e in events:
        ref = e.get("objectRef") or {}
        resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        out.add((ref.get("apiGroup", ""), resource, e["verb"]))
        if e["verb"] == "patch" and e.get("responseStatus", {}).get("code") == 201:
            out.add((ref.get("apiGroup", ""), resource, "create"))  # server-side apply created it
    return out


async def test_the_operator_needs_every_permission_it_has_and_no_other(
    kube: KubeClient, sa_operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "notes-token", "namespace": namespace},
        "stringData": {"token": "t"},
    }
    padded = {
        "spec": {"inline": SPEC + "# " + "x" * 2500 + "\n"}
    }  # two of these do not fit in one 4 KiB shard
    await create(
        kube,
        secret,
        category(
            "notes",
            namespace,
            scaleToZero={"enabled": True, "idleAfter": "2s"},
            replicas={"min": 1, "max": 3},
        ),
        integration(
            "a-notes",
            namespace,
            "notes",
            openapi=padded,
            auth={"type": "bearer", "secretRef": {"name": "notes-token"}},
        ),
        integration("b-notes", namespace, "notes", openapi=padded),
        integration(
            "broken", namespace, "notes", openapi={"spec": {"inline": "openapi: 3.0.0\npaths: [broken"}}
        ),
    )
    await ready(kube, "MCPIntegration", namespace, "a-notes")
    await ready(kube, "MCPIntegration", namespace, "b-notes")
    # Two integrations over a 4 KiB limit: two catalog shards; removing one prunes a shard.
    await eventually(
        lambda: kube.get("ConfigMap", namespace, names.catalog_configmap("notes", 1)), what="second shard"
    )
    await kube.delete("MCPIntegration", namespace, "b-notes")
    await eventually(
        lambda: _absent(kube, "ConfigMap", namespace, names.catalog_configmap("notes", 1)),
        what="shard pruned",
    )
    # Wake on demand (HPA created), then idle again (HPA deleted).
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    await kube.apply(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": names.demand_lease("notes"),
                "namespace": namespace,
                "labels": {names.CATEGORY_LABEL: "notes"},
            },
            "spec": {"holderIdentity": "gateway", "renewTime": now},
        },
        field_manager="toolmesh-gateway",
    )
    await eventually(
        lambda: kube.get("HorizontalPodAutoscaler", namespace, names.server("notes")), what="HPA on wake"
    )
    await eventually(
        lambda: _absent(kube, "HorizontalPodAutoscaler", namespace, names.server("notes")),
        what="HPA gone when idle",
    )
    cat = await ready(kube, "MCPCategory", namespace, "notes")
    assert condition(cat)["reason"] == "ScaledToZero"
    await sa_operator.idle()

    events = audited(cluster.audit_log, namespace)
    forbidden = [
        (e["verb"], e["requestURI"]) for e in events if e.get("responseStatus", {}).get("code") == 403
    ]
    assert forbidden == [], "the operator was refused these requests"
    unused = granted() - used(events)
    assert unused == set(), "granted but never needed"
    assert any(
        e["verb"] == "create" and (e.get("objectRef") or {}).get("resource") == "events" for e in events
    )


async def _absent(kube: KubeClient, kind: str, namespace: str, name: str) -> bool:
    return await kube.get(kind, namespace, name) is None


GATEWAY_RBAC = ROOT / "deploy" / "gateway-rbac.yaml"
GATEWAY_USER = "system:serviceaccount:toolmesh-system:toolmesh-gateway"


async def test_the_gateway_needs_every_permission_it_has_and_no_other(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    cluster.kubectl("create", "namespace", "toolmesh-system", check=False)
    cluster.kubectl("apply", "--server-side", "-f", str(GATEWAY_RBAC))
    binding = cluster.kubectl(
        "create",
        "rolebinding",
        "toolmesh-gateway",
        "-n",
        namespace,
        "--clusterrole=toolmesh-gateway",
        "--serviceaccount=toolmesh-system:toolmesh-gateway",
        check=False,
    )
    assert binding.returncode == 0, binding.stderr
    token = cluster.kubectl(
        "create", "token", "toolmesh-gateway", "-n", "toolmesh-system", "--duration=1h"
    ).stdout.strip()
    kubeconfig = cluster.kubeconfig_for("gateway", token=token, namespace=namespace)

    await apply_examples(cluster, kube, namespace, api_key="k")
    await ready(kube, "MCPIntegration", namespace, "tasks")  # its spec is in a ConfigMap the gateway reads
    await ready(kube, "MCPIntegration", namespace, "status-page")
    profile = {
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPProfile",
        "metadata": {"name": "readers", "namespace": namespace},
        "spec": {"subjects": {"groups": ["readers"]}, "tools": {"integrations": ["tasks"]}},
    }  # fmt: skip
    await kube.apply(profile, field_manager="kubectl-test")  # the gateway writes its status

    settings = GatewaySettings(
        auth="none",
        source="cluster",
        kubeconfig=str(kubeconfig),
        lexical_only=True,
        category_start_seconds=0.5,
        demand_renew_seconds=0.01,
        log_format="console",
    )
    runner, url = await serve(create_gateway_app(settings))
    try:
        async with Client(f"{url}/mcp") as client:
            assert "tasks__listProjects" in {t.name for t in (await client.list_tools()).tools}
            for _ in range(2):  # creates, then renews, the demand Lease
                assert (await client.call_tool("status__listComponents", {})).is_error

        async def profile_status() -> dict[str, Any] | None:
            obj = await kube.get("MCPProfile", namespace, "readers")
            return obj if obj is not None and obj.get("status") else None

        await eventually(profile_status, what="the profile's status written")
    finally:
        await runner.cleanup()

    events = audited(cluster.audit_log, namespace, GATEWAY_USER)
    assert [
        (e["verb"], e["requestURI"]) for e in events if e.get("responseStatus", {}).get("code") == 403
    ] == []
    assert granted(GATEWAY_RBAC) - used(events) == set(), "granted but never needed"
    assert {
        (e["verb"], (e.get("objectRef") or {}).get("resource"))
        for e in events
        if e["verb"] in ("patch", "create")
    } == {("patch", "leases"), ("patch", "mcpintegrations"), ("patch", "mcpprofiles")}
    # The Lease; its Indexed condition; the profile's status. Statuses only, never a spec:
    status_writes = [
        e
        for e in events
        if (e.get("objectRef") or {}).get("resource") in ("mcpintegrations", "mcpprofiles")
        and e["verb"] == "patch"
    ]
    assert {e["objectRef"].get("subresource") for e in status_writes} == {"status"}
