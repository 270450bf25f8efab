"""OpenAPI schemas → JSON Schema 2020-12, the dialect of MCP's ``inputSchema``.

* Every ``$ref`` becomes ``#/$defs/<name>``; a tool carries only the definitions it reaches, so
  recursive schemas stay finite and small. Each definition is converted once per document.
* OpenAPI 3.0 is rewritten (``nullable``, boolean ``exclusiveMinimum``); 3.1 is already 2020-12.
* Keywords are kept by allow-list, each checked for the shape the metaschema demands, so the result
  always passes ``Draft202012Validator.check_schema``: real specs carry ``type: int``, patterns
  Python cannot compile, ``required: true`` on properties, floats as lengths. What is dropped is
  reported. Annotations that cost tokens and help no caller (``example``, ``xml``, ``x-*``,
  ``title``, ``discriminator``) are left out; ``readOnly`` properties are removed because requests
  must not send them.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from toolmesh.openapi import diagnostics as codes

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_TYPE_ALIASES = {
    "int": "integer", "int32": "integer", "int64": "integer", "long": "integer",
    "float": "number", "double": "number", "decimal": "number",
    "bool": "boolean", "date": "string", "datetime": "string", "dateTime": "string", "str": "string",
    "dict": "object", "list": "array", "file": "string",
}  # fmt: skip
_SCHEMA_MAP_KEYS = ("properties", "patternProperties", "dependentSchemas")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_KEYS = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_COUNT_KEYS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
_NUMBER_KEYS = ("minimum", "maximum")
_BOOL_KEYS = ("uniqueItems", "deprecated", "writeOnly")
_STRING_KEYS = ("format", "contentMediaType", "contentEncoding")
_NUMERIC_KEYS = frozenset({*_COUNT_KEYS, *_NUMBER_KEYS, "multipleOf", "exclusiveMinimum", "exclusiveMaximum"})
#: Keywords whose value holds schemas, converted recursively.
_SUBSCHEMA_KEYS = frozenset(
    {*_SCHEMA_MAP_KEYS, *_SCHEMA_LIST_KEYS, *_SCHEMA_KEYS, "items", "additionalProperties"}
)
MAX_DESCRIPTION = 1024
_DEF_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")

Report = Callable[[str, str], None]  # (code, message)


class UnresolvableRef(Exception):
    """A ``$ref`` that points outside the document or at nothing."""


def resolve_pointer(doc: Any, ref: str) -> Any:
    """The value a local reference (``#/a/b``) points at."""
    if not ref.startswith("#"):
        raise UnresolvableRef(f"external reference {ref!r} is not supported; bundle the document first")
    node = doc
    fragment = ref[1:]
    if fragment in ("", "/"):
        return doc
    for raw in fragment.lstrip("/").split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise UnresolvableRef(f"reference {ref!r} points at nothing")
    return node


def deref(doc: Any, obj: Any, limit: int = 32) -> Any:
    """Follow a chain of ``$ref`` s (parameters, request bodies) to the object itself."""
    for _ in range(limit):
        if isinstance(obj, dict) and isinstance(obj.get("$ref"), str):
            obj = resolve_pointer(doc, obj["$ref"])
        else:
            return obj
    raise UnresolvableRef(f"reference chain longer than {limit} (a cycle?)")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _regex_ok(pattern: str) -> bool:
    """Whether validators can use the pattern; one Python warns about (a future change) counts as no."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError, FutureWarning, DeprecationWarning):
            return False
    return True


def _json_safe(value: Any) -> bool:
    """Values (enum, default, const) that serialize to strict JSON."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    return value is None or isinstance(value, str | int | bool)


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _types(value: Any, out: dict[str, Any], report: Report) -> None:
    """``type``: one JSON type or a list of them; aliases (``int``, ``file``, ...) mapped, others dropped."""
    values = value if isinstance(value, list) else [value]
    types: list[str] = []
    for v in values:
        t = (v if v in JSON_TYPES else _TYPE_ALIASES.get(v)) if isinstance(v, str) else None
        if t is None:
            report(codes.INVALID_SCHEMA, f"unknown type {v!r} dropped")
            continue
        if v == "file":
            out["contentEncoding"] = "base64"
        if t not in types:
            types.append(t)
    if len(types) == 1:
        out["type"] = types[0]
    elif types:
        out["type"] = types


def _number(key: str, value: Any) -> int | float | None:
    """A numeric keyword's value as 2020-12 demands it, or None to drop it."""
    if not _is_number(value):
        return None
    number: int | float = value
    if key in _COUNT_KEYS:
        return int(number) if number >= 0 and float(number).is_integer() else None
    if key == "multipleOf":
        return number if number > 0 else None
    return number  # minimum, maximum, exclusiveMinimum, exclusiveMaximum


def _keyword(key: str, value: Any, out: dict[str, Any], report: Report) -> None:
    """A keyword that holds no schema, kept only in the shape the metaschema demands."""
    if key == "type":
        _types(value, out, report)
    elif key == "description":
        if isinstance(value, str) and value.strip():
            out["description"] = truncate(value, MAX_DESCRIPTION)
    elif key == "required":
        names = list(dict.fromkeys(v for v in value if isinstance(v, str))) if isinstance(value, list) else []
        if names:
            out["required"] = names
    elif key == "enum":
        if isinstance(value, list) and value and _json_safe(value):
            out["enum"] = list(value)
    elif key in ("const", "default"):
        if _json_safe(value):
            out[key] = value
    elif key in _NUMERIC_KEYS:
        number = _number(key, value)
        if number is not None:
            out[key] = number
    elif key == "pattern":
        if isinstance(value, str) and _regex_ok(value):
            out["pattern"] = value
        else:
            report(
                codes.INVALID_PATTERN,
                f"pattern {str(value)[:80]!r} is not a valid regular expression; dropped",
            )
    elif key in _STRING_KEYS:
        if isinstance(value, str):
            out[key] = value
    elif key in _BOOL_KEYS:
        if isinstance(value, bool) and value:
            out[key] = value
    elif key == "dependentRequired":
        if isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
        ):
            out[key] = {str(k): list(dict.fromkeys(v)) for k, v in value.items()}


