"""The demand signal of a category: a Lease the gateway renews while agents call its tools.

One writer per object: the gateway writes the Lease (field manager ``toolmesh-gateway``), the
operator only reads it to decide between zero and ``replicas.min`` pods (toolmesh.operator.scaling).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from toolmesh.api.base import parse_duration

CATEGORY_LABEL = "toolmesh.dev/category"
PREFIX = "toolmesh-demand-"
FIELD_MANAGER = "toolmesh-gateway"
#: The shortest time between two renewals of one Lease, however short ``idleAfter`` is.
MIN_RENEW_SECONDS = 1.0


def label_value(category: str) -> str:
    """A label value holds at most 63 characters; longer names are shortened with a stable hash."""
    if len(category) <= 63:
        return category
    return f"{category[:54].rstrip('-')}-{hashlib.sha256(category.encode()).hexdigest()[:8]}"


def lease_name(category: str) -> str:
    return f"{PREFIX}{category}"[:253]


def lease(
    category: str, namespace: str, holder: str, now: dt.datetime, owner_uid: str | None = None
) -> dict[str, Any]:
    """The Lease as the gateway applies it: renewed ``renewTime``, owned by its category (garbage collected with it)."""
    metadata: dict[str, Any] = {
        "name": lease_name(category),
        "namespace": namespace,
        "labels": {CATEGORY_LABEL: label_value(category), "app.kubernetes.io/part-of": "toolmesh"},
    }
    if owner_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPCategory", "name": category, "uid": owner_uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder[:253],
            "renewTime": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    }


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def last_demand(obj: dict[str, Any] | None) -> dt.datetime | None:
    """When the gateway last renewed the Lease (None: never)."""
    if not obj:
        return None
    spec = obj.get("spec") or {}
    return _time(spec.get("renewTime")) or _time(spec.get("acquireTime"))


def renew_interval(category: dict[str, Any], default: float) -> float:
    """How often a category in use has its Lease renewed: ``default``, or a third of its ``idleAfter``
    when that is shorter, so the operator never finds a category in use idle (nor one still waking:
    a pod that takes longer than ``idleAfter`` to start would be scaled away before it is ready)."""
    scale = (category.get("spec") or {}).get("scaleToZero") or {}
    if not scale.get("enabled"):
        return default
    idle = parse_duration(str(scale.get("idleAfter") or "15m")).total_seconds()
    return max(MIN_RENEW_SECONDS, min(default, idle / 3))
