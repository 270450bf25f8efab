"""``MCPCategory``: one category server (a Deployment of the generic runtime) and how it scales."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from toolmesh.api.base import (
    DURATION,
    ApiModel,
    Condition,
    CrdInfo,
    Rule,
    TypedObject,
    age_column,
    ready_column,
    reason_column,
)

#: Quantities such as ``500m``, ``1``, ``256Mi`` (``resource.Quantity``), written as string or integer.
Quantity = (
    int
    | Annotated[
        str,
        Field(
            pattern=r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki)?$", max_length=64
        ),
    ]
)


class ReplicaRange(ApiModel):
    """How many server pods run while the category is in use."""

    rules = (
        Rule(
            cel="self.min <= self.max",
            message="spec.replicas.min must be less than or equal to spec.replicas.max",
            check=lambda r: r.min <= r.max,
        ),
    )

    min: Annotated[
        int,
        Field(description="Fewest pods while the category is active (the HPA's minReplicas).", ge=1, le=1000),
    ] = 1
    max: Annotated[
        int, Field(description="Most pods the autoscaler may run (the HPA's maxReplicas).", ge=1, le=1000)
    ] = 3


class ScaleToZero(ApiModel):
    """Scaling an idle category to zero pods, and waking it when the gateway needs it."""

    enabled: Annotated[
        bool, Field(description="Scale the category to zero pods after it has been idle for idleAfter.")
    ] = False
    idle_after: Annotated[
        str,
        Field(
            description="How long without tool calls before the category scales to zero, e.g. 15m or 1h.",
            pattern=DURATION,
            max_length=32,
        ),
    ] = "15m"


class Autoscaling(ApiModel):
    """Targets for the HorizontalPodAutoscaler between replicas.min and replicas.max."""

    target_cpu_utilization_percentage: Annotated[
        int | None,
        Field(
            description="Average CPU utilization (percent of requests) the autoscaler aims for. Unset disables CPU scaling.",
            ge=1,
            le=100,
        ),
    ] = 80
    target_inflight_requests: Annotated[
        int | None,
        Field(
            description="Average in-flight tool calls per pod the autoscaler aims for (needs a custom-metrics adapter).",
            ge=1,
            le=10000,
        ),
    ] = None
    scale_down_stabilization_seconds: Annotated[
        int | None,
        Field(
            description="How long load must stay low before the autoscaler removes pods (HPA behavior.scaleDown.stabilizationWindowSeconds). Unset: the cluster's default (5 minutes).",
            ge=0,
            le=3600,
        ),
    ] = None


class Resources(ApiModel):
    """Compute resources of each server container (``corev1.ResourceRequirements``)."""

    requests: Annotated[
        dict[str, Quantity],
        Field(description="Minimum resources the scheduler reserves, e.g. {cpu: 100m, memory: 256Mi}."),
    ] = Field(default_factory=dict)
    limits: Annotated[
        dict[str, Quantity],
        Field(description="Maximum resources the container may use, e.g. {memory: 512Mi}."),
    ] = Field(default_factory=dict)


class PodOverrides(ApiModel):
    """Scheduling and metadata settings copied into the category's pod template."""

    node_selector: Annotated[dict[str, str], Field(description="Node labels the pods must match.")] = Field(
        default_factory=dict
    )
    tolerations: Annotated[
        list[dict[str, Any]],
        Field(description="Tolerations of the pods (corev1.Toleration).", max_length=64),
    ] = Field(default_factory=list)
    affinity: Annotated[
        dict[str, Any] | None,
        Field(description="Affinity rules of the pods (corev1.Affinity)."),
    ] = None
    priority_class_name: Annotated[
        str | None, Field(description="PriorityClass of the pods.", max_length=253)
    ] = None
    labels: Annotated[dict[str, str], Field(description="Extra labels on the pods.")] = Field(
        default_factory=dict
    )
    annotations: Annotated[dict[str, str], Field(description="Extra annotations on the pods.")] = Field(
        default_factory=dict
    )


class MCPCategorySpec(ApiModel):
    """Desired state of a category server."""

    description: Annotated[
        str,
        Field(
            description="What the category's tools are for; the gateway uses it as routing context.",
            max_length=2048,
        ),
    ] = ""
    image: Annotated[
        str | None,
        Field(
            description="Container image of the server. Unset: the category image of the operator's release.",
            max_length=512,
        ),
    ] = None
    image_pull_policy: Annotated[
        Literal["Always", "IfNotPresent", "Never"] | None,
        Field(description="Image pull policy of the server container. Unset: the Kubernetes default."),
    ] = None
    replicas: Annotated[ReplicaRange, Field(description="Pod counts while the category is active.")] = Field(
        default_factory=ReplicaRange
    )
    scale_to_zero: Annotated[ScaleToZero, Field(description="Scaling to zero pods when idle.")] = Field(
        default_factory=ScaleToZero
    )
    autoscaling: Annotated[Autoscaling, Field(description="Autoscaler targets.")] = Field(
        default_factory=Autoscaling
    )
    resources: Annotated[Resources, Field(description="Compute resources of the server container.")] = Field(
        default_factory=Resources
    )
    pod: Annotated[PodOverrides, Field(description="Pod scheduling and metadata overrides.")] = Field(
        default_factory=PodOverrides
    )


class MCPCategoryStatus(ApiModel):
    """Observed state of a category server, written by the operator only."""

    observed_generation: Annotated[
        int | None, Field(description="The .metadata.generation this status describes.", ge=0)
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(description="Current observations: Ready (summary), Available.", max_length=16),
    ] = Field(default_factory=list)
    replicas: Annotated[int | None, Field(description="Pods of the category's Deployment.", ge=0)] = None
    ready_replicas: Annotated[
        int | None, Field(description="Pods that pass their readiness probe.", ge=0)
    ] = None
    integrations: Annotated[
        int | None, Field(description="MCPIntegrations assigned to this category.", ge=0)
    ] = None
    tools: Annotated[
        int | None, Field(description="Tools served by this category, over all its integrations.", ge=0)
    ] = None
    endpoint: Annotated[
        str | None, Field(description="In-cluster MCP endpoint of the category server.", max_length=512)
    ] = None


class MCPCategory(TypedObject):
    """A category server: one Deployment of the generic runtime serving many integrations' tools."""

    crd = CrdInfo(
        kind="MCPCategory",
        plural="mcpcategories",
        singular="mcpcategory",
        short_names=("mcpcat",),
        printer_columns=(
            ready_column(),
            {"name": "Replicas", "type": "integer", "jsonPath": ".status.readyReplicas"},
            {"name": "Integrations", "type": "integer", "jsonPath": ".status.integrations"},
            {"name": "Tools", "type": "integer", "jsonPath": ".status.tools"},
            reason_column(),
            {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint", "priority": 1},
            age_column(),
        ),
    )

    spec: Annotated[MCPCategorySpec, Field(description="Desired state of the category server.")]
    status: Annotated[
        MCPCategoryStatus | None, Field(description="Observed state, written by the operator.")
    ] = None
