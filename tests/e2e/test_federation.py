"""Federation: a remote Streamable HTTP MCP server and a packaged stdio server behind a category server."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from mcp import Client

from tests import leaks
from tests.conftest import StartCategory
from tests.e2e.remote_mcp import HeaderRecorder
from tests.e2e.test_category_server import Connect, text
from toolmesh.category.app import SERVICE
from toolmesh.common.mcp_client import OwnedClient
from toolmesh.gateway.supervisor import free_port

pytestmark = pytest.mark.e2e
leaks.secret("remote-token-42")
STDIO_SERVER = Path(__file__).with_name("stdio_server.py")
REPO = Path(__file__).resolve().parents[2]


def remote_integration(url: str) -> str:
    return f"""
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {{name: calculator}}
    spec:
      category: ai
      toolPrefix: calc
      mcp:
        url: {url}
        headers: {{X-Tenant: acme}}
      auth: {{type: bearer, secretRef: {{name: calc-token}}}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {{name: calc-token}}
    stringData: {{token: remote-token-42}}
    """


async def test_a_remote_mcp_server_is_federated_under_the_prefix(
    start_category: StartCategory, remote: tuple[str, HeaderRecorder], connect: Connect
) -> None:
    url, recorder = remote
    server = await start_category({"calc.yaml": remote_integration(url)})
    async with connect(server.mcp_url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"calc__add", "calc__divide"}
        assert tools["calc__add"].description == "Adds two integers."
        result = await client.call_tool("calc__add", {"a": 2, "b": 40})
        assert result.is_error is False
        assert text(result) == "42"
        failed = await client.call_tool("calc__divide", {"a": 1, "b": 0})
        assert failed.is_error is True
        assert text(failed) == "Error executing tool divide", "the remote's own error passes through"
    assert all(h.get("authorization") == "Bearer remote-token-42" for h in recorder.headers)
    assert all(h.get("x-tenant") == "acme" for h in recorder.headers)
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        state = (await response.json())["integrations"][0]
    assert state["kind"] == "mcp"
    assert state["discoveredTools"] == [
        {"name": "calc__add", "description": "Adds two integers."},
        {"name": "calc__divide", "description": "Divides a by b."},
    ]


async def test_an_unreachable_remote_fails_only_its_integration(
    start_category: StartCategory, connect: Connect
) -> None:
    server = await start_category({"calc.yaml": remote_integration(f"http://127.0.0.1:{free_port()}/mcp")})
    async with connect(server.mcp_url) as client:
        assert (await client.list_tools()).tools == []
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        assert response.status == 200
        state = (await response.json())["integrations"][0]
    assert state["ready"] is False
    assert state["message"].startswith("spec.mcp.url: ")


def stdio_integration() -> str:
    return f"""
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {{name: notes}}
    spec:
      category: data
      stdio:
        command: {sys.executable}
        args: ["{STDIO_SERVER}"]
        env:
          - {{name: GREETING, value: ahoy}}
    """


async def test_a_stdio_server_runs_as_a_child_and_is_restarted_after_a_crash(
    start_category: StartCategory, connect: Connect
) -> None:
    server = await start_category({"notes.yaml": stdio_integration()})
    async with connect(server.mcp_url) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {
            "notes__greet",
            "notes__crash",
            "notes__remember",
        }
        first = text(await client.call_tool("notes__greet", {"name": "Ada"}))
        assert first.startswith("ahoy, Ada (pid ")
        crashed = await client.call_tool("notes__crash", {})
        assert crashed.is_error is True
        again = text(await client.call_tool("notes__greet", {"name": "Ada"}))
        assert again.startswith("ahoy, Ada (pid ")
        assert again != first, "a new process answers after the crash"


async def log_lines(captured: list[dict[str, Any]], integration: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` log lines of a federated server (a notification may trail its call's
    result by a moment: waited for, 5 s at most)."""
    async with asyncio.timeout(5):
        while len(lines := [e for e in captured if e["event"] == "federated.log"]) < count:
            await asyncio.sleep(0.02)
    assert all(line["integration"] == integration for line in lines)
    return lines


async def test_a_stdio_servers_log_messages_are_in_the_category_servers_log_at_its_level(
    start_category: StartCategory, connect: Connect
) -> None:
    """A 2026-07-28 server logs only for requests that opt in, at a level: the category server opts
    in at its own, so the server's warning is logged and its debug line never sent."""
    server = await start_category({"notes.yaml": stdio_integration()})
    with structlog.testing.capture_logs() as captured:
        async with connect(server.mcp_url) as client:
            assert text(await client.call_tool("notes__remember", {"note": "milk"})) == "remembered"
        [line] = await log_lines(captured, "notes", 1)
        await asyncio.sleep(0.2)  # time for a debug line, which must not come
    assert line["log_level"] == "warning"
    assert (line["server_level"], line["server_logger"]) == ("warning", "notes.memory")
    assert line["data"] == {"remembered": "milk"}
    assert [e for e in captured if e["event"] == "federated.log"] == [line]


async def test_a_missing_stdio_command_is_reported(start_category: StartCategory) -> None:
    server = await start_category({"pg.yaml": """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {name: postgres}
        spec:
          category: data
          stdio: {command: postgres-mcp-not-installed}
    """})  # fmt: skip
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        state = (await response.json())["integrations"][0]
    assert (
        state["message"]
        == "spec.stdio.command: 'postgres-mcp-not-installed' is not installed in this image (not on PATH)"
    )


async def test_an_idle_stdio_server_is_stopped_and_started_again_on_use(
    start_category: StartCategory, connect: Connect
) -> None:
    server = await start_category({"notes.yaml": stdio_integration()}, stdio_idle_seconds=0.2)
    remote = server.runner.app[SERVICE].remotes[0]
    async with asyncio.timeout(5):
        while remote.running:
            await asyncio.sleep(0.02)
    async with connect(server.mcp_url) as client:
        result = await client.call_tool("notes__greet", {"name": "Grace"})
    assert text(result).startswith("ahoy, Grace (pid ")


@pytest.fixture(scope="session")
def mcp_server_git() -> Path:
    """The MCP project's reference git server from PyPI, in a venv of its own (hack/install-stdio-servers.sh)."""
    out = subprocess.run(
        [str(REPO / "hack" / "install-stdio-servers.sh")], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1]) / "mcp-server-git-2026.10.19" / "bin" / "mcp-server-git"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def repository(path: Path) -> Path:
    """A git repository at ``path`` with one commit (README.md)."""
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.email", "ada@example.com")
    git(path, "config", "user.name", "Ada")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "first commit")
    return path


