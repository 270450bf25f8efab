"""Scrubbing: every form a credential can take on the wire or in an echo is redacted."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from toolmesh.common.secrets import CallScrubber, SecretStore, forms, scrub

KEY = 'k3y/with "quotes"&plus+é='


def test_every_encoded_form_of_a_value_is_scrubbed() -> None:
    echoes = [
        KEY,
        quote(KEY, safe=""),
        quote(KEY, safe="").lower(),  # hex digits in lower case
        quote_plus(KEY),
        json.dumps(KEY)[1:-1],
        json.dumps(KEY, ensure_ascii=False)[1:-1],
        json.dumps(KEY).replace("/", "\\/")[1:-1],  # encoders that escape the solidus
        base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("="),
    ]
    for echo in echoes:
        assert scrub(f"upstream said <{echo}>", [KEY]) == "upstream said <[redacted]>", echo


def test_a_json_echo_of_the_headers_is_scrubbed() -> None:
    echoed = json.dumps({"headers": {"X-Api-Key": KEY, "Cookie": "k=" + quote(KEY, safe="")}})
    assert "[redacted]" in scrub(echoed, [KEY])
    for form in forms(KEY):
        assert form not in scrub(echoed, [KEY])


def test_short_values_and_ordinary_text_are_left_alone() -> None:
    assert scrub("a b c abc", ["abc"]) == "a b c abc"
    assert forms("plain-key") == ("cGxhaW4ta2V5", "plain-key")


def test_a_calls_scrubber_adds_what_was_revealed_for_that_call_only() -> None:
    store = SecretStore(environ={"TOOLMESH_SECRET_S_APIKEY": "shared-key"})
    store.get("s", "apiKey")
    call = CallScrubber(store, {"user-token"})
    pair = "ada:pa ss/word"
    call.reveal("Basic " + base64.b64encode(pair.encode()).decode(), pair)
    text = f"shared-key user-token {base64.b64encode(pair.encode()).decode()} {quote(pair, safe='')}"
    assert call(text) == "[redacted] [redacted] [redacted] [redacted]"
    assert CallScrubber(store)(text).startswith("[redacted] user-token "), (
        "another call's values are not kept"
    )
