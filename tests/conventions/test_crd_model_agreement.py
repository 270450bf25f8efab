"""Property: for any resource, the CRD (as the API server checks it) and the models (as the operator
and local mode read it) agree on whether it is valid. Resources are drawn from the CRD's own schema
(every field optional, values inside and outside each constraint: patterns, bounds, enums,
lengths), and from the examples with one field, at any depth, replaced by such a value (near-valid
resources, where disagreements hide).

A resource the API server accepts and the operator then rejects is the failure this prevents: it is
stored, and only a status condition says it is wrong (issue #19)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conventions.crd_validation import schema_of, validate
from tests.conventions.test_examples import CRDS, MODELS
from tests.conventions.test_examples import EXAMPLES as EXAMPLE_OBJECTS

EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "300"))
QUANTITIES = ["100m", "1", "0.5", "1Gi", "256Mi", "+1e3", "a lot", "", "1.5Gi", "12345678901234567890Ki"]


def values(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(-3, 10**6), st.sampled_from(QUANTITIES))
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties")
        if properties and depth < 6:
            return st.fixed_dictionaries(
                {}, optional={k: values(v, depth + 1) for k, v in properties.items()}
            )
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and depth < 6:
            keys = st.sampled_from(["cpu", "memory", "a", "X-Key", "b.c"])
            return st.dictionaries(keys, values(extra, depth + 1), max_size=2)
        return st.just({})
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(values(items, depth + 1), max_size=2) if depth < 6 else st.just([])
    if kind == "string":
        if "enum" in schema:
            return st.sampled_from([*schema["enum"], "Bogus"])
        choices = [st.text(max_size=10), st.sampled_from(["", "a", "pm", "https://x.example/v1", "5m", "0s"])]
        if "pattern" in schema:
            choices.append(st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 300))
        if "maxLength" in schema:
            choices.append(st.just("x" * (int(schema["maxLength"]) + 1)))
        return st.one_of(choices)
    if kind == "integer":
        low, high = schema.get("minimum", -5), schema.get("maximum", 10**6)
        return st.one_of(st.integers(int(low), int(high)), st.sampled_from([int(low) - 1, int(high) + 1]))
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return st.none()


def _paths(
    schema: dict[str, Any], value: Any, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every field of ``value`` the schema names (and every field it could add), with its schema."""
    found = [(path, schema)]
    for name, sub in (schema.get("properties") or {}).items():
        inner = value.get(name) if isinstance(value, dict) else None
        found.extend(_paths(sub, inner, (*path, name)) if isinstance(inner, dict) else [((*path, name), sub)])
    return found


def _replaced(obj: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
    if not path:
        return new if isinstance(new, dict) else obj
    head, *rest = path
    return {**obj, head: _replaced(obj.get(head) or {}, tuple(rest), new) if rest else new}


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    base = draw(st.sampled_from([d for _, _, d in EXAMPLE_OBJECTS if d["kind"] == kind]))
    spec = schema_of(CRDS[kind])["properties"]["spec"]
    path, schema = draw(st.sampled_from(_paths(spec, base["spec"])[1:]))
    return {
        **base,
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": _replaced(base["spec"], path, draw(values(schema))),
    }


def resources(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    spec = schema_of(CRDS[kind])["properties"]["spec"]
    drawn = values(spec).map(
        lambda body: {
            "apiVersion": "toolmesh.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": body,
        }
    )
    return st.one_of(drawn, mutated(kind))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_crd_and_the_models_agree_on_every_resource(kind: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(obj=resources(kind))
    def agree(obj: dict[str, Any]) -> None:
        crd_errors = validate(CRDS[kind], obj)
        try:
            MODELS[kind].model_validate(obj)
            model_error = None
        except ValidationError as exc:
            model_error = str(exc.errors()[0])
        assert (crd_errors == []) == (model_error is None), (crd_errors, model_error)

    agree()
