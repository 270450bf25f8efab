"""A federated MCP server's tools are discovered by the operator and recorded in the integration's
status, named exactly as a category server federating it names them (so the gateway can index
them while the category runs no pod)."""

from __future__ import annotations

import pytest
import yaml
from mcp import Client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.integration.k8s.conftest import OperatorThread, condition
from tests.integration.k8s.test_operator import category, create, ready
from toolmesh.kube import KubeClient

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
