"""Replica decisions and scale to zero (toolmesh.operator.scaling)."""

from __future__ import annotations

import datetime as dt

import pytest

from toolmesh.api import MCPCategory
from toolmesh.api.base import parse_duration
from toolmesh.operator import scaling

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def category(**spec: object) -> MCPCategory:
    return MCPCategory.model_validate(
        {
            "apiVersion": "toolmesh.dev/v1alpha1",
            "kind": "MCPCategory",
            "metadata": {"name": "pm"},
            "spec": spec,
        }
    )


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400), ("500ms", 0.5)])
def test_durations_parse_as_go_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_without_scale_to_zero_the_live_count_is_kept_within_the_range() -> None:
    cat = category(replicas={"min": 2, "max": 4})
    assert scaling.decide(cat, None, None, NOW).replicas == 2
    assert scaling.decide(cat, 3, None, NOW).replicas == 3  # what the HPA chose
    assert scaling.decide(cat, 9, None, NOW).replicas == 4
    assert not scaling.decide(cat, 0, None, NOW).asleep


def test_a_category_never_used_or_idle_too_long_sleeps() -> None:
    cat = category(scaleToZero={"enabled": True, "idleAfter": "10m"}, replicas={"min": 2, "max": 4})
    assert scaling.decide(cat, 2, None, NOW) == scaling.Scale(0, asleep=True)
    assert scaling.decide(cat, 2, NOW - dt.timedelta(minutes=10), NOW).asleep


def test_recent_demand_wakes_to_the_minimum_and_says_when_it_would_sleep_again() -> None:
    cat = category(scaleToZero={"enabled": True, "idleAfter": "10m"}, replicas={"min": 2, "max": 4})
    used = NOW - dt.timedelta(minutes=3)
    decision = scaling.decide(cat, 0, used, NOW)
    assert (decision.replicas, decision.asleep) == (2, False)
    assert decision.wake_at_latest == used + dt.timedelta(minutes=10)
