"""The resource models: wire names, defaults, and the cross-field rules enforced in Python."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from toolmesh.api import MCPCategory, MCPIntegration
from toolmesh.api import conditions as c
from toolmesh.api.base import ConditionStatus


def integration(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration", "metadata": {"name": "x"},
            "spec": {"category": "pm", **spec}}  # fmt: skip


OPENAPI = {"spec": {"url": "https://example.com/openapi.json"}}


def test_models_read_and_write_camel_case_and_fill_defaults() -> None:
    cat = MCPCategory.model_validate(
        {"spec": {"scaleToZero": {"enabled": True}, "resources": {"requests": {"cpu": 1, "memory": "256Mi"}}}}
    )
    assert cat.spec.scale_to_zero.enabled is True
    assert cat.spec.scale_to_zero.idle_after == "15m"
    assert (cat.spec.replicas.min, cat.spec.replicas.max) == (1, 3)
    dumped = cat.model_dump(by_alias=True, exclude_none=True)
    assert dumped["spec"]["scaleToZero"] == {"enabled": True, "idleAfter": "15m"}
    assert dumped["spec"]["autoscaling"] == {"targetCpuUtilizationPercentage": 80}


def test_unknown_fields_are_rejected_with_their_name() -> None:
    with pytest.raises(ValidationError, match="imagePullPolcy"):
        MCPCategory.model_validate({"spec": {"imagePullPolcy": "Always"}})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "exactly one of spec.openapi, spec.mcp or spec.stdio must be set"),
        (
            {"openapi": OPENAPI, "mcp": {"url": "https://m.example.com/mcp"}},
            "exactly one of spec.openapi, spec.mcp or spec.stdio",
        ),
        (
            {"openapi": {"spec": {}}},
            "exactly one of spec.openapi.spec.configMapKeyRef, spec.openapi.spec.inline or spec.openapi.spec.url",
        ),
        (
            {"openapi": {**OPENAPI, "include": {}}},
            "must set at least one of operations, tags, methods or paths",
        ),
        (
            {"openapi": OPENAPI, "auth": {"type": "apiKey", "secretRef": {"name": "s"}}},
            "spec.auth.apiKey (in and name) is required",
        ),
        (
            {"openapi": OPENAPI, "auth": {"type": "bearer"}},
            "exactly one of spec.auth.secretRef, spec.auth.vaultPath or spec.auth.perUser",
        ),
        (
            {"openapi": OPENAPI, "auth": {"type": "oauth2ClientCredentials", "secretRef": {"name": "s"}}},
            "spec.auth.oauth2 (tokenUrl, scopes) is required",
        ),
        ({"stdio": {"command": "x", "env": [{"name": "A"}]}}, "exactly one of value or secretKeyRef"),
        (
            {"openapi": OPENAPI, "limits": {"callsPerMinute": 10, "perUserCallsPerMinute": 20}},
            "spec.limits.perUserCallsPerMinute cannot exceed spec.limits.callsPerMinute",
        ),
        ({"openapi": OPENAPI, "limits": {"callsPerMinute": -1}}, "greater than or equal to 0"),
    ],
)
def test_cross_field_rules_reject_with_a_message_naming_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        MCPIntegration.model_validate(integration(**spec))
    assert message in str(info.value)


def test_replica_bounds_must_be_ordered() -> None:
    with pytest.raises(
        ValidationError, match=r"spec.replicas.min must be less than or equal to spec.replicas.max"
    ):
        MCPCategory.model_validate({"spec": {"replicas": {"min": 4, "max": 2}}})


def test_a_complete_integration_parses() -> None:
    obj = MCPIntegration.model_validate(integration(
        openapi={**OPENAPI, "readOnly": True, "include": {"tags": ["issues"]}},
        auth={"type": "apiKey", "apiKey": {"in": "query", "name": "key"}, "vaultPath": "toolmesh/github"},
        toolPrefix="gh", rateLimit={"requestsPerSecond": 5, "burst": 10},
    ))  # fmt: skip
    assert obj.spec.auth is not None
    assert obj.spec.auth.api_key is not None
    assert obj.spec.auth.api_key.location == "query"
    assert obj.spec.openapi is not None
    assert obj.spec.openapi.include is not None
    assert obj.spec.openapi.include.tags == ["issues"]


def test_set_condition_keeps_the_transition_time_while_the_status_holds() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    t1 = t0 + dt.timedelta(minutes=5)
    first = c.set_condition([], c.READY, ConditionStatus.FALSE, c.PROGRESSING, "Waiting for pods.", now=t0)
    same = c.set_condition(
        first,
        c.READY,
        ConditionStatus.FALSE,
        c.CATEGORY_NOT_FOUND,
        "spec.category: no MCPCategory 'pm'.",
        now=t1,
    )
    flipped = c.set_condition(
        same, c.READY, ConditionStatus.TRUE, c.RECONCILED, "", now=t1, observed_generation=3
    )
    assert same[0].last_transition_time == t0
    assert same[0].reason == c.CATEGORY_NOT_FOUND
    assert flipped[0].last_transition_time == t1
    assert flipped[0].observed_generation == 3
    both = c.set_condition(flipped, c.SPEC_VALID, ConditionStatus.TRUE, c.SPEC_COMPILED, "", now=t1)
    assert [x.type for x in both] == [c.READY, c.SPEC_VALID]
    assert c.find(both, c.SPEC_VALID) is not None
    assert c.find(both, "Missing") is None


def test_compile_options_follow_the_integration(demo_spec_text: str) -> None:
    from toolmesh.api.compile import compile_options
    from toolmesh.openapi import compile_spec

    obj = MCPIntegration.model_validate(
        integration(openapi={**OPENAPI, "readOnly": True, "exclude": {"operations": ["who*"]}})
    )
    obj.metadata.name = "tasks.v1"
    names = [t.name for t in compile_spec(demo_spec_text, compile_options(obj)).tools]
    assert names == ["tasks_v1__listProjects", "tasks_v1__listTasks", "tasks_v1__getTask"]
    obj.spec.tool_prefix = "t"
    assert compile_options(obj).prefix == "t"
