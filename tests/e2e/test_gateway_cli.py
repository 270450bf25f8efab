"""``toolmesh gateway`` and ``toolmesh dev`` fail on a wrong setting or a busy port in one line, first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
#: A key that someone pasted where its digest belongs: it must not be echoed.
PASTED_KEY = "pasted-api-key-9f8e7d"


def toolmesh(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOOLMESH_")}
    return subprocess.run(
        [sys.executable, "-m", "toolmesh.cli.main", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**clean, "TOOLMESH_LEXICAL_ONLY": "true", **env},
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"toolmesh {command}: ")
    assert result.stdout == ""
    return result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "TOOLMESH_AUTH_ISSUER is required with TOOLMESH_AUTH=jwt"),
        ({"TOOLMESH_AUTH": "api-key"}, "TOOLMESH_AUTH=api-key needs TOOLMESH_AUTH_API_KEYS"),
        (
            {"TOOLMESH_AUTH": "api-key", "TOOLMESH_AUTH_API_KEYS": f'["{"a" * 64}", "{PASTED_KEY}"]'},
            "TOOLMESH_AUTH_API_KEYS: entry 2 is not a SHA-256 digest (64 hex digits)",
        ),
        ({"TOOLMESH_AUTH": "api-key", "TOOLMESH_AUTH_API_KEYS": "not json"}, '"auth_api_keys"'),
        ({"TOOLMESH_AUTH": "sometimes"}, "TOOLMESH_AUTH: Input should be 'jwt', 'api-key' or 'none'"),
        (
            {"TOOLMESH_AUTH": "none", "TOOLMESH_SEARCH_LIMIT": "0"},
            "TOOLMESH_SEARCH_LIMIT: Input should be greater",
        ),
    ],
    ids=["no-issuer", "no-keys", "malformed-digest", "keys-not-json", "unknown-auth", "bad-limit"],
)
def test_a_wrong_setting_is_one_line_naming_it_and_no_traceback(env: dict[str, str], named: str) -> None:
    stderr = one_line(toolmesh("gateway", "--catalog", "examples/local", "--port", "0", **env), "gateway")
    assert named in stderr
    assert PASTED_KEY not in stderr


@pytest.mark.parametrize("command", ["dev", "gateway"])
def test_a_busy_port_fails_first_in_one_line_naming_it(command: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        args = ["examples/local"] if command == "dev" else ["--catalog", "examples/local"]
        result = toolmesh(command, *args, "--port", str(port), TOOLMESH_AUTH="none")
    stderr = one_line(result, command)
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "indexing" not in stderr, "fails before loading anything"
