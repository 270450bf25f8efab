"""What a category server mounts: its integrations, packed into ConfigMaps under the 1 MiB limit.

Pure. The category server reads a folder (toolmesh.catalog.folder); the operator builds that folder
as one projected volume at ``/etc/toolmesh/catalog``:

* ``<configmap>/<integration>.json``: each MCPIntegration of the category (its spec, and the digest
  the operator compiled as ``status.specDigest``), packed
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
from functools import cached_property

from pydantic import JsonValue

from toolmesh.api import MCPIntegrationSpec
from toolmesh.api.meta import JsonObject
from toolmesh.operator import names


@dataclass(frozen=True)
class Member:
    """One integration of the category, as the operator last validated it."""

    name: str
    spec: JsonObject  # the object's .spec, wire form (camelCase), as stored: what the catalog mounts
    spec_digest: str = ""  # digest of the compiled tools; a referenced ConfigMap's change shows here

    @cached_property
    def model(self) -> MCPIntegrationSpec:
        return MCPIntegrationSpec.model_validate(self.spec)


class TooLarge(ValueError):
    """An inline document that does not fit in a ConfigMap even compressed."""


@dataclass
class Bundle:
    configmaps: list[tuple[str, dict[str, str], dict[str, str]]] = field(
        default_factory=list
    )  # name, data, binaryData
    sources: list[JsonObject] = field(default_factory=list)  # projected volume sources
    secrets: list[str] = field(default_factory=list)
    digest: str = ""
    too_large: dict[str, str] = field(default_factory=dict)  # integration -> message


#: As long as any compiled digest: what a catalog object's size is reckoned with before it is known.
DIGEST_ROOM = "sha256:" + "0" * 64


def _object(namespace: str, name: str, spec: JsonObject, spec_digest: str = "") -> JsonObject:
    """A catalog file's object. ``status.specDigest`` is the digest the operator compiled: the
    category server checks its own against it (a mismatch is a metric and a /readyz problem)."""
    obj: JsonObject = {
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    if spec_digest:
        obj["status"] = {"specDigest": spec_digest}
    return obj


def _dumps(obj: JsonValue) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(obj: JsonObject) -> str:
    """A catalog file: one key per line, since the catalog reader looks for a top-level kind first."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False)


def referenced_secrets(spec: MCPIntegrationSpec) -> set[str]:
    found = {spec.auth.secret_ref.name} if spec.auth and spec.auth.secret_ref else set()
    env = spec.stdio.env if spec.stdio else []
    return found | {e.secret_key_ref.name for e in env if e.secret_key_ref}


def inline_document(spec: MCPIntegrationSpec) -> str | None:
    return spec.openapi.spec.inline if spec.openapi else None


@dataclass(frozen=True)
class Placement:
    """How one integration travels in its category's catalog."""

    size: int  # bytes it takes in a catalog ConfigMap
    packed: bytes | None = None  # its inline document, gzip-compressed, when moved to a key of its own
    too_large: str | None = None  # why it cannot travel at all


def placement(name: str, namespace: str, spec: JsonObject, inline: str | None, max_bytes: int) -> Placement:
    """Where an integration's object (wire ``spec``, ``inline`` document) goes: as it is, with its document moved, or nowhere."""
    size = len(_text(_object(namespace, name, spec, DIGEST_ROOM)).encode())
    if inline is None or size <= max_bytes:
        return Placement(size)
    packed = gzip.compress(inline.encode(), mtime=0)
    size = len(base64.b64encode(packed)) + 1024
    if size > max_bytes:
        return Placement(size, packed, (
            f"spec.openapi.spec.inline is {len(inline.encode()) // 1024} KiB "
            f"({len(packed) // 1024} KiB compressed), more than a ConfigMap holds; put the document "
            "in a ConfigMap of its own (gzip-compressed, under binaryData) or serve it from a URL"
        ))  # fmt: skip
    return Placement(size, packed)


@dataclass(frozen=True)
class _Unit:
    """One integration in the catalog: its object, and its document when moved out of the object."""

    name: str
    spec: JsonObject
    packed: bytes | None
    size: int
    spec_digest: str = ""


def _pointing_at(spec: JsonObject, configmap: str, key: str) -> JsonObject:
    """The wire spec with its OpenAPI document replaced by a reference to ``configmap``/``key``."""
    openapi = spec["openapi"]
    assert isinstance(openapi, dict)
    return {**spec, "openapi": {**openapi, "spec": {"configMapKeyRef": {"name": configmap, "key": key}}}}


def _shards(units: list[_Unit], max_bytes: int) -> list[list[_Unit]]:
    shards: list[list[_Unit]] = [[]]
    used = 0
    for unit in units:
        if shards[-1] and used + unit.size > max_bytes:
            shards.append([])
            used = 0
        shards[-1].append(unit)
        used += unit.size
    return shards


def _pack(bundle: Bundle, configmap: str, namespace: str, shard: list[_Unit]) -> None:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for unit in shard:
        spec = unit.spec
        if unit.packed is not None:
            key = f"{unit.name}.spec.gz"
            binary[key] = base64.b64encode(unit.packed).decode()
            spec = _pointing_at(spec, configmap, key)
        data[f"{unit.name}.json"] = _text(_object(namespace, unit.name, spec, unit.spec_digest))
    bundle.configmaps.append((configmap, data, binary))
    items: list[JsonValue] = [{"key": key, "path": f"{configmap}/{key}"} for key in sorted([*data, *binary])]
    bundle.sources.append({"configMap": {"name": configmap, "items": items}})


def build(category: str, namespace: str, members: list[Member], max_bytes: int) -> Bundle:
    bundle = Bundle()
    units: list[_Unit] = []
    referenced: dict[str, set[str]] = {}
    secrets: set[str] = set()
    digest = hashlib.sha256()
    for member in sorted(members, key=lambda m: m.name):
        where = placement(member.name, namespace, member.spec, inline_document(member.model), max_bytes)
        if where.too_large is not None:
            bundle.too_large[member.name] = where.too_large
            continue
        source = member.model.openapi.spec if member.model.openapi else None
        if where.packed is None and source and (ref := source.config_map_key_ref):
            referenced.setdefault(ref.name, set()).add(ref.key)
        secrets |= referenced_secrets(member.model)
        units.append(_Unit(member.name, member.spec, where.packed, where.size, member.spec_digest))
        digest.update(f"{member.name}\0{_dumps(member.spec)}\0{member.spec_digest}\n".encode())
    for index, shard in enumerate(_shards(units, max_bytes)):
        _pack(bundle, names.catalog_configmap(category, index), namespace, shard)
    for name in sorted(referenced):
        items: list[JsonValue] = [{"key": key, "path": f"{name}/{key}"} for key in sorted(referenced[name])]
        bundle.sources.append({"configMap": {"name": name, "items": items, "optional": True}})
    bundle.secrets = sorted(secrets)
    bundle.digest = digest.hexdigest()
    return bundle
