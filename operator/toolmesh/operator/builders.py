"""Complete manifests of a category's children. Pure: no clock, no globals, no I/O.

Each builder returns the whole intent of the operator for one object; ``apply`` sends it with
server-side apply, so a field the operator stops setting is removed, and a field someone else
changed is put back.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from toolmesh.api import API_VERSION, MCPCategory
from toolmesh.api.category import Autoscaling, PodOverrides
from toolmesh.api.meta import JsonObject, ObjectMeta
from toolmesh.operator import names
from toolmesh.operator.bundle import Bundle
from toolmesh.operator.scaling import Scale

#: Category server settings given by the operator's TOOLMESH_OPERATOR_CATEGORY_SETTINGS: (name, value).
Settings = tuple[tuple[str, str], ...]

DEFAULT_REQUESTS = {"cpu": "100m", "memory": "256Mi"}
DEFAULT_LIMITS = {"memory": "512Mi"}
RUN_AS = 10001  # the category image's non-root user (Dockerfile)
PRE_STOP_SECONDS = 5  # how long a stopping pod serves on while the Service drops it


def owner_reference(category: ObjectMeta) -> JsonObject:
    return {
        "apiVersion": API_VERSION,
        "kind": "MCPCategory",
        "name": category.name,
        "uid": category.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _meta(name: str, namespace: str, category: str, owner: JsonObject) -> JsonObject:
    return {
        "name": name,
        "namespace": namespace,
        "labels": dict(names.labels(category)),
        "ownerReferences": [owner],
    }


def service_account(category: str, namespace: str, owner: JsonObject) -> JsonObject:
    """The server needs no API access: its token is not mounted."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(names.server(category), namespace, category, owner),
        "automountServiceAccountToken": False,
    }


def catalog_configmaps(category: str, namespace: str, owner: JsonObject, bundle: Bundle) -> list[JsonObject]:
    out = []
    for name, data, binary in bundle.configmaps:
        manifest: JsonObject = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(name, namespace, category, owner),
            "data": dict(data),
        }
        if binary:
            manifest["binaryData"] = dict(binary)
        out.append(manifest)
    return out


def _secret_volume(secret: str) -> tuple[JsonObject, JsonObject]:
    volume_name = f"secret-{secret}"[:63].rstrip("-.")
    return (
        {"name": volume_name, "secret": {"secretName": secret, "optional": True}},
        {"name": volume_name, "mountPath": f"{names.SECRETS_MOUNT}/{secret}", "readOnly": True},
    )


@dataclass(frozen=True)
class VaultWiring:
    """How category pods reach Vault: kubernetes auth with a projected ServiceAccount token.

    Each category logs in as the Vault role named like its ServiceAccount (toolmesh-category-<name>),
    so an admin grants each category only its integrations' paths (docs/design/security.md).
    """

    addr: str
    auth_mount: str = "kubernetes"
    audience: str = "vault"
    kv_mount: str = "secret"


def _vault_env(wiring: VaultWiring, category: str) -> list[JsonValue]:
    return [
        {"name": "TOOLMESH_VAULT_ADDR", "value": wiring.addr},
        {"name": "TOOLMESH_VAULT_AUTH_METHOD", "value": "kubernetes"},
        {"name": "TOOLMESH_VAULT_AUTH_MOUNT", "value": wiring.auth_mount},
        {"name": "TOOLMESH_VAULT_ROLE", "value": names.server(category)},
        {"name": "TOOLMESH_VAULT_SERVICE_ACCOUNT_TOKEN_FILE", "value": f"{names.VAULT_TOKEN_MOUNT}/token"},
        {"name": "TOOLMESH_VAULT_KV_MOUNT", "value": wiring.kv_mount},
    ]


def _vault_volume(wiring: VaultWiring) -> JsonObject:
    """A short-lived token for Vault alone; the API server's is never mounted."""
    return {
        "name": "vault-token",
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": wiring.audience, "expirationSeconds": 3600, "path": "token",
        }}], "defaultMode": 0o444},
    }  # fmt: skip


