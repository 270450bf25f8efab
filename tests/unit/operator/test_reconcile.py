"""The integration reconcile's one path on a spec that does not validate (toolmesh.operator.reconcile):
the object still gets a status, SpecValid=False naming the field, and a Warning Event. The real
KubeClient runs, with its HTTP layer replaced by a table."""

from __future__ import annotations

import copy
import json
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp

from toolmesh.kube import ApiError, Connection, KubeClient
from toolmesh.operator.reconcile import Operator
from toolmesh.operator.settings import OperatorSettings

BASE = "/apis/toolmesh.dev/v1alpha1/namespaces/ns"


class TableClient(KubeClient):
    """Answers from ``objects`` (path -> JSON); records every write."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        super().__init__(Connection("https://127.0.0.1:1", ssl.create_default_context()))
        self.objects = objects
        self.sent: list[tuple[str, str, Any]] = []

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "",
        kind: str = "",
    ) -> dict[str, Any]:
        if method == "GET":
            if path not in self.objects:
                raise ApiError(404, "NotFound", path)
            return copy.deepcopy(self.objects[path])
        self.sent.append((method, path, json.loads(json.dumps(body))))
        if path.endswith("/status"):
            obj = self.objects[path.removesuffix("/status")]
            obj["status"] = body["status"]
            return copy.deepcopy(obj)
        return {}


async def test_an_invalid_spec_gets_spec_valid_false_naming_the_field_and_a_warning() -> None:
    broken = {
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration",
        "metadata": {"name": "broken", "namespace": "ns", "uid": "u1", "generation": 3, "resourceVersion": "9"},
        "spec": {"category": "pm", "openapi": {"spec": {"url": "ftp://nowhere"}}},
    }  # fmt: skip
    client = TableClient({f"{BASE}/mcpintegrations/broken": broken})
    async with aiohttp.ClientSession() as http:
        operator = Operator(client, http, OperatorSettings())
        try:
            await operator.reconcile_integration(("ns", "broken"))
            assert operator.category_queue._dirty == {("ns", "pm")}  # its category recounts it
            writes = list(client.sent)
            await operator.reconcile_integration(("ns", "broken"))  # nothing changed: nothing written
            assert client.sent == writes
        finally:
            await operator.close()
            await client.close()
    (method, path, body), (_, event_path, event) = writes
    assert (method, path) == ("PATCH", f"{BASE}/mcpintegrations/broken/status")
    assert body["metadata"] == {"name": "broken", "namespace": "ns"}
    assert set(body) == {"apiVersion", "kind", "metadata", "status"}  # never the spec
    status = body["status"]
    assert status["observedGeneration"] == 3
    conds = {c["type"]: c for c in status["conditions"]}
    assert (conds["SpecValid"]["status"], conds["SpecValid"]["reason"]) == ("False", "SpecInvalid")
    assert conds["SpecValid"]["message"].startswith("spec.openapi.spec.url: String should match pattern")
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "SpecInvalid")
    assert event_path == "/api/v1/namespaces/ns/events"
    assert event["involvedObject"] == {
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration", "name": "broken",
        "namespace": "ns", "uid": "u1", "resourceVersion": "9",
    }  # fmt: skip
    assert (event["type"], event["reason"]) == ("Warning", "SpecInvalid")
