"""Status of both kinds, computed from what was observed. Pure; the clock is passed in.

Messages name the field at fault and the fix. The summary condition ``Ready`` works with
``kubectl wait --for=condition=Ready``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from toolmesh.api import MCPCategoryStatus, MCPIntegrationStatus, conditions
from toolmesh.api.base import Condition, ConditionStatus
from toolmesh.api.integration import (
    PromptSummary,
    ResourceSummary,
    ResourceTemplateSummary,
    ToolSummary,
)
from toolmesh.api.meta import ObjectMeta
from toolmesh.operator.scaling import Scale

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE
SCALED_TO_ZERO_MESSAGE = "Scaled to zero while idle; the gateway wakes it on the next call."


class Verdict(NamedTuple):
    """One condition's value: status, reason, message."""

    status: ConditionStatus
    reason: str
    message: str


def _set_all(
    previous: Sequence[Condition], verdicts: Mapping[str, Verdict], generation: int, now: dt.datetime
) -> list[Condition]:
    conds = list(previous)
    for type_, verdict in verdicts.items():
        conds = conditions.set_condition(conds, type_, *verdict, now=now, observed_generation=generation)
    return conds


# -- MCPIntegration -------------------------------------------------------------------------------


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
    #: A federated server's prompts, resources and templates (recorded beside its tools).
    prompts: list[PromptSummary] = field(default_factory=list)
    resources: list[ResourceSummary] = field(default_factory=list)
    templates: list[ResourceTemplateSummary] = field(default_factory=list)

    def problem(self, type_: str) -> Verdict | None:
        """The first problem of a condition type, as a False verdict."""
        found = next((p for p in self.problems if p[0] == type_), None)
        return Verdict(FALSE, found[1], found[2]) if found else None


def _spec_valid(found: IntegrationFindings) -> Verdict:
    if (problem := found.problem(conditions.SPEC_VALID)) is not None:
        return problem
    if found.discovered:
        return Verdict(
            TRUE, conditions.TOOLS_DISCOVERED, f"{len(found.discovered)} tools discovered on the server."
        )
    if found.discovery_pending:
        return Verdict(
            TRUE,
            conditions.DISCOVERY_PENDING,
            "Tools are discovered when the category server first runs this integration.",
        )
    return Verdict(TRUE, conditions.SPEC_COMPILED, f"The spec compiles to {found.tools} tools.")


def _resolved(found: IntegrationFindings) -> Verdict:
    return found.problem(conditions.RESOLVED) or Verdict(
        TRUE,
        conditions.DEPENDENCIES_RESOLVED,
        "The category and every referenced Secret and ConfigMap exist.",
    )


#: The integration conditions the operator writes. Others (the gateway's ``Indexed``) have writers of
#: their own: the operator neither carries them nor compares them, and server-side apply keeps them.
INTEGRATION_CONDITIONS = frozenset({conditions.SPEC_VALID, conditions.RESOLVED, conditions.READY})


def own_integration_status(live: MCPIntegrationStatus | None) -> MCPIntegrationStatus | None:
    """The part of a live status the operator writes: what its desired status is compared with."""
    if live is None:
        return None
    return live.model_copy(update={"conditions": conditions.only(live.conditions, INTEGRATION_CONDITIONS)})


def integration(
    previous: MCPIntegrationStatus | None, found: IntegrationFindings, now: dt.datetime
) -> MCPIntegrationStatus:
    """The status the operator owns (its conditions only; ``previous`` may hold others)."""
    spec_valid, resolved = _spec_valid(found), _resolved(found)
    first = next((v for v in (spec_valid, resolved) if v.status == FALSE), None)
    verdicts = {
        conditions.SPEC_VALID: spec_valid,
        conditions.RESOLVED: resolved,
        conditions.READY: first or Verdict(TRUE, conditions.RECONCILED, "Served by its category."),
    }
    return MCPIntegrationStatus(
        observed_generation=found.generation,
        conditions=_set_all(
            conditions.only(previous.conditions, INTEGRATION_CONDITIONS) if previous else [],
            verdicts,
            found.generation,
            now,
        ),
        tools=found.tools,
        spec_digest=found.digest,
        source=found.source,
        warnings=list(found.warnings),
        discovered_tools=found.discovered,
        discovered_prompts=found.prompts,
        discovered_resources=found.resources,
        discovered_resource_templates=found.templates,
    )


