"""MCPProfile on the real API server: applied after the gateway (cluster mode) started, it is
picked up and applied to callers at once, and the gateway writes its status (tools matched,
exposure, subjects, Ready), shown by ``kubectl get`` in the printer columns; a selector naming an
integration that does not exist turns Ready False with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.integration.k8s.conftest import OperatorThread, cluster_gateway, condition, eventually, serve
from tests.integration.k8s.test_gateway_cluster import apply_examples
from tests.integration.k8s.test_operator import ready
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.kube import KubeClient
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


def profile(namespace: str, integrations: list[str]) -> dict[str, Any]:
    """A default profile (the anonymous caller of auth none is named by no profile): the status
    page's listing tools, and every tool of ``integrations``."""
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPProfile",
        "metadata": {"name": "readers", "namespace": namespace},
        "spec": {"default": True, "tools": {"names": ["status__list*"], "integrations": integrations}},
    }


async def test_a_profile_applied_later_is_picked_up_and_gets_its_status_and_printer_columns(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await apply_examples(cluster, kube, namespace, api_key="k")
    status_page = await ready(kube, "MCPIntegration", namespace, "status-page")
    tasks = await ready(kube, "MCPIntegration", namespace, "tasks")
    settings = cluster_gateway(cluster, namespace, direct_tools_limit=1000)
    runner, url = await serve(create_gateway_app(settings))
    try:
        async with Client(f"{url}/mcp") as client:
            everything = {t.name for t in (await client.list_tools()).tools}
        assert len(everything) == status_page["status"]["tools"] + tasks["status"]["tools"]
        listing = {n for n in everything if n.startswith("status__list")}
        assert listing, "the status page has listing tools"
        assert everything - listing, "and others"

        await kube.apply(profile(namespace, []), field_manager="kubectl-test")

        async def narrowed() -> set[str] | None:
            async with Client(f"{url}/mcp") as client:
                names = {t.name for t in (await client.list_tools()).tools}
            return names if names == listing else None

        await eventually(narrowed, what="the profile applied to the caller")

        async def reported(ready_status: str) -> dict[str, Any] | None:
            obj = await kube.get("MCPProfile", namespace, "readers")
            found = condition(obj)
            if obj is None or found.get("status") != ready_status:
                return None
            return obj if obj["status"]["observedGeneration"] == obj["metadata"]["generation"] else None

        obj = await eventually(lambda: reported("True"), what="the profile's status written")
        assert obj["status"]["tools"] == len(listing)
        assert (obj["status"]["exposure"], obj["status"]["subjects"]) == ("Direct", "default")
        assert condition(obj)["reason"] == "ToolsSelected"
        shown = cluster.kubectl("get", "mcpprofiles", "-n", namespace).stdout.splitlines()
        assert shown[0].split() == ["NAME", "READY", "TOOLS", "EXPOSURE", "SUBJECTS", "AGE"]
        assert shown[1].split()[:5] == ["readers", "True", str(len(listing)), "Direct", "default"]

        await kube.apply(profile(namespace, ["tasks", "crm"]), field_manager="kubectl-test")
        obj = await eventually(lambda: reported("False"), what="the unknown integration reported")
        assert condition(obj)["reason"] == "IntegrationNotFound"
        assert "spec.tools.integrations[1]: there is no MCPIntegration 'crm'" in condition(obj)["message"]
        assert obj["status"]["tools"] == len(everything)  # what it does select still applies
        wide = cluster.kubectl("get", "mcpprofile", "readers", "-n", namespace, "-o", "wide").stdout
        assert "IntegrationNotFound" in wide

        await kube.delete("MCPProfile", namespace, "readers")

        async def restored() -> set[str] | None:
            async with Client(f"{url}/mcp") as client:
                names = {t.name for t in (await client.list_tools()).tools}
            return names if names == everything else None

        await eventually(restored, what="the deleted profile no longer applied")
    finally:
        await runner.cleanup()
