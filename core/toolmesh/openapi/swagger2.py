"""Swagger 2.0 → OpenAPI 3.0, so that the compiler has one input shape.

Only what tools need is converted: servers (host, basePath, schemes), schemas (definitions),
parameters (body and formData become request bodies; collectionFormat becomes style/explode),
response bodies (a ``schema`` becomes JSON ``content``, for the tool graph: openapi/responses.py) and
security schemes. ``$ref`` s to ``#/definitions`` are rewritten; ``#/parameters`` and
``#/responses`` references are resolved in place (3.0 keeps them elsewhere).
"""

from __future__ import annotations

from typing import Any

from toolmesh.openapi import diagnostics as codes
from toolmesh.openapi.model import Diagnostic, Level

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_COLLECTION = {  # collectionFormat -> (style for query, explode)
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf",
)  # fmt: skip


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else empty: a malformed part is dropped, never fatal."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/definitions/"):
                out[k] = "#/components/schemas/" + v[len("#/definitions/") :]
            else:
                out[k] = _rewrite_refs(v)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _param_schema(p: dict[str, Any]) -> dict[str, Any]:
    schema = {k: p[k] for k in _SCHEMA_KEYS if k in p}
    if schema.get("type") == "file":
        schema = {"type": "string", "format": "binary"}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _param_schema(schema["items"])
    rewritten: dict[str, Any] = _rewrite_refs(schema)
    return rewritten


def _json_body(p: dict[str, Any], consumes: list[str]) -> dict[str, Any]:
    """A ``body`` parameter as a request body, in every media type the operation consumes."""
    body: dict[str, Any] = {
        "required": bool(p.get("required")),
        "content": {m: {"schema": _rewrite_refs(p.get("schema", {}))} for m in consumes},
    }
    if p.get("description"):
        body["description"] = p["description"]
    return body


def _form_body(fields: list[tuple[str, dict[str, Any]]], consumes: list[str]) -> dict[str, Any]:
    """``formData`` parameters as one form body: multipart when a field is a file or the operation says so."""
    form: dict[str, Any] = {"type": "object", "properties": {}}
    required: list[str] = []
    for name, p in fields:
        prop = _param_schema(p)
        if p.get("description"):
            prop["description"] = p["description"]
        form["properties"][name] = prop
        if p.get("required"):
            required.append(name)
    if required:
        form["required"] = required
    has_file = any(p.get("type") == "file" for _, p in fields)
    media = (
        "multipart/form-data"
        if has_file or "multipart/form-data" in consumes
        else "application/x-www-form-urlencoded"
    )
    return {"required": bool(required), "content": {media: {"schema": form}}}


