"""Reading a catalog folder: MCPCategory, MCPIntegration and MCPProfile objects, and the ConfigMaps and Secrets they reference.

One loader serves local mode and the cluster, because both are a folder (docs/design/0004):

* every ``*.yaml``/``*.yml``/``*.json`` file is read as one or more Kubernetes objects; OpenAPI
  documents and unrelated files are skipped;
* a ``configMapKeyRef`` {name, key} is found, in this order, in a ConfigMap object in the folder,
  in a kustomize ``configMapGenerator`` entry (how examples/ ship their specs), or in the file
  ``<folder>/<name>/<key>`` (a ConfigMap mounted by the operator);
* Secret objects in the folder are kept for local development (credentials.py reads them).

An object that does not parse becomes an entry with an error: the others still load.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from toolmesh.api import MCPCategory, MCPIntegration, MCPProfile

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Entry:
    """One MCPIntegration found in the catalog, with its spec bytes once resolved."""

    name: str
    source_file: Path
    obj: MCPIntegration | None = None
    spec: bytes | None = None  # the OpenAPI document, for openapi sources resolved from the folder
    spec_url: str | None = None  # to be fetched, for url sources
    error: str | None = None  # why the integration cannot be served


@dataclass
class Catalog:
    entries: list[Entry]
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    categories: dict[str, MCPCategory] = field(default_factory=dict)
    #: Objects that did not parse, other than integrations (which are entries with an error).
    errors: list[str] = field(default_factory=list)
    profiles: dict[str, MCPProfile] = field(default_factory=dict)
    #: MCPProfile objects that did not parse: a profile narrows access, so the gateway refuses to
    #: start without it rather than serve its callers more than it meant (docs/design/0021).
    profile_errors: list[str] = field(default_factory=list)


_KIND = re.compile(r'^\s*"?kind"?\s*:', re.MULTILINE)


def _documents(path: Path) -> Iterator[Any]:
    """The objects in a file; files without a top-level-looking ``kind`` key are not parsed at all.

    Catalog folders hold large OpenAPI documents beside the objects (a mounted ConfigMap, a
    kustomize generator's inputs); parsing megabytes of JSON as YAML would dominate start-up.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if not _KIND.search(text):
        return
    try:
        if path.suffix == ".json":
            yield json.loads(text)
        else:
            yield from yaml.safe_load_all(text)
    except (yaml.YAMLError, ValueError):
        return  # not a file of objects (a spec with tabs, a fragment): not ours to read


def _decode(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: binaryData is not base64") from None


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    return f"{where}: {first['msg']}" + (
        f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    )


def load(folder: Path, *, category: str | None = None) -> Catalog:
    """Read every object in ``folder`` (recursively) and resolve the specs the integrations reference."""
    configmaps: dict[str, dict[str, bytes]] = {}
    secrets: dict[str, dict[str, bytes]] = {}
    raw_integrations: list[tuple[Path, dict[str, Any]]] = []
    categories: dict[str, MCPCategory] = {}
    profiles: dict[str, MCPProfile] = {}
    errors: list[str] = []
    profile_errors: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        for doc in _documents(path):
            if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
                continue
            kind, meta = doc["kind"], doc.get("metadata") or {}
            name = str(meta.get("name", ""))
            if kind == "MCPIntegration":
                raw_integrations.append((path, doc))
            elif kind == "MCPCategory":
                try:
                    categories[name] = MCPCategory.model_validate(doc)
                except ValidationError as exc:
                    errors.append(f"{path.name}: MCPCategory {name}: {_error_text(exc)}")
            elif kind == "MCPProfile":
                try:
                    profiles[name] = MCPProfile.model_validate(doc)
                except ValidationError as exc:
                    profile_errors.append(f"{path.name}: MCPProfile {name}: {_error_text(exc)}")
            elif kind == "ConfigMap":
                data = {k: str(v).encode() for k, v in (doc.get("data") or {}).items()}
                data.update(
                    {
                        k: _decode(str(v), f"{path}: ConfigMap {name}")
                        for k, v in (doc.get("binaryData") or {}).items()
                    }
                )
                configmaps[name] = data
            elif kind == "Secret":
                data = {
                    k: _decode(str(v), f"{path}: Secret {name}") for k, v in (doc.get("data") or {}).items()
                }
                data.update({k: str(v).encode() for k, v in (doc.get("stringData") or {}).items()})
                secrets[name] = data
            elif kind == "Kustomization":
                for generator in doc.get("configMapGenerator") or []:
                    files = configmaps.setdefault(str(generator.get("name")), {})
                    for item in generator.get("files") or []:
                        key, _, rel = str(item).rpartition("=")
                        target = path.parent / rel
                        if target.is_file():
                            files[key or target.name] = target.read_bytes()

    entries = []
    for path, doc in raw_integrations:
        name = str((doc.get("metadata") or {}).get("name") or path.stem)
        entry = Entry(name=name, source_file=path)
        try:
            entry.obj = MCPIntegration.model_validate(doc)
        except ValidationError as exc:
            entry.error = f"{path.name}: {_error_text(exc)}"
            entries.append(entry)
            continue
        if category is not None and entry.obj.spec.category != category:
            continue
        _resolve_spec(entry, entry.obj, configmaps, folder)
        entries.append(entry)
    return Catalog(
        entries=entries, secrets=secrets, categories=categories, errors=errors, profiles=profiles,
        profile_errors=profile_errors,
    )  # fmt: skip


def _resolve_spec(
    entry: Entry, obj: MCPIntegration, configmaps: dict[str, dict[str, bytes]], folder: Path
) -> None:
    source = obj.spec.openapi
    if source is None:
        return
    ref = source.spec
    if ref.inline is not None:
        entry.spec = ref.inline.encode()
    elif ref.url is not None:
        entry.spec_url = ref.url
    elif ref.config_map_key_ref is not None:
        name, key = ref.config_map_key_ref.name, ref.config_map_key_ref.key
        mounted = folder / name / key
        if key in configmaps.get(name, {}):
            entry.spec = configmaps[name][key]
        elif mounted.is_file():
            entry.spec = mounted.read_bytes()
        elif name in configmaps:
            entry.error = f"spec.openapi.spec.configMapKeyRef: ConfigMap {name!r} has no key {key!r}"
        else:
            entry.error = (
                f"spec.openapi.spec.configMapKeyRef: ConfigMap {name!r} not found in the catalog folder"
            )
