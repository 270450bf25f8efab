"""What a category server mounts: its integrations, packed into ConfigMaps under the 1 MiB limit.

Pure. The category server reads a folder (toolmesh.catalog.folder); the operator builds that folder
as one projected volume at ``/etc/toolmesh/catalog``:

* ``<configmap>/<integration>.json``: each MCPIntegration of the category (its spec only), packed
  into catalog ConfigMaps of at most ``max_bytes`` each (``mcp-<category>-catalog``, ``-1``, ...);
* an inline document too large to travel inside its object is moved, gzip-compressed, to its own
  key ``<integration>.spec.gz`` and the object points at it (a ``configMapKeyRef``);
* ``<configmap>/<key>`` for every ConfigMap an integration references: the admin's own ConfigMap
  is mounted, never copied, so a document that fits there is served as it is.

The digest covers everything the server reads, so the pod template changes (and pods roll) exactly
when the served content changes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from toolmesh.operator import names


@dataclass(frozen=True)
class Member:
    """One integration of the category, as the operator last validated it."""

    name: str
    spec: dict[str, Any]  # the object's .spec, wire form (camelCase)
    spec_digest: str = ""  # digest of the compiled tools; a referenced ConfigMap's change shows here


class TooLarge(ValueError):
    """An inline document that does not fit in a ConfigMap even compressed."""


@dataclass
class Bundle:
    configmaps: list[tuple[str, dict[str, str], dict[str, str]]] = field(
        default_factory=list
    )  # name, data, binaryData
    sources: list[dict[str, Any]] = field(default_factory=list)  # projected volume sources
    secrets: list[str] = field(default_factory=list)
    digest: str = ""
    too_large: dict[str, str] = field(default_factory=dict)  # integration -> message


def _object(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(obj: dict[str, Any]) -> str:
    """A catalog file: one key per line, since the catalog reader looks for a top-level kind first."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False)


def referenced_secrets(spec: dict[str, Any]) -> set[str]:
    found = set()
    if ref := (spec.get("auth") or {}).get("secretRef"):
        found.add(str(ref["name"]))
    for env in (spec.get("stdio") or {}).get("env") or []:
        if ref := env.get("secretKeyRef"):
            found.add(str(ref["name"]))
    return found


@dataclass(frozen=True)
class Placement:
    """How one integration travels in its category's catalog."""

    size: int  # bytes it takes in a catalog ConfigMap
    packed: bytes | None = None  # its inline document, gzip-compressed, when moved to a key of its own
    too_large: str | None = None  # why it cannot travel at all


def placement(name: str, namespace: str, spec: dict[str, Any], max_bytes: int) -> Placement:
    """Where an integration's object (wire ``spec``) goes: as it is, with its document moved, or nowhere."""
    source = (spec.get("openapi") or {}).get("spec") or {}
    size = len(_text(_object(namespace, name, spec)).encode())
    if source.get("inline") is None or size <= max_bytes:
        return Placement(size)
    packed = gzip.compress(source["inline"].encode(), mtime=0)
    size = len(base64.b64encode(packed)) + 1024
    if size > max_bytes:
        return Placement(size, packed, (
            f"spec.openapi.spec.inline is {len(source['inline'].encode()) // 1024} KiB "
            f"({len(packed) // 1024} KiB compressed), more than a ConfigMap holds; put the document "
            "in a ConfigMap of its own (gzip-compressed, under binaryData) or serve it from a URL"
        ))  # fmt: skip
    return Placement(size, packed)


def build(category: str, namespace: str, members: list[Member], max_bytes: int) -> Bundle:
    bundle = Bundle()
    # One unit per integration: its object, and its document when moved out of the object.
    units: list[tuple[str, dict[str, Any], bytes | None, int]] = []
    referenced: dict[str, set[str]] = {}
    secrets: set[str] = set()
    digest = hashlib.sha256()
    for member in sorted(members, key=lambda m: m.name):
        spec = json.loads(_dumps(member.spec))  # a private copy
        where = placement(member.name, namespace, spec, max_bytes)
        if where.too_large is not None:
            bundle.too_large[member.name] = where.too_large
            continue
        ref = ((spec.get("openapi") or {}).get("spec") or {}).get("configMapKeyRef")
        if where.packed is None and ref:
            referenced.setdefault(str(ref["name"]), set()).add(str(ref["key"]))
        secrets |= referenced_secrets(spec)
        units.append((member.name, spec, where.packed, where.size))
        digest.update(f"{member.name}\0{_dumps(member.spec)}\0{member.spec_digest}\n".encode())

    shards: list[list[tuple[str, dict[str, Any], bytes | None, int]]] = [[]]
    used = 0
    for unit in units:
        if shards[-1] and used + unit[3] > max_bytes:
            shards.append([])
            used = 0
        shards[-1].append(unit)
        used += unit[3]

    for index, shard in enumerate(shards):
        configmap = names.catalog_configmap(category, index)
        data: dict[str, str] = {}
        binary: dict[str, str] = {}
        for name, spec, packed, _ in shard:
            if packed is not None:
                key = f"{name}.spec.gz"
                binary[key] = base64.b64encode(packed).decode()
                spec["openapi"]["spec"] = {"configMapKeyRef": {"name": configmap, "key": key}}
            data[f"{name}.json"] = _text(_object(namespace, name, spec))
        bundle.configmaps.append((configmap, data, binary))
        items = [{"key": key, "path": f"{configmap}/{key}"} for key in sorted([*data, *binary])]
        bundle.sources.append({"configMap": {"name": configmap, "items": items}})
    for name in sorted(referenced):
        items = [{"key": key, "path": f"{name}/{key}"} for key in sorted(referenced[name])]
        bundle.sources.append({"configMap": {"name": name, "items": items, "optional": True}})
    bundle.secrets = sorted(secrets)
    bundle.digest = digest.hexdigest()
    return bundle
