"""`toolmesh dev` and `toolmesh search` on a folder with every kind of integration: an OpenAPI
document in the folder, one at a URL, a remote MCP server and a packaged stdio server from PyPI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from mcp import Client

from tests.conftest import DEMO_SPEC
from tests.e2e.remote_mcp import HeaderRecorder
from tests.e2e.stub_upstream import StubUpstream
from tests.e2e.test_category_server import SECRET, tasks_integration, text
from tests.e2e.test_federation import mcp_server_git, repository  # noqa: F401  (the session fixture)
from tests.e2e.test_local_stack import wait_http
from toolmesh.gateway.supervisor import free_port
from toolmesh.testing.http import serving

pytestmark = [pytest.mark.e2e, pytest.mark.packaged]


@pytest.fixture
async def spec_url() -> AsyncIterator[str]:
    """The demo document served on loopback, as a team publishes its API's spec."""

    async def document(request: web.Request) -> web.Response:
        return web.Response(text=DEMO_SPEC.read_text())

    app = web.Application()
    app.router.add_get("/openapi.yaml", document)
    async with serving(app) as url:
        yield f"{url}/openapi.yaml"


def catalog(folder: Path, upstream: str, spec_url: str, remote: str, git_server: Path, repo: Path) -> Path:
    folder.mkdir()
    (folder / "tasks-openapi").mkdir()
    (folder / "tasks-openapi" / "tasks.openapi.yaml").write_text(DEMO_SPEC.read_text())
    (folder / "tasks.yaml").write_text(
        textwrap.dedent(tasks_integration(upstream)) + "---" + textwrap.dedent(SECRET)
    )
    (folder / "federated.yaml").write_text(textwrap.dedent(f"""
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: board}}
        spec:
          category: planning
          toolPrefix: board
          openapi:
            spec: {{url: "{spec_url}"}}
            baseUrl: {upstream}/v1
          auth: {{type: apiKey, apiKey: {{in: header, name: X-API-Key}}, secretRef: {{name: tasks-credentials}}}}
        ---
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: calculator}}
        spec:
          category: ai
          toolPrefix: calc
          mcp: {{url: "{remote}"}}
        ---
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: git}}
        spec:
          category: code
          stdio:
            command: {git_server}
            args: ["--repository", "{repo}"]
    """))  # fmt: skip
    return folder


async def test_toolmesh_dev_finds_and_calls_the_tools_of_every_kind_of_integration(
    tmp_path: Path,
    upstream: StubUpstream,
    spec_url: str,
    remote: tuple[str, HeaderRecorder],
    mcp_server_git: Path,  # noqa: F811
) -> None:
    repo = repository(tmp_path / "repo")
    folder = catalog(tmp_path / "catalog", upstream.url, spec_url, remote[0], mcp_server_git, repo)
    port = free_port()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "toolmesh.cli.main", "dev", str(folder), "--port", str(port), "--direct-tools-limit", "0", "--lexical-only"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TOOLMESH_LOG_FORMAT": "json"},
    )  # fmt: skip
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:

            async def found(query: str) -> list[str]:
                answer = text(await client.call_tool("search_tools", {"query": query, "limit": 3}))
                return [line.split(" ")[0] for line in answer.splitlines()[:3]]

            async def call(name: str, arguments: dict[str, object]) -> str:
                result = await client.call_tool("call_tool", {"name": name, "arguments": arguments})
                assert result.is_error is False, text(result)
                return text(result)

            assert (await found("add two integers"))[0] == "calc__add"
            assert await call("calc__add", {"a": 2, "b": 40}) == "42"
            assert "git__git_log" in await found("git log: the commit logs")
            assert "first commit" in await call("git__git_log", {"repo_path": str(repo)})
            described = json.loads(
                text(await client.call_tool("describe_tools", {"names": ["git__git_log"]}))
            )
            assert "repo_path" in described["tools"][0]["inputSchema"]["properties"], (
                "the server's own schema"
            )
            await call("board__createTask", {"projectId": "apollo", "body": {"title": "From a URL"}})
            sent = upstream.last()
            assert (sent.method, sent.path) == ("POST", "/v1/projects/apollo/tasks")
            assert json.loads(sent.body) == {"title": "From a URL"}
            assert sent.headers["X-API-Key"] == "key-123456"
            assert "board__createTask" in text(
                await client.call_tool("search_tools", {"query": "create a task", "categories": ["planning"]})
            )
            await call("tasks__getTask", {"projectId": "apollo", "taskId": 1})
            assert upstream.last().path == "/v1/projects/apollo/tasks/1"
    finally:
        gateway.send_signal(signal.SIGINT)
        _, err = gateway.communicate(timeout=30)
    said = [json.loads(line) for line in err.decode().splitlines()]
    indexed = [e for e in said if e["event"] == "dev.indexed"]
    assert [(e["tools"], e["categories"]) for e in indexed] == [(30, 4)], said
    assert not [e for e in said if e["event"] == "dev.problem"], said


async def test_toolmesh_search_ranks_federated_and_url_tools_and_names_an_unreachable_server(
    tmp_path: Path,
    upstream: StubUpstream,
    spec_url: str,
    remote: tuple[str, HeaderRecorder],
    mcp_server_git: Path,  # noqa: F811
) -> None:
    repo = repository(tmp_path / "repo")
    folder = catalog(tmp_path / "catalog", upstream.url, spec_url, remote[0], mcp_server_git, repo)
    down = f"http://127.0.0.1:{free_port()}/mcp"
    (folder / "down.yaml").write_text(textwrap.dedent(f"""
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: weather}}
        spec: {{category: ai, mcp: {{url: "{down}"}}}}
    """))  # fmt: skip
    search = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "toolmesh.cli.main", "search", "divide a number by another", "--catalog", str(folder), "--lexical-only", "--limit", "3",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TOOLMESH_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    async with asyncio.timeout(120):  # the servers it reaches run on this test's event loop: not blocked
        out, err = (part.decode() for part in await search.communicate())
    assert search.returncode == 0, err
    assert out.splitlines()[0].startswith(" 1. calc__divide [ai]"), out
    assert f"toolmesh search: integration weather: spec.mcp.url: cannot list the tools of {down}: " in err, (
        err
    )
    assert "toolmesh search: integration calculator" not in err, err
