"""Compiling an integration's OpenAPI document (read by toolmesh.catalog.cluster), cached.

The compiler is the same one the category server and the gateway run (toolmesh.openapi), so the
tool count and digest in the status are exactly what will be served.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass

from toolmesh.api import MCPIntegration, conditions
from toolmesh.api.compile import compile_options
from toolmesh.openapi import SpecError, compile_spec
from toolmesh.openapi.model import Level


@dataclass(frozen=True)
class Compiled:
    tools: int
    digest: str
    warnings: tuple[str, ...]
    problem: tuple[str, str] | None = None


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
        name = obj.metadata.name
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
