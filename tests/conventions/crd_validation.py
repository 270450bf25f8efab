"""Validating a custom resource against a generated CRD the way the API server does, offline.

The order follows the API server: unknown fields are rejected (kubectl's strict field validation),
defaults are applied, the OpenAPI schema is checked, then every CEL rule (``x-kubernetes-
validations``) is evaluated with ``self`` bound to its node. Messages are shaped like the API
server's (Kubernetes 1.37, checked against the real one by tests/integration/k8s/test_crds.py,
which runs the same fixtures): ``spec.auth: Invalid value: <rule message>``.
"""

from __future__ import annotations

import copy
from typing import Any

import celpy
from openapi_schema_validator import OAS30Validator

_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}


def _program(rule: str) -> Any:
    if rule not in _PROGRAMS:
        _PROGRAMS[rule] = _ENV.program(_ENV.compile(rule))
    return _PROGRAMS[rule]


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _apply_defaults(schema: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _apply_defaults(sub, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for v in value.values():
                _apply_defaults(extra, v)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for v in value:
            _apply_defaults(schema["items"], v)


def _unknown_fields(schema: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict) and "properties" in schema:
        for name, v in value.items():
            if name not in schema["properties"]:
                out.append(f'unknown field "{f"{path}.{name}".lstrip(".")}"')
            else:
                _unknown_fields(schema["properties"][name], v, f"{path}.{name}", out)
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for name, v in value.items():
            _unknown_fields(schema["additionalProperties"], v, f"{path}.{name}", out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _unknown_fields(schema["items"], v, f"{path}[{i}]", out)


def _strip_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_extensions(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_strip_extensions(v) for v in node]
    return node


def _cel(schema: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    for rule in schema.get("x-kubernetes-validations", []):
        if not _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)}):
            out.append(f"{path}: Invalid value: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _cel(sub, value[name], f"{path}.{name}", out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _cel(schema["items"], v, f"{path}[{i}]", out)


def _schema_message(where: str, rule: Any, limit: Any, value: Any, fallback: str) -> str:
    """The API server's wording for the schema checks the CRDs use."""
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    text = {
        "pattern": f"should match '{limit}'",
        "minimum": f"should be greater than or equal to {limit}",
        "maximum": f"should be less than or equal to {limit}",
        "maxLength": f"should be at most {limit} chars long",
        "minLength": f"should be at least {limit} chars long",
    }.get(str(rule))
    if text is None:
        return f"{where}: Invalid value: {fallback}"
    return f"{where}: Invalid value: {shown}: {where} in body {text}"


def validate(crd: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """Every reason the API server would reject ``obj``; empty when it would accept it."""
    schema = schema_of(crd)
    errors: list[str] = []
    _unknown_fields(schema, obj, "", errors)
    value = copy.deepcopy(obj)
    _apply_defaults(schema, value)
    for error in OAS30Validator(_strip_extensions(schema)).iter_errors(value):
        # As the API server writes a path: fields joined by dots, list indices in brackets.
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        where = where.lstrip(".") or "<root>"
        errors.append(
            _schema_message(where, error.validator, error.validator_value, error.instance, error.message)
        )
    if not errors:
        for name in ("spec", "status"):
            if name in value:
                _cel(schema["properties"][name], value[name], name, errors)
    return errors