def _resources(obj: MCPCategory) -> JsonObject:
    resources = obj.spec.resources
    return {
        "requests": {**DEFAULT_REQUESTS, **{k: str(v) for k, v in resources.requests.items()}},
        "limits": {**DEFAULT_LIMITS, **{k: str(v) for k, v in resources.limits.items()}},
    }


def _probes() -> JsonObject:
    return {
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "ops"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "ops"},
            "periodSeconds": 10,
            "failureThreshold": 3,
            # A hung server is killed 5 s after its third miss, not after the pod's grace period.
            "terminationGracePeriodSeconds": 5,
        },
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "ops"},
            "periodSeconds": 2,
            "failureThreshold": 60,
        },
    }


def container(
    obj: MCPCategory,
    bundle: Bundle,
    default_image: str,
    vault: VaultWiring | None,
    otlp: str | None = None,
    extra: Settings = (),
) -> JsonObject:
    """The server container: the generic runtime serving the mounted catalog; ``otlp``: the
    collector its traces go to (OTEL_EXPORTER_OTLP_ENDPOINT; None: no tracing); ``extra``: the
    operator's other category server settings (TOOLMESH_CATEGORY_<name>)."""
    category = obj.metadata.name
    env: list[JsonValue] = [
        {"name": "TOOLMESH_CATEGORY_CATEGORY", "value": category},
        {"name": "TOOLMESH_CATEGORY_HOST", "value": "0.0.0.0"},
        {"name": "TOOLMESH_CATEGORY_PORT", "value": str(names.PORT)},
        {"name": "TOOLMESH_CATEGORY_OPS_PORT", "value": str(names.OPS_PORT)},
        {"name": "TOOLMESH_CATEGORY_CREDENTIALS_DIR", "value": names.SECRETS_MOUNT},
        {"name": "TOOLMESH_CATEGORY_LOG_FORMAT", "value": "json"},
        *(_vault_env(vault, category) if vault else []),
    ]
    overridden = {f"TOOLMESH_CATEGORY_{name}" for name, _ in extra}  # the log format, say
    env = [e for e in env if not (isinstance(e, dict) and e.get("name") in overridden)]
    env.extend({"name": f"TOOLMESH_CATEGORY_{name}", "value": value} for name, value in sorted(extra))
    if otlp:
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": otlp})
    mounts: list[JsonValue] = [
        {"name": "catalog", "mountPath": names.CATALOG_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
        *(mount for _, mount in map(_secret_volume, bundle.secrets)),
    ]
    if vault is not None:
        mounts.append({"name": "vault-token", "mountPath": names.VAULT_TOKEN_MOUNT, "readOnly": True})
    out: JsonObject = {
        "name": "server",
        "image": obj.spec.image or default_image,
        "args": ["category", "serve", names.CATALOG_MOUNT],
        "env": env,
        "ports": [
            {"name": "http", "containerPort": names.PORT, "protocol": "TCP"},
            {"name": "ops", "containerPort": names.OPS_PORT, "protocol": "TCP"},
        ],
        **_probes(),
        # Serve on while the Service drops this pod (kube-proxy syncs within about a second); then
        # SIGTERM, and the calls in flight finish before the process exits.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "resources": _resources(obj),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    if obj.spec.image_pull_policy:
        out["imagePullPolicy"] = obj.spec.image_pull_policy
    return out


def _scheduling(pod: PodOverrides) -> JsonObject:
    """The pod template's scheduling fields the MCPCategory sets (spec.pod)."""
    out: JsonObject = {}
    if pod.node_selector:
        out["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        out["tolerations"] = list(pod.tolerations)
    if pod.affinity:
        out["affinity"] = dict(pod.affinity)
    if pod.priority_class_name:
        out["priorityClassName"] = pod.priority_class_name
    return out


def pod_spec(
    obj: MCPCategory,
    bundle: Bundle,
    default_image: str,
    vault: VaultWiring | None,
    otlp: str | None = None,
    extra: Settings = (),
) -> JsonObject:
    category = obj.metadata.name
    return {
        "serviceAccountName": names.server(category),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(obj, bundle, default_image, vault, otlp, extra)],
        "volumes": [
            {"name": "catalog", "projected": {"sources": list(bundle.sources), "defaultMode": 0o444}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            *(volume for volume, _ in map(_secret_volume, bundle.secrets)),
            *([_vault_volume(vault)] if vault else []),
        ],
        **_scheduling(obj.spec.pod),
    }


def deployment(
    obj: MCPCategory,
    namespace: str,
    owner: JsonObject,
    bundle: Bundle,
    scale: Scale,
    default_image: str,
    vault: VaultWiring | None = None,
    otlp: str | None = None,
    extra: Settings = (),
) -> JsonObject:
    category = obj.metadata.name
    pod = obj.spec.pod
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(names.server(category), namespace, category, owner),
        "spec": {
            "replicas": scale.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": dict(names.selector(category))},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": {**pod.labels, **names.labels(category)},
                    "annotations": {**pod.annotations, names.CATALOG_DIGEST: bundle.digest},
                },
                "spec": pod_spec(obj, bundle, default_image, vault, otlp, extra),
            },
        },
    }