class _Converter:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def resolve_param(self, p: Any) -> Any:
        seen = 0
        while (
            isinstance(p, dict)
            and isinstance(p.get("$ref"), str)
            and p["$ref"].startswith("#/parameters/")
            and seen < 16
        ):
            p = _dict(self.doc.get("parameters")).get(p["$ref"][len("#/parameters/") :])
            seen += 1
        return p

    def merged_parameters(self, shared: Any, own: Any) -> dict[tuple[str, str], dict[str, Any]]:
        """The path item's and the operation's parameters by (name, in), the operation's winning."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*_list(shared), *_list(own)]:
            p = self.resolve_param(raw)
            if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("in"), str):
                merged[(p["name"], p["in"])] = p
            elif isinstance(p, dict) and "$ref" in p:
                merged[(str(p["$ref"]), "$ref")] = p  # left for the compiler to report as unresolvable
        return merged

    def parameter(self, name: str, loc: str, p: dict[str, Any], where: str) -> dict[str, Any]:
        """A path, query, header or cookie parameter; ``collectionFormat`` becomes style and explode."""
        out: dict[str, Any] = {"name": name, "in": loc, "schema": _param_schema(p)}
        for key in ("description", "required"):
            if key in p:
                out[key] = p[key]
        fmt = p.get("collectionFormat")
        if p.get("type") == "array" and fmt:
            if fmt in _COLLECTION:
                style, explode = _COLLECTION[fmt]
                out["style"] = style if loc in ("query", "cookie") else "simple"
                out["explode"] = explode
            else:
                self.diagnostics.append(Diagnostic(
                    Level.INFO, codes.UNSUPPORTED_COLLECTION_FORMAT,
                    f"parameter {name!r}: collectionFormat {fmt!r} is sent comma-separated", where,
                ))  # fmt: skip
                out["style"], out["explode"] = ("form" if loc == "query" else "simple"), False
        return out

    def operation(self, op: dict[str, Any], path_params: list[Any], where: str) -> dict[str, Any]:
        """One operation in 3.0 shape; its form fields, else its body parameter, become the request body."""
        consumes = [
            str(m)
            for m in _list(op.get("consumes")) or _list(self.doc.get("consumes")) or ["application/json"]
        ]
        merged = self.merged_parameters(path_params, op.get("parameters"))
        converted: dict[str, Any] = {
            k: v
            for k, v in op.items()
            if k not in ("parameters", "consumes", "produces", "responses", "schemes")
        }
        converted["parameters"] = [
            p if loc == "$ref" else self.parameter(name, loc, p, where)
            for (name, loc), p in merged.items()
            if loc not in ("body", "formData")
        ]
        if isinstance(op.get("responses"), dict):
            converted["responses"] = {
                code: self.response(raw) for code, raw in op["responses"].items() if isinstance(code, str)
            }
        fields = [(name, p) for (name, loc), p in merged.items() if loc == "formData"]
        bodies = [p for (_, loc), p in merged.items() if loc == "body"]
        body = (
            _form_body(fields, consumes) if fields else _json_body(bodies[-1], consumes) if bodies else None
        )
        if body is not None:
            converted["requestBody"] = body
        return converted

    def response(self, raw: Any) -> Any:
        """A 2.0 response in 3.0 shape: its ``schema`` as the JSON body (a ``#/responses`` ref resolved)."""
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("$ref"), str)
            and raw["$ref"].startswith("#/responses/")
        ):
            raw = _dict(self.doc.get("responses")).get(raw["$ref"][len("#/responses/") :])
        if not isinstance(raw, dict):
            return raw
        out: dict[str, Any] = {"description": raw.get("description", "")}
        if "schema" in raw:
            out["content"] = {"application/json": {"schema": _rewrite_refs(raw["schema"])}}
        return out

    def security_schemes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, s in _dict(self.doc.get("securityDefinitions")).items():
            if not isinstance(s, dict):
                continue
            kind = s.get("type")
            if kind == "basic":
                out[name] = {"type": "http", "scheme": "basic"}
            elif kind == "apiKey":
                out[name] = {"type": "apiKey", "in": s.get("in"), "name": s.get("name")}
            elif kind == "oauth2":
                flow = {
                    "implicit": "implicit",
                    "password": "password",
                    "application": "clientCredentials",
                    "accessCode": "authorizationCode",
                }.get(str(s.get("flow", "")), "authorizationCode")
                spec = {k: s[k] for k in ("authorizationUrl", "tokenUrl") if k in s}
                spec["scopes"] = s.get("scopes") or {}
                out[name] = {"type": "oauth2", "flows": {flow: spec}}
        return out

    def servers(self) -> list[dict[str, Any]]:
        host = self.doc.get("host")
        base = str(self.doc.get("basePath") or "")
        if not host:
            return [{"url": base}] if base else []
        schemes = [str(s) for s in _list(self.doc.get("schemes"))] or ["https"]
        scheme = "https" if "https" in schemes else str(schemes[0])
        return [{"url": f"{scheme}://{host}{base}"}]

    def convert(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for path, item in _dict(self.doc.get("paths")).items():
            if not isinstance(item, dict):
                continue
            shared = _list(item.get("parameters"))
            paths[path] = {
                m: self.operation(op, shared, f"{m.upper()} {path}")
                for m, op in item.items()
                if m in HTTP_METHODS and isinstance(op, dict)
            }
        return {
            "openapi": "3.0.3",
            "info": self.doc.get("info") or {},
            "servers": self.servers(),
            "paths": paths,
            "components": {
                "schemas": _rewrite_refs(self.doc.get("definitions") or {}),
                "securitySchemes": self.security_schemes(),
            },
            "security": self.doc.get("security") or [],
            "tags": self.doc.get("tags") or [],
        }


def to_openapi3(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Convert a Swagger 2.0 document; returns the 3.0 document and what was approximated."""
    converter = _Converter(doc)
    return converter.convert(), converter.diagnostics
