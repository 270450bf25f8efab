"""Reading an OpenAPI document: bytes (JSON, YAML, gzip) → a plain dict, and its version.

YAML is read with a safe loader that keeps dates as strings (a spec's ``example: 2024-01-01`` must
survive as text) and turns every mapping key into a string (``200:`` is a status code, not an int).
Reading stays within the budgets of budgets.py: size (gzip included), nesting, alias expansion.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import yaml

from toolmesh.openapi import budgets
from toolmesh.openapi.errors import SpecError


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver, with string keys."""


_SpecLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping(loader: _SpecLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    return {
        str(loader.construct_object(k, deep=True)): loader.construct_object(v, deep=True)
        for k, v in node.value
    }


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse(data: bytes | str, *, source: str = "<spec>") -> dict[str, Any]:
    """Parse JSON or YAML (optionally gzip-compressed) into a dict, or raise one clear SpecError."""
    if len(data) > budgets.MAX_DOCUMENT_BYTES:
        raise _too_large(source)
    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(data, source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    stripped = text.lstrip()
    if not stripped:
        raise SpecError(f"{source}: the document is empty")
    doc: Any
    if stripped[0] in "{[":
        try:
            doc = json.loads(text)
        except RecursionError:
            raise _too_deep(source) from None
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    else:
        try:
            doc = yaml.load(text, Loader=_SpecLoader)
        except RecursionError:
            raise _too_deep(source) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise SpecError(f"{source}: invalid YAML{where}: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"{source}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(
            f"{source}: not an OpenAPI document (the top level is a {type(doc).__name__}, not a mapping)"
        )
    budgets.check_values(doc, source=source, tree=stripped[0] in "{[")  # JSON has no aliases
    return doc


def _too_large(source: str) -> SpecError:
    return SpecError(
        f"{source}: the document is larger than {budgets.MAX_DOCUMENT_BYTES:,} bytes; it is not compiled"
    )


def _too_deep(source: str) -> SpecError:
    return SpecError(
        f"{source}: the document nests deeper than {budgets.MAX_DEPTH} levels; it is not compiled"
    )


def _gunzip(data: bytes, source: str) -> bytes:
    """Every gzip member of ``data``, decompressed no further than the size budget (a gzip bomb stops there)."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            out += inflater.decompress(data, budgets.MAX_DOCUMENT_BYTES + 1 - len(out))
        except zlib.error as exc:
            raise SpecError(f"{source}: corrupt gzip data ({exc})") from None
        if len(out) > budgets.MAX_DOCUMENT_BYTES or inflater.unconsumed_tail:
            raise _too_large(source)
        if not inflater.eof:
            raise SpecError(f"{source}: corrupt gzip data (the stream ends early)")
        data = inflater.unused_data
    return bytes(out)


def version_of(doc: dict[str, Any], *, source: str = "<spec>") -> tuple[str, str]:
    """``("openapi", "3.0.3")`` or ``("swagger", "2.0")``; a SpecError for anything else."""
    if "openapi" in doc:
        version = str(doc["openapi"])
        if not re.match(r"^3\.[01](\.\d+)?", version):
            raise SpecError(
                f"{source}: unsupported OpenAPI version {version!r} (supported: 3.0, 3.1 and Swagger 2.0)"
            )
        return "openapi", version
    if "swagger" in doc:
        version = str(doc["swagger"])
        if not version.startswith("2"):
            raise SpecError(f"{source}: unsupported Swagger version {version!r} (supported: 2.0)")
        return "swagger", version
    raise SpecError(f"{source}: not an OpenAPI document (no 'openapi' or 'swagger' field at the top level)")