class SchemaConverter:
    """Converts the schemas of one document, sharing converted definitions between its tools."""

    def __init__(self, doc: dict[str, Any], *, oas30: bool) -> None:
        self.doc = doc
        self.oas30 = oas30
        self.defs: dict[str, Any] = {}
        self._def_refs: dict[str, frozenset[str]] = {}
        self._names: dict[str, str] = {}
        self._closures: dict[str, frozenset[str]] = {}
        declared = doc.get("components")
        components = (declared if isinstance(declared, dict) else {}).get("schemas") or {}
        self._component_names(components if isinstance(components, dict) else {})

    def _component_names(self, components: dict[str, Any]) -> None:
        """Readable, collision-free definition names for ``#/components/schemas/*``, order-independent."""
        sanitized: dict[str, list[str]] = {}
        for name in components:
            sanitized.setdefault(_DEF_NAME_BAD.sub("_", str(name)).strip("_") or "schema", []).append(
                str(name)
            )
        for clean, originals in sanitized.items():
            for original in originals:
                pointer = "#/components/schemas/" + original.replace("~", "~0").replace("/", "~1")
                unique = (
                    clean
                    if len(originals) == 1
                    else f"{clean}_{hashlib.sha256(pointer.encode()).hexdigest()[:6]}"
                )
                self._names[pointer] = unique

    def _def_name(self, ref: str) -> str:
        name = self._names.get(ref)
        if name is None:
            tail = unquote(ref.rsplit("/", 1)[-1]).replace("~1", "/").replace("~0", "~")
            clean = _DEF_NAME_BAD.sub("_", tail).strip("_")[:48] or "schema"
            name = f"{clean}_{hashlib.sha256(ref.encode()).hexdigest()[:6]}"
            self._names[ref] = name
        return name

    # -- public ------------------------------------------------------------------------------

    def convert(self, schema: Any, report: Report) -> tuple[Any, set[str]]:
        """Convert one schema; returns it and the definition names it references directly."""
        refs: set[str] = set()
        return self._node(schema, refs, report, 0), refs

    def closure(self, refs: set[str]) -> list[str]:
        """All definitions reachable from ``refs``, sorted."""
        out: set[str] = set()
        for name in refs:
            out |= self._closure(name)
        return sorted(out)

    # -- internals ---------------------------------------------------------------------------

    def _closure(self, name: str) -> frozenset[str]:
        cached = self._closures.get(name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self._def_refs.get(n, ()))
        result = frozenset(seen)
        self._closures[name] = result
        return result

    def _ref(self, ref: str, refs: set[str], report: Report) -> dict[str, Any] | None:
        """``{"$ref": "#/$defs/x"}`` for a resolvable local reference, converting its target once."""
        name = self._def_name(ref)
        if name not in self.defs:
            try:
                target = resolve_pointer(self.doc, ref)
            except UnresolvableRef as exc:
                report(codes.UNRESOLVABLE_REF, f"{exc}; accepted any value there")
                del self._names[ref]
                return None
            self.defs[name] = {}  # placeholder: a recursive reference finds the name taken
            own: set[str] = set()
            self.defs[name] = self._node(target, own, report, 0)
            self._def_refs[name] = frozenset(own)
        refs.add(name)
        return {"$ref": f"#/$defs/{name}"}

    def _node(self, node: Any, refs: set[str], report: Report, depth: int) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            report(
                codes.INVALID_SCHEMA,
                f"a schema must be an object, got {type(node).__name__}; accepted any value",
            )
            return {}
        if depth > 64:
            report(codes.INVALID_SCHEMA, "schema nested deeper than 64 levels; accepted any value below")
            return {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._ref_node(node, ref, refs, report, depth)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SUBSCHEMA_KEYS:
                self._subschemas(key, value, out, refs, report, depth)
            else:
                _keyword(key, value, out, report)
        return self._finish(node, out)

    def _ref_node(self, node: dict[str, Any], ref: str, refs: set[str], report: Report, depth: int) -> Any:
        """A schema with a ``$ref``: the reference, with the siblings its OpenAPI version keeps."""
        target = self._ref(ref, refs, report)
        if target is None:
            return {}
        if self.oas30:  # 3.0: siblings of $ref are ignored, except a description and nullable
            if isinstance(node.get("description"), str):
                target["description"] = truncate(node["description"], MAX_DESCRIPTION)
            if node.get("nullable") is True or node.get("x-nullable") is True:
                return {"anyOf": [target, {"type": "null"}]}
            return target
        rest = {k: v for k, v in node.items() if k != "$ref"}
        if not rest:
            return target
        converted = self._node(rest, refs, report, depth + 1)
        if isinstance(converted, dict):
            converted.update(target)
            return converted
        return target

    def _subschemas(
        self, key: str, value: Any, out: dict[str, Any], refs: set[str], report: Report, depth: int
    ) -> None:
        """A keyword whose value holds schemas: each converted, one level deeper."""
        if key in _SCHEMA_MAP_KEYS:
            if isinstance(value, dict):
                out[key] = self._properties(key, value, refs, report, depth)
        elif key in _SCHEMA_LIST_KEYS:
            if isinstance(value, list) and value:
                out[key] = [self._node(v, refs, report, depth + 1) for v in value]
        elif key == "items" and isinstance(value, list):
            if value:  # draft-4 tuple form
                out["prefixItems"] = [self._node(v, refs, report, depth + 1) for v in value]
        elif isinstance(value, dict | bool):  # items, additionalProperties, not, if, then, ...
            out[key] = self._node(value, refs, report, depth + 1)

    def _finish(self, node: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        """What depends on several keywords: readOnly properties not required, 3.0's exclusives and nullable."""
        if "required" in out and isinstance(node.get("properties"), dict):
            read_only = {
                n for n, p in node["properties"].items() if isinstance(p, dict) and p.get("readOnly") is True
            }
            out["required"] = [r for r in out["required"] if r not in read_only]
            if not out["required"]:
                del out["required"]
        # OpenAPI 3.0 boolean exclusives become 2020-12 numbers.
        for excl, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if node.get(excl) is True and bound in out:
                out[excl] = out.pop(bound)
        if node.get("nullable") is True or node.get("x-nullable") is True:
            out = self._nullable(out)
        return out

    def _properties(
        self, key: str, value: dict[str, Any], refs: set[str], report: Report, depth: int
    ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name, sub in value.items():
            if key == "patternProperties" and not _regex_ok(str(name)):
                report(
                    codes.INVALID_PATTERN,
                    f"patternProperties key {str(name)[:80]!r} is not a valid regular expression; dropped",
                )
                continue
            if key == "properties" and isinstance(sub, dict) and sub.get("readOnly") is True:
                continue  # never sent in a request
            props[str(name)] = self._node(sub, refs, report, depth + 1)
        return props

    @staticmethod
    def _nullable(out: dict[str, Any]) -> dict[str, Any]:
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
            return out
        if isinstance(t, list):
            if "null" not in t:
                out["type"] = [*t, "null"]
            return out
        if any(k in out for k in ("allOf", "anyOf", "oneOf", "$ref", "enum", "const")):
            description = out.pop("description", None)
            wrapped: dict[str, Any] = {"anyOf": [out, {"type": "null"}]}
            if description:
                wrapped["description"] = description
            return wrapped
        return out  # no type constraint: null is already accepted
