"""Reading an integration's OpenAPI document (inline, ConfigMap or URL) and compiling it, cached.

The compiler is the same one the category server and the gateway run (toolmesh.openapi), so the
tool count and digest in the status are exactly what will be served.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass

import aiohttp

from toolmesh.api import MCPIntegration, conditions
from toolmesh.api.integration import compile_options
from toolmesh.kube import KubeClient
from toolmesh.openapi import SpecError, compile_spec
from toolmesh.openapi.model import Level


@dataclass(frozen=True)
class Document:
    data: bytes | None
    source: str  # for status.source
    problem: tuple[str, str] | None = None  # (reason, message)


@dataclass(frozen=True)
class Compiled:
    tools: int
    digest: str
    warnings: tuple[str, ...]
    problem: tuple[str, str] | None = None


def _size(n: int) -> str:
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"
    )


async def read(
    client: KubeClient,
    http: aiohttp.ClientSession,
    obj: MCPIntegration,
    namespace: str,
    *,
    timeout: float,
    max_bytes: int,
) -> Document:
    assert obj.spec.openapi is not None
    ref = obj.spec.openapi.spec
    if ref.inline is not None:
        data = ref.inline.encode()
        return Document(data, f"inline ({_size(len(data))})")
    if ref.config_map_key_ref is not None:
        name, key = ref.config_map_key_ref.name, ref.config_map_key_ref.key
        field = "spec.openapi.spec.configMapKeyRef"
        configmap = await client.get("ConfigMap", namespace, name)
        if configmap is None:
            return Document(
                None,
                f"ConfigMap {name}",
                (
                    conditions.SPEC_UNAVAILABLE,
                    f"{field}: ConfigMap {name!r} was not found in namespace {namespace!r}; create it or fix the reference",
                ),
            )
        if key in (configmap.get("data") or {}):
            data = str(configmap["data"][key]).encode()
        elif key in (configmap.get("binaryData") or {}):
            try:
                data = base64.b64decode(configmap["binaryData"][key], validate=True)
            except (binascii.Error, ValueError):
                return Document(
                    None,
                    f"ConfigMap {name}",
                    (
                        conditions.SPEC_INVALID,
                        f"{field}: binaryData key {key!r} of ConfigMap {name!r} is not base64",
                    ),
                )
        else:
            keys = sorted([*(configmap.get("data") or {}), *(configmap.get("binaryData") or {})])
            return Document(
                None,
                f"ConfigMap {name}",
                (
                    conditions.SPEC_UNAVAILABLE,
                    f"{field}: ConfigMap {name!r} has no key {key!r} (it has: {', '.join(keys) or 'none'})",
                ),
            )
        packed = " gzip," if data[:2] == b"\x1f\x8b" else ""
        return Document(data, f"ConfigMap {name}/{key} (mounted,{packed} {_size(len(data))})")
    assert ref.url is not None
    field = "spec.openapi.spec.url"
    try:
        async with http.get(
            ref.url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True
        ) as response:
            if response.status >= 400:
                return Document(
                    None,
                    "URL",
                    (conditions.SPEC_UNAVAILABLE, f"{field}: {ref.url} answered HTTP {response.status}"),
                )
            data = await response.content.read(max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Document(
            None,
            "URL",
            (conditions.SPEC_UNAVAILABLE, f"{field}: cannot fetch {ref.url}: {exc or type(exc).__name__}"),
        )
    if len(data) > max_bytes:
        return Document(
            None,
            "URL",
            (conditions.SPEC_TOO_LARGE, f"{field}: the document is larger than {_size(max_bytes)}"),
        )
    return Document(data, f"URL (fetched by the category server at start-up, {_size(len(data))} now)")


def _warnings(diagnostics: tuple[object, ...]) -> tuple[str, ...]:
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for d in diagnostics:
        if getattr(d, "level", None) == Level.INFO:
            continue
        code = str(getattr(d, "code", ""))
        counts[code] += 1
        first.setdefault(code, str(getattr(d, "message", "")))
    out = []
    for code, count in counts.most_common(32):
        example = first[code][:300]
        out.append(f"{count} x {code}" + (f", e.g. {example}" if example else ""))
    return tuple(out)


class Compiler:
    """Compiles documents off the event loop; remembers results by (document, options)."""

    def __init__(self, size: int = 2048) -> None:
        self._cache: OrderedDict[str, Compiled] = OrderedDict()
        self._size = size

    async def compile(self, obj: MCPIntegration, data: bytes) -> Compiled:
        options = compile_options(obj)
        key = hashlib.sha256(data).hexdigest() + repr(options)
        if (hit := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return hit
        result = await asyncio.to_thread(self._compile, obj, data)
        self._cache[key] = result
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return result

    @staticmethod
    def _compile(obj: MCPIntegration, data: bytes) -> Compiled:
        name = str(obj.metadata.get("name") or "")
        try:
            compiled = compile_spec(data, compile_options(obj), source=name)
        except SpecError as exc:
            return Compiled(0, "", (), (conditions.SPEC_INVALID, f"spec.openapi.spec: {exc}"))
        warnings = _warnings(compiled.diagnostics)
        if not compiled.tools:
            why = (
                "every operation was filtered out by spec.openapi.include/exclude/readOnly"
                if compiled.operations_total
                else "the document has no operations"
            )
            return Compiled(
                0, compiled.digest, warnings, (conditions.NO_TOOLS, f"spec.openapi: no tools: {why}")
            )
        return Compiled(len(compiled.tools), compiled.digest, warnings)
