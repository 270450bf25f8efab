"""Exceptions of asyncio tasks that nobody retrieved: each one fails the test it came from.

A task that ends with an exception nobody awaits is a failure nobody saw (a background rebuild
that never happened, a watch that died). asyncio only says so when the task is garbage-collected,
often after the test that caused it has passed, as one ERROR record of the ``asyncio`` logger:
"Task exception was never retrieved", then the task's repr, which names it. A handler on that
logger (so every loop of every thread is covered, the operator's included) keeps those records;
tests/conftest.py collects garbage after each test and fails it with them, and fails the session
for records that came outside any test (a session fixture's teardown), as tests/leaks.py does.
"""

from __future__ import annotations

import gc
import logging

#: The first line of asyncio's message for a task, and for a plain future.
MARKERS = ("Task exception was never retrieved", "Future exception was never retrieved")
LOGGER = "asyncio"


class Recorder(logging.Handler):
    """Keeps asyncio's "exception was never retrieved" reports, with their tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(MARKERS):
            self.found.append(self.format(record))


RECORDER = Recorder()
#: Reports that came outside any test (between tests, in a fixture of a wider scope): the session's.
OUTSIDE: list[str] = []


def install() -> None:
    logging.getLogger(LOGGER).addHandler(RECORDER)


def uninstall() -> None:
    logging.getLogger(LOGGER).removeHandler(RECORDER)


def freeze() -> None:
    """Once the tests are collected: set what exists then (modules, tests) aside from collections.

    A full collection walks every object: about 100 ms a test with the modules of the suite loaded,
    most of a unit test's time. Frozen, they are not walked again, and a test's collection takes
    a few milliseconds. They live as long as the session anyway; the session's last collection
    (``take(everything=True)``) includes them again.
    """
    gc.collect()
    gc.freeze()


def take(*, collect: bool = True, everything: bool = False) -> list[str]:
    """The reports since the last call; first, garbage (where dead tasks wait to report) is collected,
    including what :func:`freeze` set aside if ``everything``."""
    if everything:
        gc.unfreeze()
    if collect:
        gc.collect()
    found = list(RECORDER.found)
    RECORDER.found.clear()
    return found


def explain(found: list[str]) -> str:
    return (
        f"{len(found)} asyncio task exception(s) never retrieved: await the task, or add a done "
        "callback that handles its exception\n\n" + "\n\n".join(found)
    )