@pytest.mark.packaged
async def test_a_packaged_stdio_server_from_pypi_works_against_a_real_repository(
    start_category: StartCategory, connect: Connect, mcp_server_git: Path, tmp_path: Path
) -> None:
    repo = repository(tmp_path / "repo")
    server = await start_category({"git.yaml": f"""
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: git}}
        spec:
          category: code
          stdio:
            command: {mcp_server_git}
            args: ["--repository", "{repo}"]
    """})  # fmt: skip
    async with connect(server.mcp_url) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"git__git_log", "git__git_status", "git__git_add", "git__git_commit"} <= names
        log = await client.call_tool("git__git_log", {"repo_path": str(repo)})
        assert log.is_error is False
        assert "first commit" in text(log)
        (repo / "NOTES.md").write_text("notes\n")
        await client.call_tool("git__git_add", {"repo_path": str(repo), "files": ["NOTES.md"]})
        committed = await client.call_tool(
            "git__git_commit", {"repo_path": str(repo), "message": "add notes via toolmesh"}
        )
        assert committed.is_error is False
    assert git(repo, "log", "-1", "--format=%s").strip() == "add notes via toolmesh"


async def test_concurrent_first_calls_share_one_connection(remote: tuple[str, HeaderRecorder]) -> None:
    url, _ = remote
    opened = 0

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Client]:
        nonlocal opened
        opened += 1
        async with Client(url) as client:
            yield client

    owned = OwnedClient("calculator", connect, timeout=10)
    try:
        results = await asyncio.gather(*(owned.call("add", {"a": i, "b": 1}) for i in range(5)))
        assert [text(r) for r in results] == [str(i + 1) for i in range(5)]
        assert opened == 1  # the callers that came while it started waited for that start, not a new one
    finally:
        await owned.stop()
