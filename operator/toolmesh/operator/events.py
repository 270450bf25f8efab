"""Warning Events: only for what an admin must act on (``kubectl describe`` shows them).

kopf's own event posting is off (handlers.py); the reconciler posts these when an integration turns
not Ready. An Event is best effort: failing to post one never fails a reconcile.
"""

from __future__ import annotations

import datetime as dt

import structlog

from toolmesh.api import MCPIntegrationStatus
from toolmesh.api.base import TypedObject
from toolmesh.api.meta import Envelope, JsonObject
from toolmesh.kube import ApiError, KubeClient
from toolmesh.operator import names

log = structlog.get_logger("toolmesh.operator")


def warning(
    obj: Envelope[MCPIntegrationStatus] | TypedObject, reason: str, message: str, now: dt.datetime
) -> JsonObject:
    """The Event object. Pure."""
    meta = obj.metadata
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta.name}.", "namespace": meta.namespace},
        "involvedObject": {"apiVersion": obj.api_version, "kind": obj.kind, "name": meta.name, "namespace": meta.namespace, "uid": meta.uid, "resourceVersion": meta.resource_version},
        "type": "Warning", "reason": reason, "message": message[:1024],
        "source": {"component": names.FIELD_MANAGER},
        "reportingComponent": f"{names.DOMAIN}/operator", "reportingInstance": names.FIELD_MANAGER,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }  # fmt: skip


async def warn(
    client: KubeClient,
    obj: Envelope[MCPIntegrationStatus] | TypedObject,
    reason: str,
    message: str,
    now: dt.datetime,
) -> None:
    """Post a Warning Event on ``obj``."""
    try:
        await client.create(warning(obj, reason, message, now))
    except ApiError as exc:
        log.warning("event_not_posted", reason=reason, error=str(exc))
