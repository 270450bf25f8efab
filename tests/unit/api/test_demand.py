"""The demand Lease and how often the gateway renews it (toolmesh.api.demand)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from toolmesh.api import demand


def category(scale_to_zero: dict[str, Any] | None) -> dict[str, Any]:
    spec = {"scaleToZero": scale_to_zero} if scale_to_zero is not None else {}
    return {"metadata": {"name": "pm"}, "spec": spec}


@pytest.mark.parametrize(
    ("scale_to_zero", "every"),
    [
        (None, 30.0),  # never scaled to zero: the default
        ({"enabled": False, "idleAfter": "3s"}, 30.0),
        ({"enabled": True}, 30.0),  # 15m by default: a third is longer than the default
        ({"enabled": True, "idleAfter": "15m"}, 30.0),
        ({"enabled": True, "idleAfter": "60s"}, 20.0),
        ({"enabled": True, "idleAfter": "5s"}, 5 / 3),
        ({"enabled": True, "idleAfter": "500ms"}, demand.MIN_RENEW_SECONDS),
    ],
)
def test_a_category_in_use_is_renewed_well_within_its_idle_after(
    scale_to_zero: dict[str, Any] | None, every: float
) -> None:
    assert demand.renew_interval(category(scale_to_zero), 30.0) == pytest.approx(every)


def test_the_lease_names_its_category_and_when_it_was_renewed() -> None:
    now = dt.datetime(2026, 12, 4, 23, 0, 1, 250000, tzinfo=dt.UTC)
    lease = demand.lease("pm", "tools", "gateway-0", now, owner_uid="uid-1")
    assert lease["metadata"]["name"] == "toolmesh-demand-pm"
    assert lease["metadata"]["labels"][demand.CATEGORY_LABEL] == "pm"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert demand.last_demand(lease) == now
    assert demand.last_demand(None) is None
    assert len(demand.label_value("x" * 80)) <= 63
