"""How a federated server's log messages are kept in the category server's log (toolmesh.category.server_logs)."""

from __future__ import annotations

import logging

import pytest

from toolmesh.category.server_logs import LEVELS, MAX_DATA_CHARS, opt_in_level, shown


@pytest.mark.parametrize(
    ("python_level", "mcp_level"),
    [
        (logging.DEBUG, "debug"),
        (logging.INFO, "info"),
        (logging.WARNING, "warning"),
        (logging.ERROR, "error"),
        (logging.CRITICAL, "critical"),
        (logging.NOTSET, "debug"),
    ],
)
def test_the_opt_in_level_keeps_what_the_category_server_logs(python_level: int, mcp_level: str) -> None:
    assert opt_in_level(python_level) == mcp_level
    assert LEVELS[mcp_level] >= python_level or python_level == logging.NOTSET


def test_every_mcp_level_has_a_python_level_in_the_same_order() -> None:
    ordered = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
    assert list(LEVELS) == ordered
    assert [LEVELS[level] for level in ordered] == sorted(LEVELS.values())


def test_short_data_is_logged_as_it_is_and_long_data_cut_short_saying_by_how_much() -> None:
    assert shown({"remembered": "milk"}) == {"remembered": "milk"}
    assert shown("a line") == "a line"
    assert shown(42) == 42
    assert shown(None) is None
    long = "x" * (MAX_DATA_CHARS + 10)
    assert shown(long) == "x" * MAX_DATA_CHARS + "... (10 more characters)"
    cut = shown({"document": "y" * MAX_DATA_CHARS})
    assert isinstance(cut, str)
    assert cut.startswith('{"document": "yyy')
    assert cut.endswith(" more characters)")
