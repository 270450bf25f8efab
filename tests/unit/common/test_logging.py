"""Logs render tracebacks without frame locals, and are JSON unless a person reads them at a terminal.

Each case runs in a child process: logging is configured once per process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import leaks

SECRET = "s3cret-in-a-local-4711"
leaks.secret(SECRET)

PROGRAM = f"""
import logging, structlog
from toolmesh.common import logging as setup

setup.configure("INFO", {{fmt!r}})

def call_upstream(api_key):
    credentials = {{{{"apiKey": api_key}}}}
    raise RuntimeError("the upstream refused")

for log in (structlog.get_logger("toolmesh.test"), logging.getLogger("aiohttp.server")):
    try:
        call_upstream({SECRET[::-1]!r}[::-1])
    except RuntimeError:
        log.exception("call.failed")
"""


def run(fmt: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(fmt=fmt)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("fmt", ["console", "json", "auto"])
def test_tracebacks_name_the_frames_but_never_their_locals(fmt: str) -> None:
    out = run(fmt)
    assert out.count("RuntimeError: the upstream refused") == 2, out
    assert "call_upstream" in out
    assert SECRET not in out
    assert "api_key" not in out
    assert "credentials" not in out


def test_auto_is_json_lines_when_stderr_is_not_a_terminal() -> None:
    lines = run("auto").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["call.failed", "call.failed"]
    assert all("Traceback (most recent call last)" in e["exception"] for e in events)


LEVELS = """
import logging, structlog
from toolmesh.common import logging as setup

setup.configure("WARNING", "json")
log = structlog.get_logger("toolmesh.test")
log.info("hidden.info")
log.warning("shown.warning")
logging.getLogger().setLevel("INFO")  # a level changed later applies to loggers already used
log.info("shown.info")
"""


def test_lines_below_the_level_are_dropped_and_a_new_level_applies_at_once() -> None:
    done = subprocess.run([sys.executable, "-c", LEVELS], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["event"], e["level"]) for e in events] == [
        ("shown.warning", "warning"),
        ("shown.info", "info"),
    ]
