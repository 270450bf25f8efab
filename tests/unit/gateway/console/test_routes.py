"""The console's templates: whatever a catalogue holds is shown as text, never run as markup."""

from __future__ import annotations

from toolmesh.gateway.console import routes, views

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_markup_in_a_catalogue_is_escaped_and_the_pages_allow_no_script() -> None:
    page = routes.environment().get_template("integration.html").render(
        page="catalogue", prefix=routes.PREFIX, caller=HOSTILE, name=HOSTILE, category="pm",
        conditions=[views.Condition("failing", "Not serving", HOSTILE)],
        tools=[views.ToolView(HOSTILE, HOSTILE, HOSTILE, HOSTILE, 1)], total=1, offset=0, page_size=10,
    )  # fmt: skip
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src" not in routes.HEADERS["Content-Security-Policy"]
    assert routes.HEADERS["Content-Security-Policy"].startswith("default-src 'none'")
