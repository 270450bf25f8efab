"""An integration's OpenAPI document, read from the cluster: inline, a ConfigMap key, or a URL.

Shared by the operator (which validates and compiles it) and the gateway in cluster mode (which
compiles it to index the tools). Problems come back as (reason, message) naming the field.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import aiohttp

from toolmesh.api import MCPIntegration, conditions
from toolmesh.api.base import KeyReference
from toolmesh.catalog import fetch
from toolmesh.kube import KubeClient


@dataclass(frozen=True)
class Document:
    data: bytes | None
    source: str  # for status.source
    problem: tuple[str, str] | None = None  # (reason, message)


async def read(
    client: KubeClient,
    http: aiohttp.ClientSession,
    obj: MCPIntegration,
    namespace: str,
    *,
    timeout: float,
    max_bytes: int,
) -> Document:
    """The integration's OpenAPI document, from wherever ``spec.openapi.spec`` says."""
    assert obj.spec.openapi is not None
    ref = obj.spec.openapi.spec
    if ref.inline is not None:
        data = ref.inline.encode()
        return Document(data, f"inline ({fetch.size(len(data))})")
    if ref.config_map_key_ref is not None:
        return await _from_configmap(client, namespace, ref.config_map_key_ref)
    assert ref.url is not None
    return await _from_url(http, ref.url, timeout, max_bytes)


def _problem(source: str, reason: str, message: str) -> Document:
    return Document(None, source, (reason, message))


async def _from_configmap(client: KubeClient, namespace: str, ref: KeyReference) -> Document:
    name, key = ref.name, ref.key
    field = "spec.openapi.spec.configMapKeyRef"
    source = f"ConfigMap {name}"
    configmap = await client.get("ConfigMap", namespace, name)
    if configmap is None:
        return _problem(
            source,
            conditions.SPEC_UNAVAILABLE,
            f"{field}: ConfigMap {name!r} was not found in namespace {namespace!r}; create it or fix the reference",
        )
    text: dict[str, str] = configmap.get("data") or {}
    binary: dict[str, str] = configmap.get("binaryData") or {}
    if key in text:
        data = str(text[key]).encode()
    elif key in binary:
        try:
            data = base64.b64decode(binary[key], validate=True)
        except (binascii.Error, ValueError):
            return _problem(
                source,
                conditions.SPEC_INVALID,
                f"{field}: binaryData key {key!r} of ConfigMap {name!r} is not base64",
            )
    else:
        keys = sorted([*text, *binary])
        return _problem(
            source,
            conditions.SPEC_UNAVAILABLE,
            f"{field}: ConfigMap {name!r} has no key {key!r} (it has: {', '.join(keys) or 'none'})",
        )
    packed = " gzip," if data[:2] == b"\x1f\x8b" else ""
    return Document(data, f"ConfigMap {name}/{key} (mounted,{packed} {fetch.size(len(data))})")


async def _from_url(http: aiohttp.ClientSession, url: str, timeout: float, max_bytes: int) -> Document:
    field = "spec.openapi.spec.url"
    try:
        data = await fetch.fetch(url, http=http, timeout=timeout, max_bytes=max_bytes)
    except fetch.TooLarge as exc:
        return _problem("URL", conditions.SPEC_TOO_LARGE, f"{field}: {exc}")
    except fetch.FetchError as exc:
        return _problem("URL", conditions.SPEC_UNAVAILABLE, f"{field}: {exc}")
    return Document(data, f"URL (fetched by the category server at start-up, {fetch.size(len(data))} now)")
