"""Status of both kinds from what was observed (toolmesh.operator.status): pure, the clock passed in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from toolmesh.api import conditions as c
from toolmesh.api.base import ConditionStatus
from toolmesh.operator import status
from toolmesh.operator.scaling import Scale

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def by_type(conds: list[Any]) -> dict[str, tuple[str, str]]:
    return {x.type: (x.status, x.reason) for x in conds}


def test_a_compiled_integration_is_ready_and_a_spec_problem_comes_first_in_ready() -> None:
    ok = status.integration(None, status.IntegrationFindings(3, tools=4, digest="sha256:d"), T0)
    assert by_type(ok.conditions) == {
        c.READY: (TRUE, c.RECONCILED), c.RESOLVED: (TRUE, c.DEPENDENCIES_RESOLVED),
        c.SPEC_VALID: (TRUE, c.SPEC_COMPILED),
    }  # fmt: skip
    assert (ok.observed_generation, ok.tools, ok.spec_digest) == (3, 4, "sha256:d")
    problems = [
        (c.RESOLVED, c.CATEGORY_NOT_FOUND, "spec.category: no."),
        (c.SPEC_VALID, c.SPEC_INVALID, "spec.openapi: bad."),
    ]
    bad = status.integration(ok, status.IntegrationFindings(4, problems), T1)
    assert by_type(bad.conditions)[c.READY] == (FALSE, c.SPEC_INVALID)
    assert by_type(bad.conditions)[c.RESOLVED] == (FALSE, c.CATEGORY_NOT_FOUND)
    ready = c.find(bad.conditions, c.READY)
    assert ready is not None
    assert ready.message == "spec.openapi: bad."
    assert ready.last_transition_time == T1


def test_an_unchanged_observation_computes_the_same_status() -> None:
    found = status.IntegrationFindings(2, discovery_pending=True)
    first = status.integration(None, found, T0)
    assert status.integration(first, found, T1) == first
    assert by_type(first.conditions)[c.SPEC_VALID] == (TRUE, c.DISCOVERY_PENDING)


def rollout(**fields: Any) -> status.Rollout:
    return status.Rollout.model_validate({
        "metadata": {"name": "mcp-pm", "generation": 2},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 2, **fields},
    })  # fmt: skip


def findings(deployment: status.Rollout | None, **extra: Any) -> status.CategoryFindings:
    return status.CategoryFindings(1, Scale(2, asleep=False), deployment, 1, 3, "http://e", **extra)


def test_a_category_is_ready_once_its_pods_are_available() -> None:
    live = rollout(updatedReplicas=2, readyReplicas=2, availableReplicas=2)
    ok = status.category(None, findings(live, not_ready=["broken"]), T0)
    assert by_type(ok.conditions) == {
        c.AVAILABLE: (TRUE, c.MINIMUM_REPLICAS_AVAILABLE),
        c.READY: (TRUE, c.RECONCILED),
    }
    ready = c.find(ok.conditions, c.READY)
    assert ready is not None
    assert ready.message == "2/2 pods available. Not served: broken (see kubectl get mcpi)."
    assert (ok.replicas, ok.ready_replicas, ok.integrations, ok.tools) == (2, 2, 1, 3)


def test_a_rolling_missing_or_waiting_category_is_not_ready() -> None:
    rolling = status.category(None, findings(rollout(updatedReplicas=1)), T0)
    ready = c.find(rolling.conditions, c.READY)
    assert ready is not None
    assert ready.message == "Deployment mcp-pm is rolling out: 1/2 pods updated."
    missing = status.category(None, findings(None), T0)
    assert by_type(missing.conditions)[c.READY] == (FALSE, c.MINIMUM_REPLICAS_UNAVAILABLE)
    waiting = status.category(None, findings(None, pending=["a", "b"]), T0)
    assert by_type(waiting.conditions)[c.READY] == (FALSE, c.PROGRESSING)
    asleep = status.category(None, status.CategoryFindings(1, Scale(0, asleep=True), None, 0, 0, "e"), T0)
    assert by_type(asleep.conditions)[c.READY] == (TRUE, c.SCALED_TO_ZERO)
    assert asleep.replicas == 0


def test_the_operator_neither_carries_nor_compares_the_gateways_condition() -> None:
    found = status.IntegrationFindings(3, tools=4, digest="sha256:d")
    mine = status.integration(None, found, T0)
    indexed = c.set_condition([], c.INDEXED, FALSE, c.DIGEST_MISMATCH, "compiled elsewhere.", now=T0)
    live = mine.model_copy(update={"conditions": [*mine.conditions, *indexed]})
    # The live status holds the gateway's condition; the operator's desired status leaves it out
    # (server-side apply keeps it, owned by the gateway) and equals the operator's part of the live one.
    desired = status.integration(live, found, T1)
    assert c.INDEXED not in by_type(desired.conditions)
    assert desired == status.own_integration_status(live)
    assert status.own_integration_status(live) != live
    assert status.own_integration_status(None) is None
