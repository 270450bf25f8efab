"""Upstream responses → MCP tool results: text the model can read, errors it can act on.

Pure functions. JSON is re-emitted compactly (fewer tokens); text passes as it is; binary bodies
are summarised, never dumped. A non-2xx status is an ``isError`` result that carries the status
and the upstream's own message. The URL in messages has no query string (API keys travel there),
and every credential value the category server handed out is scrubbed from the text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from urllib.parse import urlsplit

from mcp import types

from toolmesh.category.upstream import UpstreamResponse
from toolmesh.common.mcp_results import text_result

MAX_ERROR_BODY = 2000
_TEXT_TYPES = ("json", "text/", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv", "html")


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return not ct or any(t in ct for t in _TEXT_TYPES)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _body_text(response: UpstreamResponse) -> str:
    if not response.body:
        return ""
    if not _is_text(response.content_type):
        digest = hashlib.sha256(response.body).hexdigest()[:16]
        more = "at least " if response.truncated else ""
        return f"(binary response: {response.content_type or 'unknown type'}, {more}{len(response.body)} bytes, sha256 {digest}…; not shown)"
    try:
        text = response.body.decode(_charset(response.content_type), errors="replace")
    except LookupError:
        text = response.body.decode("utf-8", errors="replace")
    if "json" in response.content_type.lower() and not response.truncated:
        with contextlib.suppress(ValueError):  # declared JSON but is not: pass it through as text
            text = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    return text


def where(response: UpstreamResponse) -> str:
    parts = urlsplit(response.url)
    return f"{response.method} {parts.scheme}://{parts.netloc}{parts.path}"


def render(response: UpstreamResponse, *, cap: int, scrub: Callable[[str], str]) -> types.CallToolResult:
    text = _body_text(response)
    if response.truncated and _is_text(response.content_type):
        text += f"\n\n[truncated: the response is larger than {cap} bytes; only the first {cap} are shown]"
    if response.redirect_refused:
        return text_result(
            scrub(
                f"{where(response)} redirected to another host ({response.redirect_refused}); not followed."
            ),
            error=True,
        )
    if 200 <= response.status < 300:
        return text_result(scrub(text) if text else f"HTTP {response.status} {response.reason}".strip())
    excerpt = text[:MAX_ERROR_BODY] + ("…" if len(text) > MAX_ERROR_BODY else "")
    message = f"The upstream answered HTTP {response.status} {response.reason} to {where(response)}."
    return text_result(scrub(f"{message}\n{excerpt}" if excerpt else message), error=True)


def scrubbed(result: types.CallToolResult, scrub: Callable[[str], str]) -> types.CallToolResult:
    """A federated server's result with ``scrub`` applied to every string in it (a remote that
    echoes the caller's own credential); the same object when nothing in it needed scrubbing."""
    raw = result.model_dump_json(by_alias=True, exclude_none=True)
    clean = scrub(raw)
    return result if clean == raw else types.CallToolResult.model_validate_json(clean)
