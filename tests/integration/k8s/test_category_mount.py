"""What the operator mounts is what a category server serves.

The category's pod never runs here (no kubelet), so the test does the kubelet's part: it lays the
Deployment's projected ``catalog`` volume out on disk from the live ConfigMaps, exactly as the
volume plugin would, and starts a real category server on it. Every integration's tools are served,
including a document too large for its object's ConfigMap entry (moved there gzip-compressed) and
one from the admin's own gzip-compressed ConfigMap (mounted, never copied).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mcp import Client

from tests.integration.k8s.conftest import OperatorThread, eventually
from tests.integration.k8s.test_operator import SPEC, category, create, integration, ready
from toolmesh.category.app import create_app
from toolmesh.category.settings import CategorySettings
from toolmesh.kube import KubeClient
from toolmesh.operator import names
from toolmesh.operator.settings import OperatorSettings

pytestmark = pytest.mark.k8s


@pytest.fixture
def operator_settings(namespace: str) -> OperatorSettings:
    return OperatorSettings(
        namespaces=[namespace],
        resync_seconds=3600,
        category_image="toolmesh:test",
        log_format="console",
        max_configmap_bytes=4096,
    )


async def lay_out_volume(kube: KubeClient, namespace: str, deployment: dict[str, Any], root: Path) -> None:
    """The kubelet's projected-volume plugin, for ConfigMap sources with items."""
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "catalog")
    for source in volume["projected"]["sources"]:
        ref = source["configMap"]
        configmap = await kube.get("ConfigMap", namespace, ref["name"])
        if configmap is None:
            assert ref.get("optional"), f"ConfigMap {ref['name']} is missing and not optional"
            continue
        keys = [*(configmap.get("data") or {}), *(configmap.get("binaryData") or {})]
        for item in ref.get("items") or [{"key": key, "path": key} for key in keys]:
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if item["key"] in (configmap.get("data") or {}):
                target.write_text(configmap["data"][item["key"]])
            else:
                target.write_bytes(base64.b64decode(configmap["binaryData"][item["key"]]))


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(folder: Path, category_name: str) -> str:
        runner = web.AppRunner(
            create_app(CategorySettings(catalog=folder, category=category_name, log_format="console"))
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_category_server_serves_exactly_what_the_operator_mounts(
    kube: KubeClient, operator: OperatorThread, namespace: str, tmp_path: Path, serve: Any
) -> None:
    large = SPEC + "# " + "x" * 6000 + "\n"  # larger than the 4 KiB ConfigMap limit set for this test
    packed = gzip.compress(SPEC.replace("Notes", "Archive").encode())
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "archive-spec", "namespace": namespace},
            "binaryData": {"openapi.json.gz": base64.b64encode(packed).decode()},
        },
        field_manager="kubectl-test",
    )
    await create(
        kube,
        category("notes", namespace),
        integration("big", namespace, "notes", openapi={"spec": {"inline": large}}),
        integration(
            "archive",
            namespace,
            "notes",
            openapi={
                "spec": {"configMapKeyRef": {"name": "archive-spec", "key": "openapi.json.gz"}},
                "readOnly": True,
            },
        ),
        integration("small", namespace, "notes"),
    )
    big = await ready(kube, "MCPIntegration", namespace, "big")
    assert "gzip-compressed into the category's catalog ConfigMap" in big["status"]["source"]
    archive = await ready(kube, "MCPIntegration", namespace, "archive")
    assert archive["status"]["source"].startswith("ConfigMap archive-spec/openapi.json.gz (mounted, gzip,")
    await ready(kube, "MCPIntegration", namespace, "small")

    async def deployed() -> dict[str, Any] | None:
        await operator.idle()
        live = await kube.get("MCPCategory", namespace, "notes")
        deployment = await kube.get("Deployment", namespace, names.server("notes"))
        return deployment if (live or {}).get("status", {}).get("integrations") == 3 else None

    deployment = await eventually(deployed, what="the category serves three integrations")
    await lay_out_volume(kube, namespace, deployment, tmp_path)
    url = await serve(tmp_path, "notes")
    async with Client(url) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {
        "big__listNotes", "big__createNote", "big__deleteNote",
        "small__listNotes", "small__createNote", "small__deleteNote",
        "archive__listArchive",
    }  # fmt: skip
    # Each mounted object carries the digest the operator compiled; the server compiles to the same.
    recorded = {
        name: (await ready(kube, "MCPIntegration", namespace, name))["status"]["specDigest"]
        for name in ("big", "archive", "small")
    }
    mounted = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*/*.json")}
    assert {name: mounted[name]["status"]["specDigest"] for name in recorded} == recorded
    async with aiohttp.ClientSession() as http, http.get(url.removesuffix("/mcp") + "/readyz") as response:
        body = await response.json()
    assert response.status == 200
    assert body["problems"] == {}
    assert {i["name"]: i["digest"] for i in body["integrations"]} == recorded
