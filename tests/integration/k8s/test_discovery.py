"""A federated MCP server's tools are discovered by the operator and recorded in the integration's
status, named exactly as a category server federating it names them (so the gateway can index
them while the category runs no pod)."""

from __future__ import annotations

import aiohttp
import pytest
import yaml
from mcp import Client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.remote_mcp import serve_remote
from tests.integration.k8s.conftest import OperatorThread, condition, eventually
from tests.integration.k8s.test_operator import category, create, ready
from toolmesh.gateway.cluster import ClusterSource
from toolmesh.kube import KubeClient, load_connection
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


async def test_federated_tools_are_recorded_under_the_names_a_category_server_serves(
    kube: KubeClient, operator: OperatorThread, namespace: str, start_category: StartCategory
) -> None:
    remote = (await start_category({
        "tasks.yaml": """
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {name: tasks}
            spec:
              category: pm
              openapi:
                spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}
                baseUrl: http://127.0.0.1:9/v1
        """,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })).mcp_url  # fmt: skip
    federated = {
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
        "metadata": {"name": "remote-tasks", "namespace": namespace},
        "spec": {"category": "pm", "toolPrefix": "remote", "mcp": {"url": remote}},
    }  # fmt: skip
    await create(kube, category("pm", namespace), federated)
    obj = await ready(kube, "MCPIntegration", namespace, "remote-tasks")
    assert condition(obj, "SpecValid")["reason"] == "ToolsDiscovered"
    recorded = {t["name"] for t in obj["status"]["discoveredTools"]}
    assert obj["status"]["tools"] == len(recorded) == 8

    # A category server federating the same remote serves exactly these names.
    local = await start_category({"remote.yaml": yaml.safe_dump(federated)})
    async with Client(local.mcp_url) as client:
        served = {t.name for t in (await client.list_tools()).tools}
    assert served == recorded


async def test_federated_prompts_and_resources_are_recorded_and_listed_by_the_gateway_at_zero(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    async with serve_remote() as (url, _):
        federated = {
            "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
            "metadata": {"name": "calculator", "namespace": namespace},
            "spec": {"category": "ai", "toolPrefix": "calc", "mcp": {"url": url}, "access": {"groups": ["finance"]}},
        }  # fmt: skip
        await create(kube, category("ai", namespace), federated)
        obj = await ready(kube, "MCPIntegration", namespace, "calculator")
    status = obj["status"]
    assert status["discoveredPrompts"] == [
        {
            "name": "calc__explain",
            "description": "Asks for an explanation of an arithmetic operation.",
            "arguments": [{"name": "operation", "description": "", "required": True}],
        }
    ]
    assert [(r["uri"], r["name"], r.get("mimeType")) for r in status["discoveredResources"]] == [
        ("toolmesh://calculator/calc://constants/pi", "pi", "text/plain")
    ]
    assert [t["uriTemplate"] for t in status["discoveredResourceTemplates"]] == [
        "toolmesh://calculator/calc://square/{n}"
    ]

    # The gateway lists them from the status: the category runs no pod.
    source = ClusterSource(namespace, load_connection(str(cluster.kubeconfig)))
    async with aiohttp.ClientSession() as http:
        await source.start(kube, http)
        try:
            offered = source.catalog.offered
            assert set(offered.prompts) == {"calc__explain"}
            assert offered.prompts["calc__explain"].category == "ai"
            assert set(offered.resources) == {"toolmesh://calculator/calc://constants/pi"}
            assert set(offered.templates) == {"toolmesh://calculator/calc://square/{n}"}
            assert offered.readable == {"calculator": "ai"}
            assert not source.catalog.allows("calculator", frozenset({"engineering"}), frozenset())
            assert source.catalog.allows("calculator", frozenset({"finance"}), frozenset())
            await kube.delete("MCPIntegration", namespace, "calculator")

            async def gone() -> bool | None:
                return True if not source.catalog.offered.prompts else None

            await eventually(gone, what="the gateway drops a deleted integration's prompts")
            assert offered.resources == offered.templates == {}
            assert offered.readable == {}
        finally:
            await source.close()
