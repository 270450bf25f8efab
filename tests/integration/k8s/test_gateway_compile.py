"""Cluster mode's compile workers on the real API server (compile_pool.py, docs/design/0005): a large
document compiled by a worker process to the operator's digest, and the integrations listed at
start compiled together but applied in list order."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from mcp import Client

from tests.integration.k8s.conftest import OperatorThread, cluster_gateway, condition, eventually, serve
from tests.integration.k8s.test_gateway_cluster import readyz
from tests.integration.k8s.test_operator import category, create, integration, ready
from toolmesh.gateway import compile_pool
from toolmesh.gateway.app import SERVICE
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.kube import KubeClient
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


def many_operations_spec(operations: int) -> str:
    """A real-sized document: ``operations`` described operations, each with a body of ten fields."""
    fields = {f"field{i}": {"type": "string", "description": f"Field {i} of the record, as the API stores it."} for i in range(10)}  # fmt: skip
    paths = {
        f"/records{n}": {"post": {
            "operationId": f"createRecord{n}", "summary": f"Create a record of kind {n}",
            "description": "Creates the record and returns it with its identifier. " * 4,
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": fields}}}},
            "responses": {"201": {"description": "The record, created."}},
        }}
        for n in range(operations)
    }  # fmt: skip
    return json.dumps({"openapi": "3.0.3", "info": {"title": "Records", "version": "1"}, "paths": paths})


def compile_workers() -> list[int]:
    """This process's children that are gateway compile workers."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if b"toolmesh.gateway.compile_pool" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
    return found


async def test_a_large_document_is_compiled_by_a_worker_process_to_the_operators_digest(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    """Cluster mode compiles a large document in a worker process (its parse tree never enters the
    gateway's heap): the same tools and the same digest as the operator's own compile."""
    document = many_operations_spec(300)
    assert len(document) >= compile_pool.WORKER_ABOVE
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "records-spec", "namespace": namespace},
                  "data": {"openapi.json": document}}  # fmt: skip
    source = {"spec": {"configMapKeyRef": {"name": "records-spec", "key": "openapi.json"}}}
    await create(
        kube,
        config_map,
        category("data", namespace),
        integration("records", namespace, "data", openapi=source),
    )
    live = await ready(kube, "MCPIntegration", namespace, "records")
    assert live["status"]["tools"] == 300
    settings = cluster_gateway(cluster, namespace)
    assert not compile_workers()
    runner, url = await serve(create_gateway_app(settings))
    try:
        obj = await eventually(
            lambda: _indexed(kube, namespace, "records"), what="Indexed=True written by the gateway"
        )
        assert condition(obj, "Indexed")["message"] == "300 tools are in the gateway's search index."
        assert compile_workers()  # the worker that compiled it, idle until IDLE_SECONDS pass
        async with aiohttp.ClientSession() as http:
            status, body = await readyz(http, url)
        assert (status, body["tools"]) == (200, 300)
        assert "records" not in body["problems"]["integrations"]  # no digest mismatch
        async with Client(f"{url}/mcp") as client:
            described = await client.call_tool("describe_tools", {"names": ["records__createRecord7"]})
        text = described.content[0].text  # type: ignore[union-attr]
        assert "Field 9 of the record" in text  # the schema, packed in the worker, read back whole
    finally:
        await runner.cleanup()
    assert not compile_workers()  # closed with the gateway


async def _indexed(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    obj = await kube.get("MCPIntegration", namespace, name)
    return obj if condition(obj, "Indexed").get("status") == "True" else None


async def test_integrations_listed_at_start_are_compiled_together_and_applied_in_list_order(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    """At start the gateway reads and compiles the listed documents a few at a time (two workers
    here); the first integration listed still keeps a tool name two claim, though the other's
    smaller document compiles sooner."""
    for name, operations in (("records-a", 600), ("records-b", 300)):
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                      "data": {"openapi.json": many_operations_spec(operations)}}  # fmt: skip
        source = {"spec": {"configMapKeyRef": {"name": name, "key": "openapi.json"}}}
        category_name = "data" if name == "records-a" else "pm"
        await create(kube, config_map, category(category_name, namespace),
                     integration(name, namespace, category_name, openapi=source, toolPrefix="records"))  # fmt: skip
    for name in ("records-a", "records-b"):
        await ready(kube, "MCPIntegration", namespace, name)
    settings = cluster_gateway(cluster, namespace)
    app = create_gateway_app(settings)
    runner, url = await serve(app)
    try:
        first = await eventually(lambda: _indexed(kube, namespace, "records-a"), what="records-a Indexed")
        assert condition(first, "Indexed")["message"] == "600 tools are in the gateway's search index."
        async with aiohttp.ClientSession() as http:
            status, body = await readyz(http, url)
        assert (status, body["tools"]) == (200, 600)
        tools = app[SERVICE].catalog.tools
        assert {tools[f"records__createRecord{n}"].integration for n in range(300)} == {"records-a"}
    finally:
        await runner.cleanup()
