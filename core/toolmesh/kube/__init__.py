"""A small asynchronous Kubernetes client for the operator and the gateway (docs/design/0007)."""

from toolmesh.kube.client import ApiError, KubeClient, WatchEvent
from toolmesh.kube.config import Connection, load_connection
from toolmesh.kube.resources import RESOURCES, Resource, resource_of

__all__ = [
    "RESOURCES",
    "ApiError",
    "Connection",
    "KubeClient",
    "Resource",
    "WatchEvent",
    "load_connection",
    "resource_of",
]
