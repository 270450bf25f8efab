"""The one module that writes child objects: server-side apply with one field manager.

A write happens only when it would change something: the object is missing, the operator's intent
changed since the last apply (a hash of the intent is kept in an annotation, so that a field the
operator stopped setting is also removed), or a field of that intent was changed by someone else
(drift: the live object is no longer a superset of the intent). A resync with nothing to do sends
reads only.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping

from toolmesh.api.meta import JsonObject, ObjectMeta
from toolmesh.kube import KubeClient
from toolmesh.operator import names


def intent_hash(manifest: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[
        :20
    ]


def is_subset(desired: object, live: object) -> bool:
    """Every field of ``desired`` has the same value in ``live`` (which may hold server defaults)."""
    if isinstance(desired, dict):
        # The API server drops empty maps and lists (omitempty): an empty value matches a missing key.
        return isinstance(live, dict) and all(
            is_subset(v, live[k]) if k in live else v in ({}, []) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
        )
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return float(desired) == float(live)
    return bool(desired == live)


def _head(obj: Mapping[str, object]) -> ObjectMeta:
    """The metadata of a child object (desired or live), typed."""
    return ObjectMeta.model_validate(obj["metadata"])


def with_hash(manifest: JsonObject) -> JsonObject:
    out = copy.deepcopy(manifest)
    meta = out["metadata"]
    assert isinstance(meta, dict)
    annotations = meta.setdefault("annotations", {})
    assert isinstance(annotations, dict)
    annotations[names.DESIRED_HASH] = intent_hash(manifest)
    return out


def up_to_date(desired: Mapping[str, object], live: Mapping[str, object] | None) -> bool:
    if live is None:
        return False
    recorded = _head(live).annotations.get(names.DESIRED_HASH)
    return recorded == intent_hash(desired) and is_subset(desired, live)


async def ensure(
    client: KubeClient, desired: JsonObject, live: dict[str, object] | None = None
) -> dict[str, object]:
    """Make the object match ``desired``; returns the live object. ``live``: a copy already read."""
    meta = _head(desired)
    if live is None:
        live = await client.get(str(desired["kind"]), meta.namespace, meta.name)
    if up_to_date(desired, live):
        assert live is not None
        return live
    applied: dict[str, object] = await client.apply(with_hash(desired), field_manager=names.FIELD_MANAGER)
    return applied


def is_ours(live: Mapping[str, object] | None) -> bool:
    return live is not None and _head(live).labels.get(names.MANAGED_BY) == names.MANAGED_BY_VALUE


async def ensure_absent(client: KubeClient, kind: str, namespace: str, name: str) -> bool:
    """Delete an optional child the operator made, if it exists; True when deleted."""
    live = await client.get(kind, namespace, name)
    if not is_ours(live):
        return False
    return await client.delete(kind, namespace, name)


async def prune(client: KubeClient, kind: str, namespace: str, category: str, keep: set[str]) -> list[str]:
    """Delete the category's children of ``kind`` not in ``keep`` (e.g. catalog shards no longer needed)."""
    items, _ = await client.list(kind, namespace, label_selector=selector_of(category))
    removed = []
    for name in (_head(item).name for item in items):
        if name not in keep:
            await client.delete(kind, namespace, name)
            removed.append(name)
    return removed


def selector_of(category: str) -> str:
    """Label selector of everything the operator made for ``category``."""
    value = names.labels(category)[names.CATEGORY_LABEL]
    return f"{names.CATEGORY_LABEL}={value},{names.MANAGED_BY}={names.MANAGED_BY_VALUE}"
