"""What an operation returns, reduced to the names of the fields it returns (for the tool graph).

A list or create operation returns the identifiers that a get, update or delete operation needs:
``listProjects`` returns items with ``id``, ``getProject`` takes ``projectId``. The gateway's tool
graph (gateway/index/graph.py) links the two from these names. Only field names are kept, from the
first success response with a JSON body: the top-level properties, the items' of an array, and the
items' of an array the object wraps (``{"data": [...]}``, ``{"items": [...]}``). Local ``$ref``s are
followed; ``allOf`` members are merged. Nothing here can fail a compilation: a response this does not
understand returns no names.
"""

from __future__ import annotations

from typing import Any

from toolmesh.openapi.schema import UnresolvableRef, deref

SUCCESS = ("200", "201", "202", "2XX", "2xx", "default")
MAX_FIELDS = 64
_MAX_DEPTH = 8


def returned_fields(doc: dict[str, Any], operation: dict[str, Any]) -> tuple[str, ...]:
    """The field names of ``operation``'s success response, sorted (empty when none is described)."""
    responses = operation.get("responses")
    if not isinstance(responses, dict):
        return ()
    for code in SUCCESS:
        response = _resolve(doc, responses.get(code))
        schema = _json_schema(doc, response) if response else None
        if schema is not None:
            names = _fields(doc, schema, 0)
            return tuple(sorted(names)[:MAX_FIELDS])
    return ()


def _json_schema(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON body's schema (Swagger 2.0 documents arrive converted: swagger2.py)."""
    content = response.get("content")
    if isinstance(content, dict):
        for media, body in content.items():
            if isinstance(media, str) and "json" in media.lower() and isinstance(body, dict):
                return _resolve(doc, body.get("schema"))
    return None


def _fields(doc: dict[str, Any], schema: dict[str, Any], depth: int) -> set[str]:
    if depth > _MAX_DEPTH:
        return set()
    names: set[str] = set()
    parts = schema.get("allOf")
    for part in parts if isinstance(parts, list) else []:
        resolved = _resolve(doc, part)
        if resolved:
            names |= _fields(doc, resolved, depth + 1)
    items = _resolve(doc, schema.get("items"))
    if items:
        names |= _fields(doc, items, depth + 1)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, value in properties.items():
            if not isinstance(name, str):
                continue
            names.add(name)
            if depth == 0:  # {"data": [ {...} ]}: the items are what is returned
                inner = _resolve(doc, value)
                if inner and inner.get("type") == "array":
                    wrapped = _resolve(doc, inner.get("items"))
                    if wrapped:
                        names |= _fields(doc, wrapped, depth + 1)
    return names


def _resolve(doc: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """``value`` with ``$ref``s followed (None for anything that is not an object, or a broken ref)."""
    try:
        resolved = deref(doc, value, limit=_MAX_DEPTH)
    except UnresolvableRef:
        return None
    return resolved if isinstance(resolved, dict) else None
