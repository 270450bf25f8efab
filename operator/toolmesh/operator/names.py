"""Names and labels of everything the operator creates, in one place."""

from __future__ import annotations

import hashlib

from toolmesh.api import demand

FIELD_MANAGER = "toolmesh-operator"
DOMAIN = "toolmesh.dev"
CATEGORY_LABEL = demand.CATEGORY_LABEL
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "toolmesh-operator"
CATALOG_DIGEST = f"{DOMAIN}/catalog-digest"
DESIRED_HASH = f"{DOMAIN}/desired-hash"

CATALOG_MOUNT = "/etc/toolmesh/catalog"
SECRETS_MOUNT = "/etc/toolmesh/secrets"
#: A projected ServiceAccount token for the Vault login (audience: the operator's vault_audience).
VAULT_TOKEN_MOUNT = "/var/run/secrets/toolmesh/vault"
PORT = 8080
#: The category server's /healthz, /readyz and /metrics (probes, Prometheus): never in the Service.
OPS_PORT = 8090
SERVICE_PORT = 80


def _fit(name: str, limit: int) -> str:
    """Kubernetes names are capped (63 for labels and Services); shorten with a stable hash."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def server(category: str) -> str:
    """Deployment, Service, ServiceAccount, HPA and PDB of a category."""
    return _fit(f"mcp-{category}", 63)


def catalog_configmap(category: str, shard: int) -> str:
    return _fit(f"mcp-{category}-catalog", 59) + (f"-{shard}" if shard else "")


def demand_lease(category: str) -> str:
    """The Lease the gateway renews while a category is in use (the operator only reads it)."""
    return demand.lease_name(category)


def endpoint(category: str, namespace: str) -> str:
    return f"http://{server(category)}.{namespace}.svc:{SERVICE_PORT}/mcp"


def selector(category: str) -> dict[str, str]:
    """Pod selector of a category's Deployment and Service (immutable once created)."""
    return {"app.kubernetes.io/name": "toolmesh-category", "app.kubernetes.io/instance": _fit(category, 63)}


def labels(category: str) -> dict[str, str]:
    return {
        **selector(category),
        "app.kubernetes.io/component": "category-server",
        "app.kubernetes.io/part-of": "toolmesh",
        MANAGED_BY: MANAGED_BY_VALUE,
        CATEGORY_LABEL: demand.label_value(category),
    }
