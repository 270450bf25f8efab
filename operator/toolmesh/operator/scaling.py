"""How many pods a category should run: the replica range, and scale to zero on idleness. Pure.

Demand is a Lease per category (``toolmesh-demand-<category>``) that only the gateway writes: it
renews ``spec.renewTime`` while agents call the category's tools. The operator only reads it: a
category with scaleToZero enabled whose Lease is older than ``idleAfter`` (or absent) goes to zero
replicas; a renewal wakes it to ``replicas.min`` and the HPA takes over from there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from toolmesh.api import MCPCategory
from toolmesh.api.base import parse_duration


@dataclass(frozen=True)
class Scale:
    replicas: int
    asleep: bool  # scaled to zero on purpose
    wake_at_latest: dt.datetime | None = None  # when an active category becomes idle, if nothing renews it


def decide(
    category: MCPCategory, live_replicas: int | None, demand: dt.datetime | None, now: dt.datetime
) -> Scale:
    """Replicas for the Deployment. ``live_replicas`` keeps what the HPA chose within the range."""
    spec = category.spec
    low, high = spec.replicas.min, spec.replicas.max
    awake = min(max(live_replicas or low, low), high)
    if not spec.scale_to_zero.enabled:
        return Scale(awake, asleep=False)
    idle_after = parse_duration(spec.scale_to_zero.idle_after)
    if demand is None or now - demand >= idle_after:
        return Scale(0, asleep=True)
    return Scale(awake, asleep=False, wake_at_latest=demand + idle_after)
