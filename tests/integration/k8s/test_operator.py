"""The operator against a real API server: children, status, drift, resync, garbage collection."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import kubernetes_validate
import pytest

from tests.integration.k8s.conftest import OperatorThread, condition, eventually
from toolmesh.api import MCPCategory, MCPCategoryStatus
from toolmesh.kube import ApiError, KubeClient
from toolmesh.operator import names
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s

SPEC = """openapi: 3.0.3
info: {title: Notes, version: "1"}
servers: [{url: "https://notes.example.com"}]
paths:
  /notes:
    get: {operationId: listNotes, summary: List notes, responses: {"200": {description: OK}}}
    post: {operationId: createNote, summary: Create a note, responses: {"201": {description: Created}}}
  /notes/{id}:
    delete:
      operationId: deleteNote
      summary: Delete a note
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"204": {description: Deleted}}
"""


def category(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPCategory",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"description": f"The {name} tools.", **spec},
    }


def integration(name: str, namespace: str, category_name: str, **spec: Any) -> dict[str, Any]:
    source = spec.pop("openapi", {"spec": {"inline": SPEC}})
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"category": category_name, "openapi": source, **spec},
    }


async def create(kube: KubeClient, *objects: dict[str, Any]) -> None:
    for obj in objects:
        await kube.apply(obj, field_manager="kubectl-test")


async def ready(kube: KubeClient, kind: str, namespace: str, name: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        obj = await kube.get(kind, namespace, name)
        ok = (
            condition(obj).get("status") == "True"
            and (obj or {})["status"].get("observedGeneration") == (obj or {})["metadata"]["generation"]
        )
        return obj if ok else None

    return await eventually(check, what=f"{kind} {name} Ready")


async def test_a_category_gets_its_children_each_valid_and_owned(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await create(
        kube,
        category("notes", namespace, replicas={"min": 1, "max": 4}),
        integration("notes-api", namespace, "notes"),
    )
    obj = await ready(kube, "MCPIntegration", namespace, "notes-api")
    assert obj["status"]["tools"] == 3
    assert obj["status"]["specDigest"].startswith("sha256:")
    assert obj["status"]["source"].startswith("inline")

    server = names.server("notes")

    async def serving() -> dict[str, Any] | None:  # the category's reconcile after the integration's
        deployment = await kube.get("Deployment", namespace, server)
        sources = (
            (deployment or {}).get("spec", {}).get("template", {}).get("spec", {}).get("volumes", [{}])[0]
        )
        items = ((sources.get("projected") or {}).get("sources") or [{}])[0].get("configMap", {}).get("items")
        return deployment if items else None

    await eventually(serving, what="the Deployment mounts the integration")
    children: dict[str, dict[str, Any]] = {}
    for kind in ("ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        children[kind] = await eventually(lambda kind=kind: kube.get(kind, namespace, server), what=kind)
    children["ConfigMap"] = await eventually(
        lambda: kube.get("ConfigMap", namespace, names.catalog_configmap("notes", 0))
    )
    cat = await kube.get("MCPCategory", namespace, "notes")
    assert cat is not None
    for kind, child in children.items():
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "MCPCategory",
            "notes",
            cat["metadata"]["uid"],
            True,
        ), kind
        assert child["metadata"]["labels"][names.MANAGED_BY] == names.MANAGED_BY_VALUE
        stripped = {k: v for k, v in child.items() if k != "status"}
        stripped["metadata"] = {
            k: child["metadata"][k]
            for k in ("name", "namespace", "labels", "annotations")
            if k in child["metadata"]
        }
        kubernetes_validate.validate(stripped, "1.33", strict=True)

    deployment = children["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "toolmesh:test"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    assert {"path": f"{names.catalog_configmap('notes', 0)}/notes-api.json", "key": "notes-api.json"} in pod[
        "volumes"
    ][0]["projected"]["sources"][0]["configMap"]["items"]
    hpa = children["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)

    # A server-side dry run of what the operator built changes nothing: the objects are what it wants.
    for kind, child in children.items():  # a server-side dry run of exactly what the operator built is clean
        manifest = {
            "apiVersion": child["apiVersion"],
            "kind": kind,
            "metadata": {"name": child["metadata"]["name"], "namespace": namespace},
            "spec": child.get("spec"),
        }
        if kind in ("ConfigMap", "ServiceAccount"):
            continue
        await kube.apply(manifest, field_manager="dry-run-check", force=False, dry_run=True)

    async def counted() -> dict[str, Any] | None:
        obj = await kube.get("MCPCategory", namespace, "notes")
        return obj if (obj or {}).get("status", {}).get("integrations") == 1 else None

    cat = await eventually(counted, what="the category counts its integration")
    assert cat["status"]["endpoint"] == f"http://{server}.{namespace}.svc:80/mcp"
    assert cat["status"]["integrations"] == 1
    assert cat["status"]["tools"] == 3


async def test_kubectl_wait_for_ready_works_on_an_integration(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    waited = await cluster.akubectl(
        "wait", "-n", namespace, "--for=condition=Ready", "mcpi/notes-api", "--timeout=30s"
    )
    assert waited.returncode == 0, waited.stderr
    columns = (
        await cluster.akubectl("get", "mcpi", "-n", namespace, "notes-api", "--no-headers")
    ).stdout.split()
    assert columns[:4] == ["notes-api", "notes", "True", "3"]


async def test_an_invalid_spec_sets_a_condition_and_leaves_the_rest_served(
    kube: KubeClient, operator: OperatorThread, namespace: str
) -> None:
    broken = integration(
        "broken", namespace, "notes", openapi={"spec": {"inline": "openapi: 3.0.0\npaths: [not, a, map"}}
    )
    missing_category = integration("orphan", namespace, "nowhere")
    missing_configmap = integration(
        "unmounted",
        namespace,
        "notes",
        openapi={"spec": {"configMapKeyRef": {"name": "absent", "key": "spec.yaml"}}},
    )
    missing_secret = integration(
        "locked", namespace, "notes", auth={"type": "bearer", "secretRef": {"name": "no-such-secret"}}
    )
    await create(
        kube,
        category("notes", namespace),
        integration("notes-api", namespace, "notes"),
        broken,
        missing_category,
        missing_configmap,
        missing_secret,
    )

    async def reason(name: str) -> tuple[str, str] | None:
        obj = await kube.get("MCPIntegration", namespace, name)
        ready_condition = condition(obj)
        return (
            (ready_condition["reason"], ready_condition["message"])
            if ready_condition.get("status") == "False"
            else None
        )

    assert (await eventually(lambda: reason("broken")))[0] == "SpecInvalid"
    why, message = await eventually(lambda: reason("orphan"))
    assert why == "CategoryNotFound"
    assert message.startswith("spec.category: MCPCategory 'nowhere' was not found")
    why, message = await eventually(lambda: reason("unmounted"))
    assert (why, message.split(":")[0]) == ("SpecUnavailable", "spec.openapi.spec.configMapKeyRef")
    why, message = await eventually(lambda: reason("locked"))
    assert (why, message.split(":")[0]) == ("SecretNotFound", "spec.auth.secretRef")
    await ready(kube, "MCPIntegration", namespace, "notes-api")

    async def served() -> dict[str, Any] | None:
        cm = await kube.get("ConfigMap", namespace, names.catalog_configmap("notes", 0))
        return cm if cm and set(cm.get("data") or {}) == {"notes-api.json"} else None

    await eventually(served, what="only the valid integration is in the category's catalog")
    # Fixing the reference heals the integration: no restart, no manual step.
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "no-such-secret", "namespace": namespace},
            "stringData": {"token": "t"},
        },
        field_manager="kubectl-test",
    )
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "absent", "namespace": namespace},
            "data": {"spec.yaml": SPEC},
        },
        field_manager="kubectl-test",
    )
    await kube.patch("MCPIntegration", namespace, "locked", {"metadata": {"annotations": {"touch": "1"}}})
    await kube.patch("MCPIntegration", namespace, "unmounted", {"metadata": {"annotations": {"touch": "1"}}})
    await ready(kube, "MCPIntegration", namespace, "locked")
    unmounted = await ready(kube, "MCPIntegration", namespace, "unmounted")
    assert unmounted["status"]["source"].startswith("ConfigMap absent/spec.yaml (mounted")


async def test_drift_is_repaired_and_a_resync_without_change_writes_nothing(
    kube: KubeClient, operator: OperatorThread, namespace: str
) -> None:
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    await ready(kube, "MCPIntegration", namespace, "notes-api")
    server = names.server("notes")
    await eventually(lambda: kube.get("HorizontalPodAutoscaler", namespace, server))
    await operator.idle()

    before = operator.writes
    operator.request("MCPCategory", namespace, "notes")
    operator.request("MCPIntegration", namespace, "notes-api")
    await operator.idle()
    assert operator.writes == before, operator.operator.client.writes

    # A hand edit of a field the operator owns is put back; a deleted child comes back.
    await kube.patch(
        "Deployment",
        namespace,
        server,
        {"spec": {"template": {"spec": {"containers": [{"name": "server", "image": "evil:latest"}]}}}},
    )
    await kube.delete("Service", namespace, server)

    async def repaired() -> bool:
        deployment = await kube.get("Deployment", namespace, server)
        service = await kube.get("Service", namespace, server)
        return bool(
            deployment
            and service
            and deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "toolmesh:test"
        )

    await eventually(repaired, what="drift repaired")


async def test_a_change_rolls_pods_only_when_the_served_content_changes(
    kube: KubeClient, operator: OperatorThread, namespace: str
) -> None:
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    await ready(kube, "MCPIntegration", namespace, "notes-api")
    server = names.server("notes")

    async def digest() -> str | None:
        await operator.idle()
        deployment = await kube.get("Deployment", namespace, server)
        return (
            (deployment or {})
            .get("spec", {})
            .get("template", {})
            .get("metadata", {})
            .get("annotations", {})
            .get(names.CATALOG_DIGEST)
        )

    first = await eventually(digest)
    await kube.patch("MCPIntegration", namespace, "notes-api", {"metadata": {"labels": {"team": "docs"}}})
    await operator.idle()
    assert await digest() == first

    await kube.patch("MCPIntegration", namespace, "notes-api", {"spec": {"openapi": {"readOnly": True}}})
    obj = await eventually(lambda: _with_tools(kube, namespace, "notes-api", 1), what="readOnly applied")
    assert obj["status"]["tools"] == 1
    assert await eventually(lambda: _changed(digest, first)) != first


async def _with_tools(kube: KubeClient, namespace: str, name: str, tools: int) -> dict[str, Any] | None:
    obj = await kube.get("MCPIntegration", namespace, name)
    return obj if (obj or {}).get("status", {}).get("tools") == tools else None


async def _changed(read: Any, old: str) -> str | None:
    new = await read()
    return new if new and new != old else None


async def test_deleting_a_category_collects_its_children(
    kube: KubeClient, operator: OperatorThread, namespace: str
) -> None:
    await create(kube, category("notes", namespace), integration("notes-api", namespace, "notes"))
    server = names.server("notes")
    await eventually(lambda: kube.get("Deployment", namespace, server))
    await kube.delete("MCPCategory", namespace, "notes")

    async def gone() -> bool:
        leftovers = [
            kind
            for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget")
            if await kube.get(kind, namespace, server)
        ]
        return (
            not leftovers
            and await kube.get("ConfigMap", namespace, names.catalog_configmap("notes", 0)) is None
        )

    await eventually(gone, timeout=60, what="garbage collection of the children")
    why = await eventually(lambda: not_ready_reason(kube, namespace, "notes-api"))
    assert why == "CategoryNotFound"


async def not_ready_reason(
    kube: KubeClient, namespace: str, name: str, kind: str = "MCPIntegration"
) -> str | None:
    ready_condition = condition(await kube.get(kind, namespace, name))
    return str(ready_condition["reason"]) if ready_condition.get("status") == "False" else None


async def test_a_restarted_operator_writes_nothing_when_nothing_changed(
    kube: KubeClient, cluster: LocalCluster, operator_settings: Any, namespace: str
) -> None:
    first = OperatorThread(cluster.kubeconfig, operator_settings).start()
    try:
        await create(
            kube,
            category("notes", namespace),
            *(integration(f"notes-{i}", namespace, "notes") for i in range(20)),
        )
        for i in range(20):
            await ready(kube, "MCPIntegration", namespace, f"notes-{i}")
        await eventually(lambda: _counted(kube, namespace, 20), what="the category counts its integrations")
        await first.idle()
    finally:
        first.stop()
    second = OperatorThread(cluster.kubeconfig, operator_settings).start()
    try:
        # Every object is replayed by the new watches and reconciled again: nothing to write.
        for _ in range(3):
            await second.idle()
            await asyncio.sleep(0.3)  # let the watches deliver their initial lists
        assert second.writes == 0, second.operator.client.writes
    finally:
        second.stop()


async def _counted(kube: KubeClient, namespace: str, count: int) -> bool:
    obj = await kube.get("MCPCategory", namespace, "notes")
    return bool((obj or {}).get("status", {}).get("integrations") == count)


async def test_an_empty_category_is_reconciled_without_rewriting_what_the_server_dropped(
    kube: KubeClient, operator: OperatorThread, namespace: str
) -> None:
    """An empty catalog ConfigMap and an empty projected source lose their empty fields on the
    server; that must not look like drift, or every resync would write."""
    await create(kube, category("empty", namespace))
    await eventually(lambda: kube.get("Deployment", namespace, names.server("empty")))
    await eventually(lambda: _counted_in(kube, namespace, "empty", 0), what="status written")
    await operator.idle()
    before = operator.writes
    for _ in range(3):
        operator.request("MCPCategory", namespace, "empty")
        await operator.idle()
    assert operator.writes == before, operator.operator.client.writes


async def _counted_in(kube: KubeClient, namespace: str, name: str, count: int) -> bool:
    obj = await kube.get("MCPCategory", namespace, name)
    return bool((obj or {}).get("status", {}).get("integrations") == count)


async def test_the_client_reads_our_kinds_as_models_and_writes_their_status(
    kube: KubeClient, namespace: str
) -> None:
    """KubeClient with a model class: typed metadata, nothing the server sent is lost, and a status
    written from a model (no operator runs here)."""
    await create(kube, category("notes", namespace, replicas={"min": 1, "max": 2}))
    cat = await kube.get(MCPCategory, namespace, "notes")
    assert cat is not None
    assert (cat.metadata.name, cat.metadata.namespace, cat.metadata.generation) == ("notes", namespace, 1)
    assert cat.metadata.uid
    assert cat.metadata.model_dump(by_alias=True)["managedFields"]  # kept as an extra field
    assert cat.spec.replicas.max == 2
    assert await kube.get(MCPCategory, namespace, "absent") is None
    assert await kube.exists(MCPCategory, namespace, "notes")
    listed, version = await kube.list(MCPCategory, namespace)
    assert [c.metadata.name for c in listed] == ["notes"]
    assert version

    cat.status = MCPCategoryStatus(integrations=0, endpoint="http://x")
    written = await kube.apply_status(cat, field_manager="typed-test")
    assert MCPCategory.model_validate(written).status == cat.status
    assert written["spec"]["replicas"] == {"min": 1, "max": 2}  # the spec is untouched


async def test_an_object_stored_before_its_crd_gained_a_constraint_gets_spec_valid_false_and_a_warning(
    kube: KubeClient, operator: OperatorThread, namespace: str, cluster: LocalCluster
) -> None:
    """Version skew: the API server holds an object its current schema would refuse (it was stored under
    an older CRD). The operator still writes a status naming the field, posts one Warning Event, and a
    resync writes nothing more."""
    crd = json.loads(cluster.kubectl("get", "crd", "mcpintegrations.toolmesh.dev", "-o", "json").stdout)
    original = copy.deepcopy(crd)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    url = schema["properties"]["spec"]["properties"]["openapi"]["properties"]["spec"]["properties"]["url"]
    del url["pattern"]  # the older CRD: any string
    for obj in (crd, original):
        obj["metadata"] = {"name": obj["metadata"]["name"]}
    await create(kube, category("pm", namespace))
    try:
        cluster.kubectl("replace", "-f", "-", input=json.dumps(crd))
        broken = integration("broken", namespace, "pm", openapi={"spec": {"url": "ftp://nowhere"}})
        await eventually(lambda: _stored(kube, broken), what="the object stored under the older CRD")
    finally:
        cluster.kubectl("replace", "-f", "-", input=json.dumps(original))

    async def spec_invalid() -> dict[str, Any] | None:
        obj = await kube.get("MCPIntegration", namespace, "broken")
        return obj if condition(obj, "SpecValid").get("status") == "False" else None

    obj = await eventually(spec_invalid, what="SpecValid=False on the skewed object")
    spec_valid, ready_condition = condition(obj, "SpecValid"), condition(obj)
    assert spec_valid["reason"] == "SpecInvalid"
    assert spec_valid["message"].startswith("spec.openapi.spec.url: String should match pattern")
    assert (ready_condition["status"], ready_condition["reason"]) == ("False", "SpecInvalid")
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert obj["spec"]["openapi"]["spec"]["url"] == "ftp://nowhere"  # the operator never writes the spec

    async def warned() -> list[dict[str, Any]] | None:
        events, _ = await kube.list("Event", namespace)
        mine = [e for e in events if e["involvedObject"].get("name") == "broken"]
        return mine or None

    (event,) = await eventually(warned, what="a Warning Event on the skewed object")
    assert (event["type"], event["reason"]) == ("Warning", "SpecInvalid")
    assert event["involvedObject"]["uid"] == obj["metadata"]["uid"]
    await operator.idle()
    before = operator.writes
    operator.request("MCPIntegration", namespace, "broken")
    await operator.idle()
    assert operator.writes == before, operator.operator.client.writes


async def _stored(kube: KubeClient, obj: dict[str, Any]) -> bool:
    try:
        await kube.apply(obj, field_manager="kubectl-test")
    except ApiError:  # the relaxed schema is not served yet
        return False
    return True
