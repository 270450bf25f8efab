"""An MCPIntegration as the operator parses it (toolmesh.operator.observed): typed metadata and status
always, the model only when the spec validates, else the error naming the field."""

from __future__ import annotations

from typing import Any

from toolmesh.api.base import ConditionStatus
from toolmesh.operator import observed

READY = {
    "type": "Ready", "status": "True", "reason": "Reconciled", "message": "Served by its category.",
    "lastTransitionTime": "2026-12-01T10:00:00Z", "observedGeneration": 2,
}  # fmt: skip


def raw(spec: dict[str, Any], status: Any = None, generation: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {
            "name": "notes", "namespace": "ns", "uid": "u1", "generation": generation,
            "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}],
        },
        "spec": spec,
    }  # fmt: skip
    if status is not None:
        obj["status"] = status
    return obj


VALID = {"category": "pm", "openapi": {"spec": {"url": "https://example.com/openapi.json"}}}


def test_a_valid_integration_has_its_model_and_typed_metadata() -> None:
    seen = observed.integration(raw(VALID, {"observedGeneration": 2, "conditions": [READY], "tools": 3}))
    assert seen.model is not None
    assert seen.invalid is None
    assert seen.key == ("ns", "notes")
    assert (seen.meta.uid, seen.meta.resource_version, seen.generation) == ("u1", "7", 2)
    assert seen.model.metadata.name == "notes"
    assert seen.current
    assert seen.ready() == ConditionStatus.TRUE
    assert seen.status is not None
    assert seen.status.tools == 3
    assert seen.spec == VALID  # the wire form, as stored


def test_an_invalid_spec_keeps_metadata_category_and_status_and_names_the_field() -> None:
    spec = {"category": "pm", "openapi": {"spec": {"url": "not a url"}}}
    seen = observed.integration(raw(spec, {"observedGeneration": 1, "conditions": [READY]}))
    assert seen.model is None
    assert seen.invalid is not None
    assert seen.invalid.startswith("spec.openapi.spec.url: ")
    assert seen.category == "pm"
    assert seen.status is not None
    assert not seen.current
    rule = observed.integration(raw({"category": "pm"}))
    assert (
        rule.invalid == "spec: Value error, exactly one of spec.openapi, spec.mcp or spec.stdio must be set"
    )


def test_metadata_the_model_does_not_name_is_kept() -> None:
    seen = observed.integration(raw(VALID))
    dumped = seen.meta.model_dump(by_alias=True, exclude_none=True)
    assert dumped["managedFields"] == [{"manager": "kubectl"}]


def test_a_status_in_a_shape_we_do_not_know_reads_as_absent() -> None:
    seen = observed.integration(raw(VALID, {"conditions": [{"type": "Ready", "status": "Maybe"}]}))
    assert seen.status is None
    assert seen.model is not None
    assert not seen.current
    assert seen.ready() is None
    assert observed.integration(raw({"category": 7})).category == ""
