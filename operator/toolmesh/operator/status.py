"""Status of both kinds, computed from what was observed. Pure; the clock is passed in.

Messages name the field at fault and the fix. The summary condition ``Ready`` works with
``kubectl wait --for=condition=Ready``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from toolmesh.api import MCPCategoryStatus, MCPIntegrationStatus, conditions
from toolmesh.api.base import Condition, ConditionStatus
from toolmesh.api.integration import ToolSummary
from toolmesh.operator.scaling import Scale

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def wire(model: MCPCategoryStatus | MCPIntegrationStatus) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def _conditions(raw: dict[str, Any] | None) -> list[Condition]:
    out = []
    for item in (raw or {}).get("conditions") or []:
        try:
            out.append(Condition.model_validate(item))
        except ValueError:
            continue  # written by someone else, in a shape we do not know: replaced below
    return out


@dataclass(frozen=True)
class IntegrationFindings:
    """What the integration reconcile found out, in the order it checks."""

    generation: int
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (condition type, reason, message)
    tools: int | None = None
    digest: str | None = None
    source: str | None = None
    warnings: tuple[str, ...] = ()
    discovery_pending: bool = False
    discovered: list[ToolSummary] = field(default_factory=list)


def integration(
    previous: dict[str, Any] | None, found: IntegrationFindings, now: dt.datetime
) -> dict[str, Any]:
    conds = _conditions(previous)
    gen = found.generation
    spec_problem = next((p for p in found.problems if p[0] == conditions.SPEC_VALID), None)
    resolve_problem = next((p for p in found.problems if p[0] == conditions.RESOLVED), None)
    if spec_problem:
        conds = conditions.set_condition(
            conds,
            conditions.SPEC_VALID,
            FALSE,
            spec_problem[1],
            spec_problem[2],
            now=now,
            observed_generation=gen,
        )
    elif found.discovered:
        conds = conditions.set_condition(
            conds,
            conditions.SPEC_VALID,
            TRUE,
            conditions.TOOLS_DISCOVERED,
            f"{len(found.discovered)} tools discovered on the server.",
            now=now,
            observed_generation=gen,
        )
    elif found.discovery_pending:
        conds = conditions.set_condition(
            conds,
            conditions.SPEC_VALID,
            TRUE,
            conditions.DISCOVERY_PENDING,
            "Tools are discovered when the category server first runs this integration.",
            now=now,
            observed_generation=gen,
        )
    else:
        conds = conditions.set_condition(
            conds,
            conditions.SPEC_VALID,
            TRUE,
            conditions.SPEC_COMPILED,
            f"The spec compiles to {found.tools} tools.",
            now=now,
            observed_generation=gen,
        )
    if resolve_problem:
        conds = conditions.set_condition(
            conds,
            conditions.RESOLVED,
            FALSE,
            resolve_problem[1],
            resolve_problem[2],
            now=now,
            observed_generation=gen,
        )
    else:
        conds = conditions.set_condition(
            conds,
            conditions.RESOLVED,
            TRUE,
            conditions.DEPENDENCIES_RESOLVED,
            "The category and every referenced Secret and ConfigMap exist.",
            now=now,
            observed_generation=gen,
        )
    first = spec_problem or resolve_problem
    if first:
        conds = conditions.set_condition(
            conds, conditions.READY, FALSE, first[1], first[2], now=now, observed_generation=gen
        )
    else:
        conds = conditions.set_condition(
            conds,
            conditions.READY,
            TRUE,
            conditions.RECONCILED,
            "Served by its category.",
            now=now,
            observed_generation=gen,
        )
    status = MCPIntegrationStatus(
        observed_generation=gen,
        conditions=conds,
        tools=found.tools,
        spec_digest=found.digest,
        source=found.source,
        warnings=list(found.warnings),
        discovered_tools=found.discovered,
    )
    return wire(status)


@dataclass(frozen=True)
class CategoryFindings:
    generation: int
    scale: Scale
    deployment: dict[str, Any] | None
    integrations: int
    tools: int
    endpoint: str
    not_ready: list[str] = field(default_factory=list)  # integrations of this category that are not Ready
    pending: list[str] = field(default_factory=list)  # integrations not validated yet


def _available(deployment: dict[str, Any] | None) -> tuple[bool, int, int, str]:
    """(available, replicas, ready replicas, message) of the Deployment as its controller reports it."""
    if deployment is None:
        return False, 0, 0, "The Deployment does not exist yet."
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    current = int(status.get("observedGeneration", 0)) >= int(deployment["metadata"].get("generation", 0))
    name = deployment["metadata"]["name"]
    if not current or updated < wanted:
        return False, wanted, ready, f"Deployment {name} is rolling out: {updated}/{wanted} pods updated."
    if available < min(wanted, 1) or (wanted and available == 0):
        return (
            False,
            wanted,
            ready,
            f"Deployment {name} has {available}/{wanted} pods available; see its pods' events (kubectl describe pods -l app.kubernetes.io/instance).",
        )
    return True, wanted, ready, f"{available}/{wanted} pods available."


def category(previous: dict[str, Any] | None, found: CategoryFindings, now: dt.datetime) -> dict[str, Any]:
    conds = _conditions(previous)
    gen = found.generation
    ok, replicas, ready, message = _available(found.deployment)
    if found.scale.asleep:
        conds = conditions.set_condition(
            conds,
            conditions.AVAILABLE,
            TRUE,
            conditions.SCALED_TO_ZERO,
            "Scaled to zero while idle; the gateway wakes it on the next call.",
            now=now,
            observed_generation=gen,
        )
    elif ok:
        conds = conditions.set_condition(
            conds,
            conditions.AVAILABLE,
            TRUE,
            conditions.MINIMUM_REPLICAS_AVAILABLE,
            message,
            now=now,
            observed_generation=gen,
        )
    else:
        conds = conditions.set_condition(
            conds,
            conditions.AVAILABLE,
            FALSE,
            conditions.MINIMUM_REPLICAS_UNAVAILABLE,
            message,
            now=now,
            observed_generation=gen,
        )
    if found.pending:
        ready_status, reason, text = (
            FALSE,
            conditions.PROGRESSING,
            f"Waiting for {len(found.pending)} integration(s) to be validated: {', '.join(found.pending[:5])}.",
        )
    elif found.scale.asleep:
        ready_status, reason, text = (
            TRUE,
            conditions.SCALED_TO_ZERO,
            "Scaled to zero while idle; the gateway wakes it on the next call.",
        )
    elif ok:
        ready_status, reason, text = TRUE, conditions.RECONCILED, message
    else:
        ready_status, reason, text = FALSE, conditions.MINIMUM_REPLICAS_UNAVAILABLE, message
    if ready_status == TRUE and found.not_ready:
        text += f" Not served: {', '.join(found.not_ready[:5])} (see kubectl get mcpi)."
    conds = conditions.set_condition(
        conds, conditions.READY, ready_status, reason, text, now=now, observed_generation=gen
    )
    status = MCPCategoryStatus(
        observed_generation=gen,
        conditions=conds,
        replicas=replicas if not found.scale.asleep else 0,
        ready_replicas=ready,
        integrations=found.integrations,
        tools=found.tools,
        endpoint=found.endpoint,
    )
    return wire(status)
