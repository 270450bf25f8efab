"""Upstream responses as tool results: compact JSON, readable text, summarised binaries, errors
that carry the status, and no query strings or credentials in what the agent reads."""

from __future__ import annotations

import hashlib

from mcp import types

from toolmesh.category import results
from toolmesh.category.upstream import UpstreamResponse


def response(
    body: bytes,
    content_type: str = "application/json",
    status: int = 200,
    *,
    truncated: bool = False,
    redirect_refused: str | None = None,
) -> UpstreamResponse:
    reason = {200: "OK", 204: "No Content", 404: "Not Found"}.get(status, "")
    url = "https://api.example/v1/pets?api_key=k-secret"
    return UpstreamResponse(status, reason, content_type, body, truncated, "GET", url, redirect_refused)


def text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def keep(value: str) -> str:
    return value


def test_json_is_re_emitted_compactly_and_keeps_non_ascii() -> None:
    result = results.render(
        response(b'{\n  "name": "M\xc3\xbcnchen",\n  "ids": [1, 2]\n}'), cap=1024, scrub=keep
    )
    assert result.is_error is False
    assert text(result) == '{"name":"München","ids":[1,2]}'


def test_declared_json_that_does_not_parse_passes_as_text() -> None:
    assert text(results.render(response(b"{not json"), cap=1024, scrub=keep)) == "{not json"


def test_the_charset_of_the_content_type_is_honoured() -> None:
    body = "café".encode("latin-1")
    result = results.render(response(body, "text/plain; charset=ISO-8859-1"), cap=1024, scrub=keep)
    assert text(result) == "café"
    unknown = results.render(response(b"plain", "text/plain; charset=nonsense"), cap=1024, scrub=keep)
    assert text(unknown) == "plain"


def test_a_binary_body_is_summarised_never_dumped() -> None:
    body = bytes(range(256))
    digest = hashlib.sha256(body).hexdigest()[:16]
    result = results.render(response(body, "image/png"), cap=1024, scrub=keep)
    assert text(result) == f"(binary response: image/png, 256 bytes, sha256 {digest}…; not shown)"
    cut = results.render(response(body, "", truncated=True), cap=1024, scrub=keep)
    assert "(binary response: unknown type" not in text(cut)  # no content type is taken as text


def test_a_cut_text_body_says_how_much_is_shown() -> None:
    result = results.render(response(b"x" * 10, "text/plain", truncated=True), cap=10, scrub=keep)
    assert text(result) == (
        "x" * 10 + "\n\n[truncated: the response is larger than 10 bytes; only the first 10 are shown]"
    )


def test_an_empty_success_names_the_status() -> None:
    assert text(results.render(response(b"", status=204), cap=1024, scrub=keep)) == "HTTP 204 No Content"


def test_an_error_status_is_an_error_result_with_the_status_and_the_url_without_its_query() -> None:
    result = results.render(response(b'{"error": "no such pet"}', status=404), cap=1024, scrub=keep)
    assert result.is_error is True
    assert text(result) == (
        "The upstream answered HTTP 404 Not Found to GET https://api.example/v1/pets.\n"
        '{"error":"no such pet"}'
    )


def test_a_long_error_body_is_cut_to_an_excerpt() -> None:
    result = results.render(response(b"e" * 5000, "text/plain", status=500), cap=10_000, scrub=keep)
    excerpt = text(result).split("\n", 1)[1]
    assert excerpt == "e" * results.MAX_ERROR_BODY + "…"


def test_a_redirect_to_another_host_is_an_error_that_names_it() -> None:
    result = results.render(
        response(b"", status=302, redirect_refused="https://elsewhere.example/"), cap=1024, scrub=keep
    )
    assert result.is_error is True
    assert text(result) == (
        "GET https://api.example/v1/pets redirected to another host (https://elsewhere.example/); not followed."
    )


def test_every_text_shown_goes_through_the_scrubber() -> None:
    def scrub(value: str) -> str:
        return value.replace("k-secret", "[redacted]")

    ok = results.render(response(b'{"echo": "k-secret"}'), cap=1024, scrub=scrub)
    failed = results.render(response(b"bad key k-secret", "text/plain", status=404), cap=1024, scrub=scrub)
    assert text(ok) == '{"echo":"[redacted]"}'
    assert "k-secret" not in text(failed)
    assert text(failed).endswith("bad key [redacted]")


def test_where_drops_the_query_string() -> None:
    assert results.where(response(b"")) == "GET https://api.example/v1/pets"