def service(category: str, namespace: str, owner: JsonObject) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(names.server(category), namespace, category, owner),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(names.selector(category)),
            "ports": [{"name": "http", "port": names.SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _metrics(autoscaling: Autoscaling) -> list[JsonValue]:
    metrics: list[JsonValue] = []
    if autoscaling.target_cpu_utilization_percentage is not None:
        metrics.append({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": autoscaling.target_cpu_utilization_percentage}},
        })  # fmt: skip
    if autoscaling.target_inflight_requests is not None:
        metrics.append({
            "type": "Pods",
            "pods": {
                "metric": {"name": "toolmesh_category_inflight_requests"},
                "target": {"type": "AverageValue", "averageValue": str(autoscaling.target_inflight_requests)},
            },
        })  # fmt: skip
    return metrics


def autoscaler(obj: MCPCategory, namespace: str, owner: JsonObject) -> JsonObject | None:
    """The HPA, or None when nothing is to be autoscaled (no target, or a fixed replica count)."""
    category = obj.metadata.name
    spec = obj.spec
    metrics = _metrics(spec.autoscaling)
    if not metrics or spec.replicas.min == spec.replicas.max:
        return None
    hpa: JsonObject = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.server(category)},
        "minReplicas": spec.replicas.min,
        "maxReplicas": spec.replicas.max,
        "metrics": metrics,
    }
    window = spec.autoscaling.scale_down_stabilization_seconds if spec.autoscaling else None
    if window is not None:
        hpa["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": window}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(names.server(category), namespace, category, owner),
        "spec": hpa,
    }


def disruption_budget(category: str, namespace: str, owner: JsonObject) -> JsonObject:
    """At most one pod down by a voluntary disruption (a drain); never blocks a drain of one replica."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(names.server(category), namespace, category, owner),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": dict(names.selector(category))},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def children(
    obj: MCPCategory,
    bundle: Bundle,
    scale: Scale,
    default_image: str,
    vault: VaultWiring | None = None,
    otlp: str | None = None,
    extra: Settings = (),
) -> tuple[list[JsonObject], list[tuple[str, str]]]:
    """Desired children, and the (kind, name) of optional children that must not exist."""
    category, namespace = obj.metadata.name, obj.metadata.namespace
    owner = owner_reference(obj.metadata)
    desired = [
        service_account(category, namespace, owner),
        *catalog_configmaps(category, namespace, owner, bundle),
        deployment(obj, namespace, owner, bundle, scale, default_image, vault, otlp, extra),
        service(category, namespace, owner),
        disruption_budget(category, namespace, owner),
    ]
    absent: list[tuple[str, str]] = []
    hpa = None if scale.asleep else autoscaler(obj, namespace, owner)
    if hpa is not None:
        desired.append(hpa)
    else:
        absent.append(("HorizontalPodAutoscaler", names.server(category)))
    return desired, absent
