"""Tool call → HTTP request: validate the arguments, then serialize them as the operation says.

Serialization follows OpenAPI 3.1 §4.8.12.4 (``style`` / ``explode``) for path, query, header and
cookie parameters, and the request body's media type for the body: JSON, form-urlencoded,
multipart (file fields arrive base64-encoded), text, or raw bytes (base64). The result is a plain
:class:`HttpRequest`; sending it is the category server's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from toolmesh.openapi.errors import ArgumentError
from toolmesh.openapi.model import BodyRoute, ParamRoute, Server, Tool

_RESERVED = ":/?#[]@!$&'()*+,;="
MAX_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None
    #: Encoded query pairs a same-origin redirect carries on (a credential placed in the query string).
    redirect_query: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# -- validation ------------------------------------------------------------------------------


def _validator(tool: Tool) -> Draft202012Validator:
    if not tool._validator:
        tool._validator.append(Draft202012Validator(tool.input_schema))
    validator: Draft202012Validator = tool._validator[0]
    return validator


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return path or "arguments"


def validate_arguments(tool: Tool, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments as a dict, or an ArgumentError naming each problem and where it is."""
    args = dict(arguments or {})
    errors = sorted(
        _validator(tool).iter_errors(args), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    if errors:
        problems = [f"{_where(e)}: {e.message}" for e in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"and {len(errors) - MAX_PROBLEMS} more")
        raise ArgumentError(tool.name, problems)
    return args


# -- parameter serialization -----------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _enc(value: Any, allow_reserved: bool = False) -> str:
    return quote(_scalar(value), safe=_RESERVED if allow_reserved else "")


def _pairs(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items() if v is not None]


def path_value(route: ParamRoute, value: Any) -> str:
    """The text that replaces ``{name}`` in the path template."""
    style, explode, name = route.style, route.explode, route.name
    if route.content_type:
        return _enc(json.dumps(value, separators=(",", ":")))
    if isinstance(value, list):
        items = [_enc(v) for v in value]
        if style == "label":
            return "." + (".".join(items) if explode else ",".join(items))
        if style == "matrix":
            return "".join(f";{name}={i}" for i in items) if explode else f";{name}=" + ",".join(items)
        return ",".join(items)
    if isinstance(value, dict):
        pairs = [(_enc(k), _enc(v)) for k, v in _pairs(value)]
        if explode:
            sep = {"label": ".", "matrix": ";"}.get(style, ",")
            text = sep.join(f"{k}={v}" for k, v in pairs)
            return {"label": ".", "matrix": ";"}.get(style, "") + text
        flat = ",".join(f"{k},{v}" for k, v in pairs)
        return {"label": ".", "matrix": f";{name}="}.get(style, "") + flat
    text = _enc(value)
    return {"label": "." + text, "matrix": f";{name}={text}"}.get(style, text)


def _no_dot_segments(template: str, path: str) -> str:
    """``path`` with every ``.`` or ``..`` segment that arguments made spelled ``%2E``, so the URL
    cannot climb out of the operation's template (RFC 3986 §5.2.4 removes dot segments; encoded
    ones are not dot segments). Values are percent-encoded without ``/``, so segments line up."""
    built, written = path.split("/"), template.split("/")
    if len(built) != len(written):
        return path
    return "/".join(
        b.replace(".", "%2E") if b in (".", "..") and b != w else b
        for b, w in zip(built, written, strict=True)
    )


def query_pairs(route: ParamRoute, value: Any) -> list[tuple[str, str]]:
    """Encoded ``(name, value)`` pairs for a query parameter (names and values percent-encoded)."""
    name, style, explode, reserved = _enc(route.name), route.style, route.explode, route.allow_reserved
    if route.content_type:
        return [(name, _enc(json.dumps(value, separators=(",", ":")), reserved))]
    if isinstance(value, list):
        if explode:
            return [(name, _enc(v, reserved)) for v in value]
        sep = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [(name, sep.join(_enc(v, reserved) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return _deep(name, value, reserved)
        if explode:
            return [(_enc(k), _enc(v, reserved)) for k, v in _pairs(value)]
        sep = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [(name, sep.join(f"{_enc(k)}{sep}{_enc(v, reserved)}" for k, v in _pairs(value)))]
    return [(name, _enc(value, reserved))]


def _deep(prefix: str, value: Mapping[str, Any], reserved: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in _pairs(value):
        key = f"{prefix}%5B{_enc(k)}%5D"
        if isinstance(v, dict):
            out.extend(_deep(key, v, reserved))
        elif isinstance(v, list):
            out.extend((key, _enc(item, reserved)) for item in v)
        else:
            out.append((key, _enc(v, reserved)))
    return out


def header_value(route: ParamRoute, value: Any) -> str:
    if route.content_type:
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        sep = "=" if route.explode else ","
        return ",".join(f"{k}{sep}{_scalar(v)}" for k, v in _pairs(value))
    return _scalar(value)


def cookie_pairs(route: ParamRoute, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict) and route.explode:
        return [(str(k), _enc(v)) for k, v in _pairs(value)]
    if isinstance(value, list):
        return [(route.name, ",".join(_enc(v) for v in value))]
    if isinstance(value, dict):
        return [(route.name, ",".join(f"{_enc(k)},{_enc(v)}" for k, v in _pairs(value)))]
    return [(route.name, _enc(value))]


# -- bodies ----------------------------------------------------------------------------------


def _form(value: Any) -> bytes:
    if not isinstance(value, dict):
        raise ValueError("a form body must be an object")
    pairs: list[str] = []
    for k, v in _pairs(value):
        items = v if isinstance(v, list) else [v]
        pairs.extend(f"{quote(k, safe='')}={quote(_scalar(i), safe='')}" for i in items)
    return "&".join(pairs).encode()


def _multipart(value: Any, encoding: Mapping[str, str]) -> tuple[bytes, str]:
    if not isinstance(value, dict):
        raise ValueError("a multipart body must be an object")
    parts: list[tuple[str, str, bytes, str | None]] = []  # (field, content type, data, filename)
    for k, v in _pairs(value):
        items = v if isinstance(v, list) and encoding.get(k) else [v]
        for item in items:
            if encoding.get(k) == "application/octet-stream":
                parts.append((k, "application/octet-stream", _b64(item, f"body.{k}"), k))
            elif isinstance(item, dict | list):
                parts.append((k, "application/json", json.dumps(item, separators=(",", ":")).encode(), None))
            else:
                parts.append((k, "text/plain; charset=utf-8", _scalar(item).encode(), None))
    # A boundary derived from the content: deterministic, and a hash never occurs in it by chance.
    h = hashlib.sha256()
    for field, _, data, _ in parts:
        h.update(field.encode() + b"\0" + data)
    boundary = "toolmesh-" + h.hexdigest()[:32]
    out = bytearray()
    for field, ctype, data, filename in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{where}: binary content must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: not valid base64") from None


def encode_body(route: BodyRoute, value: Any) -> tuple[bytes, str]:
    """Body bytes and the Content-Type header for the ``body`` argument."""
    media = route.media_type.lower().split(";")[0].strip()
    if "json" in media:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), route.media_type
    if media == "application/x-www-form-urlencoded":
        return _form(value), route.media_type
    if media == "multipart/form-data":
        return _multipart(value, dict(route.encoding))
    if media.startswith("text/") or "xml" in media:
        return (value if isinstance(value, str) else _scalar(value)).encode(), route.media_type
    content_type = "application/octet-stream" if media in ("*/*", "") else route.media_type
    return _b64(value, "body"), content_type


# -- the whole request -------------------------------------------------------------------------


def server_url(servers: tuple[Server, ...], variables: Mapping[str, str] | None = None) -> str:
    """The first server's URL with its variables filled in (overrides, else defaults)."""
    if not servers:
        return ""
    server = servers[0]
    url = server.url
    for name, default, _ in server.variables:
        url = url.replace("{" + name + "}", (variables or {}).get(name, default))
    return url


def build_request(
    tool: Tool,
    arguments: Mapping[str, Any] | None,
    *,
    base_url: str | None = None,
    server_variables: Mapping[str, str] | None = None,
) -> HttpRequest:
    """Validate ``arguments`` against the tool and build the request the operation describes.

    ``base_url`` replaces the document's servers (an integration's ``baseUrl``); a relative server
    URL in the document is resolved against it.
    """
    args = validate_arguments(tool, arguments)
    route = tool.route
    path = route.path
    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    cookies: list[tuple[str, str]] = []
    try:
        for key, p in route.params:
            if key not in args or args[key] is None:
                if p.location == "path":
                    raise ValueError(f"{key}: a path parameter needs a value")
                continue
            value = args[key]
            if p.location == "path":
                path = path.replace("{" + p.name + "}", path_value(p, value))
            elif p.location == "query":
                query.extend(query_pairs(p, value))
            elif p.location == "header":
                headers.append((p.name, header_value(p, value)))
            else:
                cookies.extend(cookie_pairs(p, value))
        body = None
        if route.body is not None and args.get(route.body.argument) is not None:
            body, content_type = encode_body(route.body, args[route.body.argument])
            headers.append(("Content-Type", content_type))
    except ValueError as exc:
        raise ArgumentError(tool.name, [str(exc)]) from None
    path = _no_dot_segments(route.path, path)
    if cookies:
        headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies)))

    document_server = server_url(route.servers, server_variables)
    if base_url:
        root = (
            urljoin(base_url.rstrip("/") + "/", document_server.lstrip("/"))
            if document_server.startswith("/")
            else base_url
        )
    else:
        root = document_server
    url = root.rstrip("/") + path
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    return HttpRequest(method=route.method, url=url, headers=tuple(headers), body=body)
