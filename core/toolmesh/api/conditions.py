"""Condition types and reasons, as constants, and the pure function that updates a condition list.

Reasons are CamelCase and stable: automation matches on them. Messages are sentences that name the
field at fault and the fix. ``last_transition_time`` moves only when the status moves, as in
cert-manager's ``SetCertificateCondition``; the clock is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from toolmesh.api.base import Condition, ConditionStatus

# Condition types.
READY = "Ready"
SPEC_VALID = "SpecValid"
RESOLVED = "Resolved"
AVAILABLE = "Available"
#: Written by the gateway (field manager ``toolmesh-gateway``), not the operator: whether the
#: integration's tools are in the gateway's index, compiled to the digest the operator recorded.
INDEXED = "Indexed"
#: ``Available`` on an MCPIntegration is the gateway's too (field manager ``toolmesh-gateway-circuit``):
#: False while a replica's circuit breaker for it is open.

# Reasons.
RECONCILED = "Reconciled"
PROGRESSING = "Progressing"
SPEC_COMPILED = "SpecCompiled"
SPEC_INVALID = "SpecInvalid"
SPEC_UNAVAILABLE = "SpecUnavailable"
SPEC_TOO_LARGE = "SpecTooLarge"
NO_TOOLS = "NoTools"
CATEGORY_NOT_FOUND = "CategoryNotFound"
SECRET_NOT_FOUND = "SecretNotFound"
DEPENDENCIES_RESOLVED = "DependenciesResolved"
SCALED_TO_ZERO = "ScaledToZero"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
TOOLS_DISCOVERED = "ToolsDiscovered"
DISCOVERY_PENDING = "DiscoveryPending"
DIGEST_MISMATCH = "DigestMismatch"
CIRCUIT_OPEN = "CircuitOpen"
CIRCUIT_CLOSED = "CircuitClosed"
#: MCPProfile (written by the gateway): every selector matches something; one names an unknown
#: integration; one matches no tool.
TOOLS_SELECTED = "ToolsSelected"
INTEGRATION_NOT_FOUND = "IntegrationNotFound"
NO_TOOLS_MATCHED = "NoToolsMatched"


def in_json(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any]:
    """The condition of ``type_`` in an object as the API server sends it (JSON), or ``{}``: for
    readers that keep objects as JSON (the gateway's watch)."""
    status = (obj or {}).get("status") or {}
    return next((dict(c) for c in status.get("conditions") or [] if c.get("type") == type_), {})


def only(conditions: Sequence[Condition], types: frozenset[str]) -> list[Condition]:
    """The conditions of ``types``: a writer compares and writes only the ones it owns."""
    return [c for c in conditions if c.type in types]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of the given type, if present."""
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: dt.datetime,
    observed_generation: int | None = None,
) -> list[Condition]:
    """Return a new list with the condition of ``type_`` set.

    The transition time is kept when the status does not change, so that an unchanged observation
    writes the same status twice (and a status patch is then a no-op).
    """
    previous = find(conditions, type_)
    since = previous.last_transition_time if previous is not None and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=observed_generation,
    )
    result = [c for c in conditions if c.type != type_]
    result.append(updated)
    return sorted(result, key=lambda c: c.type)
