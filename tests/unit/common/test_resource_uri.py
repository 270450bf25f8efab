"""The URIs of federated resources: wrapped reversibly, hostile ones refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolmesh.common import resource_uri
from toolmesh.common.resource_uri import BadResourceUri, unwrap, wrap

NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]{1,8}){0,2}", fullmatch=True)


@settings(max_examples=300, deadline=None, database=None)
@given(NAMES, st.text(min_size=1, max_size=500))
def test_any_uri_of_any_integration_round_trips(integration: str, original: str) -> None:
    assert unwrap(wrap(integration, original)) == (integration, original)


@pytest.mark.parametrize(
    ("original", "wrapped"),
    [
        ("file:///README.md", "toolmesh://notes/file:///README.md"),
        ("notes://today?x=1#y", "toolmesh://notes/notes://today?x=1#y"),
        ("memo://a%2Fb", "toolmesh://notes/memo://a%2Fb"),  # not decoded
        ("relative/path", "toolmesh://notes/relative/path"),
    ],
)
def test_the_original_follows_the_integration_unchanged(original: str, wrapped: str) -> None:
    assert wrap("notes", original) == wrapped
    assert unwrap(wrapped) == ("notes", original)


def test_a_wrapped_template_expands_to_the_wrapped_expansion() -> None:
    template = wrap("notes", "notes://{day}/entry")
    assert template == "toolmesh://notes/notes://{day}/entry"
    assert unwrap(template.replace("{day}", "monday")) == ("notes", "notes://monday/entry")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("toolmesh://", "names no server's URI"),
        ("toolmesh:///file:///x", "names no integration"),
        ("toolmesh://notes", "names no server's URI"),
        ("toolmesh://notes/", "names no server's URI after toolmesh://notes/"),
        ("toolmesh://../etc/passwd", "not an integration name"),
        ("toolmesh://./x", "not an integration name"),
        ("toolmesh://Notes/x", "not an integration name"),
        ("toolmesh://a_b/x", "not an integration name"),
        ("toolmesh://a@b/x", "not an integration name"),
        ("toolmesh://a:80/x", "not an integration name"),
        ("file:///etc/passwd", "must start with toolmesh://"),
        ("TOOLMESH://notes/x", "must start with toolmesh://"),
        ("", "must start with toolmesh://"),
        ("toolmesh://" + "a" * 254 + "/x", "not an integration name"),
        ("toolmesh://notes/" + "x" * resource_uri.MAX_URI, "longer than 8192 characters"),
    ],
)
def test_a_uri_that_is_not_ours_is_refused_with_the_reason(uri: str, reason: str) -> None:
    with pytest.raises(BadResourceUri, match=reason.replace("?", r"\?")):
        unwrap(uri)
    assert resource_uri.integration_of(uri) is None


def test_dot_dot_in_the_original_stays_with_its_integration() -> None:
    """The original is opaque: no normalisation can move a read to another integration."""
    assert unwrap("toolmesh://notes/../payroll/file:///salaries") == ("notes", "../payroll/file:///salaries")
    assert unwrap("toolmesh://notes/..") == ("notes", "..")


def test_a_long_integration_name_is_shown_shortened_in_the_message() -> None:
    with pytest.raises(BadResourceUri) as raised:
        unwrap("toolmesh://" + "A" * 5000 + "/x")
    assert len(str(raised.value)) < 200


def test_wrap_refuses_what_unwrap_would() -> None:
    with pytest.raises(BadResourceUri, match="must not be empty"):
        wrap("notes", "")
    with pytest.raises(BadResourceUri, match="not an integration name"):
        wrap("../x", "file:///a")
