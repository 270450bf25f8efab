"""The API resources toolmesh reads and writes, by kind: the URL parts a request needs.

A fixed table rather than discovery: toolmesh touches a known handful of kinds, and a table costs
no round trip at start-up and fails loudly in review rather than at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolmesh.api import API_VERSION


@dataclass(frozen=True)
class Resource:
    api_version: str  # "v1", "apps/v1", "toolmesh.dev/v1alpha1"
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource(API_VERSION, "MCPCategory", "mcpcategories"),
        Resource(API_VERSION, "MCPIntegration", "mcpintegrations"),
        Resource(API_VERSION, "MCPProfile", "mcpprofiles"),
        Resource("v1", "ConfigMap", "configmaps"),
        Resource("v1", "Secret", "secrets"),
        Resource("v1", "Service", "services"),
        Resource("v1", "ServiceAccount", "serviceaccounts"),
        Resource("v1", "Event", "events"),
        Resource("v1", "Namespace", "namespaces", namespaced=False),
        Resource("apps/v1", "Deployment", "deployments"),
        Resource("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        Resource("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Resource("coordination.k8s.io/v1", "Lease", "leases"),
        Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        Resource("rbac.authorization.k8s.io/v1", "Role", "roles"),
        Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
        Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
        Resource(
            "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False
        ),
        Resource(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
        ),
    )
}


def resource_of(obj_or_kind: dict[str, object] | str) -> Resource:
    kind = obj_or_kind if isinstance(obj_or_kind, str) else str(obj_or_kind.get("kind"))
    try:
        return RESOURCES[kind]
    except KeyError:
        raise ValueError(f"toolmesh.kube does not know the kind {kind!r}") from None
