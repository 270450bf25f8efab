"""Every secret value a test hands to toolmesh, and a check that none reaches a log line.

Tests register the credentials they configure (:func:`secret`); a hook in tests/conftest.py reads
the captured logs and output of every test of the session, of every outcome, and fails the session
when one of them holds a registered value. Lines of the test's own stub servers' access logs
(``aiohttp.access``) are not toolmesh's and are skipped: a stub upstream that receives an API key
in its query string logs it.
"""

from __future__ import annotations

SECRETS: set[str] = set()
#: (test, section, secret) for each leak found.
FOUND: list[tuple[str, str, str]] = []
FOREIGN = ("aiohttp.access",)


def secret(*values: str) -> None:
    """Register values that must never appear in toolmesh's logs."""
    SECRETS.update(v for v in values if len(v) >= 6)


def scan(nodeid: str, sections: list[tuple[str, str]]) -> None:
    if not SECRETS:
        return
    for title, content in sections:
        lines = [line for line in content.splitlines() if not any(f in line for f in FOREIGN)]
        text = "\n".join(lines)
        FOUND.extend((nodeid, title, value) for value in SECRETS if value in text)
