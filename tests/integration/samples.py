"""Example arguments for a tool, made from its input schema: the smallest value that validates.

Used to drive the request builder over real specs, with ``openapi-core`` as the oracle for the
requests it builds. Returns None where no value can be made without guessing (a pattern, say).
"""

from __future__ import annotations

from typing import Any

_FORMATS = {
    "date-time": "2024-01-02T03:04:05Z", "date": "2024-01-02", "time": "03:04:05", "email": "ada@example.com",
    "uri": "https://example.com/x", "url": "https://example.com/x", "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1", "hostname": "example.com", "byte": "QUJD", "int64": "1", "int32": "1",
}  # fmt: skip
_STRINGS = ("sample", "ab12", "x")


class NoSample(Exception):
    pass


def _value(schema: Any, defs: dict[str, Any], depth: int) -> Any:
    if depth > 12:
        raise NoSample("too deep")
    if schema is True or schema == {}:
        return "sample"
    if not isinstance(schema, dict):
        raise NoSample("false schema")
    if "$ref" in schema:
        return _value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            for option in schema[key]:
                try:
                    return _value(option, defs, depth + 1)
                except NoSample:
                    continue
            raise NoSample(key)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _value(part, defs, depth + 1)
            if not isinstance(value, dict):
                return value
            merged.update(value)
        base = {k: v for k, v in schema.items() if k != "allOf"}
        if base.get("properties") or base.get("required"):
            merged.update(_value(base, defs, depth + 1))
        return merged
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t is None:
        t = "object" if ("properties" in schema or "required" in schema) else "string"
    if t == "null":
        return None
    if t == "boolean":
        return True
    if t in ("integer", "number"):
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1
        )
        step = schema.get("multipleOf")
        value = low if not step else step * max(1, -(-low // step))
        return int(value) if t == "integer" else value
    if t == "string":
        if "pattern" in schema:
            raise NoSample("pattern")
        value = _FORMATS.get(schema.get("format", ""), "sample")
        if schema.get("contentEncoding") == "base64":
            value = "QUJD"
        if len(value) < schema.get("minLength", 0):
            value = value + "x" * (schema["minLength"] - len(value))
        if "maxLength" in schema:
            value = value[: schema["maxLength"]]
        return value
    if t == "array":
        return [
            _value(schema.get("items", {}), defs, depth + 1) for _ in range(max(1, schema.get("minItems", 1)))
        ]
    if t == "object":
        props = schema.get("properties", {})
        out = {name: _value(props.get(name, {}), defs, depth + 1) for name in schema.get("required", [])}
        if depth < 3:  # shallow optional properties too, so objects are not empty
            for name, sub in props.items():
                if name not in out:
                    try:
                        out[name] = _value(sub, defs, depth + 1)
                    except NoSample:
                        continue
        return out
    raise NoSample(f"type {t}")


def sample_arguments(input_schema: dict[str, Any], *, optional: bool = True) -> dict[str, Any] | None:
    """Required arguments, plus (with ``optional``) every optional argument that has a plain value."""
    defs = input_schema.get("$defs", {})
    props = input_schema.get("properties", {})
    args: dict[str, Any] = {}
    try:
        for name in input_schema.get("required", []):
            args[name] = _value(props[name], defs, 0)
    except NoSample:
        return None
    if optional:
        for name, schema in props.items():
            if name in args:
                continue
            try:
                args[name] = _value(schema, defs, 0)
            except NoSample:
                continue
    return args