# -- MCPCategory ----------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _DeploymentSpec(_Wire):
    replicas: int | None = None  # the server defaults it to 1


class _DeploymentStatus(_Wire):
    observed_generation: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0


class Rollout(_Wire):
    """The few fields of a live Deployment the category's status reports (read, never written)."""

    metadata: ObjectMeta
    spec: _DeploymentSpec = _DeploymentSpec()
    status: _DeploymentStatus = _DeploymentStatus()


@dataclass(frozen=True)
class CategoryFindings:
    generation: int
    scale: Scale
    deployment: Rollout | None
    integrations: int
    tools: int
    endpoint: str
    not_ready: list[str] = field(default_factory=list)  # integrations of this category that are not Ready
    pending: list[str] = field(default_factory=list)  # integrations not validated yet


class Availability(NamedTuple):
    ok: bool
    replicas: int
    ready: int
    message: str


def _available(deployment: Rollout | None) -> Availability:
    """Is the Deployment available, as its controller reports it?"""
    if deployment is None:
        return Availability(False, 0, 0, "The Deployment does not exist yet.")
    status, name = deployment.status, deployment.metadata.name
    wanted = 1 if deployment.spec.replicas is None else deployment.spec.replicas
    ready, available, updated = status.ready_replicas, status.available_replicas, status.updated_replicas
    if status.observed_generation < (deployment.metadata.generation or 0) or updated < wanted:
        return Availability(
            False, wanted, ready, f"Deployment {name} is rolling out: {updated}/{wanted} pods updated."
        )
    if available < min(wanted, 1) or (wanted and available == 0):
        return Availability(
            False,
            wanted,
            ready,
            f"Deployment {name} has {available}/{wanted} pods available; see its pods' events (kubectl describe pods -l app.kubernetes.io/instance).",
        )
    return Availability(True, wanted, ready, f"{available}/{wanted} pods available.")


def _available_condition(found: CategoryFindings, live: Availability) -> Verdict:
    if found.scale.asleep:
        return Verdict(TRUE, conditions.SCALED_TO_ZERO, SCALED_TO_ZERO_MESSAGE)
    if live.ok:
        return Verdict(TRUE, conditions.MINIMUM_REPLICAS_AVAILABLE, live.message)
    return Verdict(FALSE, conditions.MINIMUM_REPLICAS_UNAVAILABLE, live.message)


def _ready_condition(found: CategoryFindings, live: Availability) -> Verdict:
    if found.pending:
        return Verdict(
            FALSE,
            conditions.PROGRESSING,
            f"Waiting for {len(found.pending)} integration(s) to be validated: {', '.join(found.pending[:5])}.",
        )
    if found.scale.asleep:
        ready = Verdict(TRUE, conditions.SCALED_TO_ZERO, SCALED_TO_ZERO_MESSAGE)
    elif live.ok:
        ready = Verdict(TRUE, conditions.RECONCILED, live.message)
    else:
        return Verdict(FALSE, conditions.MINIMUM_REPLICAS_UNAVAILABLE, live.message)
    if found.not_ready:
        return ready._replace(
            message=f"{ready.message} Not served: {', '.join(found.not_ready[:5])} (see kubectl get mcpi)."
        )
    return ready


def category(
    previous: MCPCategoryStatus | None, found: CategoryFindings, now: dt.datetime
) -> MCPCategoryStatus:
    live = _available(found.deployment)
    verdicts = {
        conditions.AVAILABLE: _available_condition(found, live),
        conditions.READY: _ready_condition(found, live),
    }
    return MCPCategoryStatus(
        observed_generation=found.generation,
        conditions=_set_all(previous.conditions if previous else [], verdicts, found.generation, now),
        replicas=live.replicas if not found.scale.asleep else 0,
        ready_replicas=live.ready,
        integrations=found.integrations,
        tools=found.tools,
        endpoint=found.endpoint,
    )
