"""openapi-core as the oracle for requests built by toolmesh: does the spec accept this request?"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from toolmesh.openapi import Tool
from toolmesh.openapi.request import HttpRequest


@dataclass
class OracleRequest:
    """The openapi-core Request protocol, filled from an HttpRequest."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


def unjudgeable(tool: Tool) -> str | None:
    """Why openapi-core 0.23 cannot judge requests for this tool, if it cannot.

    Each case is a gap in openapi-core, not in the request: label and matrix path values are read
    only from RFC 6570 templates (``{;id}``), not OpenAPI's ``{id}``; cookie objects are parsed as
    exploded whatever ``explode`` says; multipart parts arrive as bytes where its form-style
    parser wants text. The unit tests check these serializations against the specification's
    own examples instead. And a raw binary body (bytes) is checked against a string schema.
    """
    for _, p in tool.route.params:
        if p.style in ("label", "matrix"):
            return f"{p.style} path style"
    schema = tool.input_schema
    props = schema.get("properties", {})
    for key, p in tool.route.params:
        if p.location == "cookie" and _type_of(props.get(key), schema) == "object":
            return "object in a cookie"
    body = tool.route.body
    if body is not None and _resolved(props.get(body.argument), schema).get("contentEncoding") == "base64":
        return "raw binary body"
    if body is not None and body.media_type.startswith("multipart/"):
        fields = _resolved(props.get(body.argument), schema).get("properties", {})
        if any(_type_of(f, schema) in ("object", "array") for f in fields.values()):
            return "structured multipart field"
    return None


def _resolved(node: Any, schema: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        node = schema.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1])
    return node if isinstance(node, dict) else {}


def _type_of(node: Any, schema: dict[str, Any]) -> Any:
    t = _resolved(node, schema).get("type")
    return next((x for x in t if x != "null"), None) if isinstance(t, list) else t


def to_oracle(request: HttpRequest) -> OracleRequest:
    url = urlsplit(request.url)
    cookies: list[tuple[str, str]] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            for part in value.split("; "):
                k, _, v = part.partition("=")
                cookies.append((k, unquote(v)))
    params = RequestParameters(
        query=ImmutableMultiDict(parse_qsl(url.query, keep_blank_values=True)),
        header=Headers([(k, v) for k, v in request.headers if k.lower() != "cookie"]),
        cookie=ImmutableMultiDict(cookies),
        path={},
    )
    return OracleRequest(
        host_url=f"{url.scheme}://{url.netloc}",
        path=url.path,
        method=request.method.lower(),
        parameters=params,
        content_type=(request.header("Content-Type") or "application/json").lower(),
        body=request.body,
    )


def oracle_for(document: dict[str, Any]) -> OpenAPI:
    """An openapi-core judge for the document, blind to security requirements.

    Credentials are injected by the category server, after the request is built, so the built
    request carries none; everything else about it must match the spec.
    """
    doc = {k: v for k, v in document.items() if k != "security"}
    doc["paths"] = {
        path: {
            m: ({k: v for k, v in op.items() if k != "security"} if isinstance(op, dict) else op)
            for m, op in item.items()
        }
        for path, item in document.get("paths", {}).items()
    }
    return OpenAPI.from_dict(doc)


def problems(oracle: OpenAPI, request: HttpRequest) -> list[str]:
    """What openapi-core rejects in the request; empty when it validates."""
    try:
        with warnings.catch_warnings():  # openapi-core warns when a deprecated parameter is used
            warnings.simplefilter("ignore", DeprecationWarning)
            oracle.validate_request(to_oracle(request))
    except Exception as exc:  # openapi-core raises a family of errors; all mean "rejected"
        details = [str(exc)]
        details += [str(e) for e in getattr(exc, "schema_errors", [])]
        cause = exc.__cause__
        while cause is not None:
            details.append(f"{type(cause).__name__}: {cause}")
            details += [str(e) for e in getattr(cause, "schema_errors", [])]
            cause = cause.__cause__
        if _read_only_parameter(details):
            return []
        return details
    return []


def _read_only_parameter(details: list[str]) -> bool:
    """openapi-core applies ``readOnly`` to parameters, where OpenAPI gives it no meaning.

    GitHub's spec reuses a response schema marked ``readOnly`` for the required ``alert_number``
    path parameter; every correct request for those operations is rejected by openapi-core for it.
    """
    return details[0].startswith("Invalid path parameter") and any(
        "Tried to write read-only property" in d for d in details
    )
