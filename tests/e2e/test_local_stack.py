"""The README's main command, `make dev`: the demo Tasks API and the gateway on examples/local."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from mcp import Client

from tests.e2e.test_category_server import text
from tests.e2e.test_federation import free_port

pytestmark = pytest.mark.e2e


async def wait_http(url: str, timeout: float = 30) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)


def demo_catalog(repo_root: Path, tmp_path: Path) -> tuple[Path, subprocess.Popen[bytes]]:
    """examples/local copied into ``tmp_path``, pointed at the demo Tasks API started on a free port."""
    api_port = free_port()
    catalog = tmp_path / "local"
    shutil.copytree(repo_root / "examples" / "local", catalog, symlinks=False)
    (catalog / "catalog.yaml").write_text(
        (catalog / "catalog.yaml").read_text().replace("127.0.0.1:8099", f"127.0.0.1:{api_port}")
    )
    api = subprocess.Popen(
        [sys.executable, str(repo_root / "examples" / "local" / "tasks_demo_api.py"), "--port", str(api_port)]
    )
    return catalog, api


async def test_the_local_stack_finds_and_calls_the_demo_api(repo_root: Path, tmp_path: Path) -> None:
    gateway_port = free_port()
    catalog, api = demo_catalog(repo_root, tmp_path)
    gateway = subprocess.Popen(
        [sys.executable, "-m", "toolmesh.cli.main", "dev", str(catalog), "--port", str(gateway_port), "--direct-tools-limit", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TOOLMESH_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    try:
        await wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
        async with Client(f"http://127.0.0.1:{gateway_port}/mcp") as client:
            found = text(await client.call_tool("search_tools", {"query": "create a new task"}))
            assert found.splitlines()[0].startswith("tasks__createTask [pm]")
            created = await client.call_tool(
                "call_tool",
                {
                    "name": "tasks__createTask",
                    "arguments": {"projectId": "apollo", "body": {"title": "Launch"}},
                },
            )
            assert created.is_error is False, text(created)
            assert json.loads(text(created))["title"] == "Launch"
            listed = await client.call_tool(
                "call_tool", {"name": "tasks__listTasks", "arguments": {"projectId": "apollo"}}
            )
            assert [t["title"] for t in json.loads(text(listed))] == ["Design the lander", "Launch"]
    finally:
        gateway.send_signal(signal.SIGINT)
        out, _ = gateway.communicate(timeout=15)
        api.terminate()
        api.wait()
    assert f"MCP endpoint: http://127.0.0.1:{gateway_port}/mcp" in out.decode()
    assert "claude mcp add --transport http toolmesh" in out.decode()


#: A line of structlog's console format: time, level, event, then the logger and key-values.
CONSOLE_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(debug|info|warning|error|critical) *\] [a-z_]+\.[a-z_.]+ "
)


async def run_local_stack(
    repo_root: Path, tmp_path: Path, *, stderr: int, extra: tuple[str, ...] = ()
) -> tuple[str, str]:
    """`toolmesh dev` over examples/local, with its stderr on ``stderr``; one search and one call
    (which starts the category server, a child process), then stopped as Ctrl-C stops it. What it
    wrote: (stdout, stderr), stderr empty unless piped."""
    gateway_port = free_port()
    catalog, api = demo_catalog(repo_root, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLMESH_LOG")}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "toolmesh.cli.main", "dev", str(catalog), "--port", str(gateway_port), "--direct-tools-limit", "0", *extra],
        stdout=subprocess.PIPE, stderr=stderr, env=env,
    )  # fmt: skip
    try:
        await wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
        async with Client(f"http://127.0.0.1:{gateway_port}/mcp") as client:
            await client.call_tool("search_tools", {"query": "create a new task"})
            listed = await client.call_tool(
                "call_tool", {"name": "tasks__listTasks", "arguments": {"projectId": "apollo"}}
            )
            assert listed.is_error is False, text(listed)
            missing = await client.call_tool("call_tool", {"name": "tasks__nope", "arguments": {}})
            assert missing.is_error is True
    finally:
        gateway.send_signal(signal.SIGINT)
        out, err = gateway.communicate(timeout=15)
        api.terminate()
        api.wait()
    return out.decode(), (err or b"").decode()


async def test_toolmesh_dev_and_its_category_servers_log_json_lines_when_not_on_a_terminal(
    repo_root: Path, tmp_path: Path
) -> None:
    out, err = await run_local_stack(repo_root, tmp_path, stderr=subprocess.PIPE)
    lines = err.splitlines()
    events = [json.loads(line) for line in lines]  # every line, or this raises naming it
    assert all({"event", "level", "timestamp", "logger"} <= e.keys() for e in events), lines
    names = {e["event"] for e in events}
    assert {"dev.indexing", "dev.indexed", "dev.listening", "category.started", "tool.called"} <= names
    assert {e["logger"] for e in events} >= {"toolmesh.gateway", "toolmesh.category"}  # the child's too
    assert "MCP endpoint:" in out  # stdout: what to paste into a client


async def test_toolmesh_dev_and_its_category_servers_log_the_console_format_on_a_terminal(
    repo_root: Path, tmp_path: Path
) -> None:
    terminal, child_side = pty.openpty()
    try:
        await run_local_stack(repo_root, tmp_path, stderr=child_side, extra=("--lexical-only",))
    finally:
        os.close(child_side)
    said = b""
    for _ in range(1000):  # what the terminal got; EIO once it is all read
        try:
            chunk = os.read(terminal, 65536)
        except OSError:
            break
        if not chunk:
            break
        said += chunk
    os.close(terminal)
    lines = [line for line in said.decode().splitlines() if line.strip()]
    assert lines
    assert all(CONSOLE_LINE.match(line) for line in lines), lines
    assert any("[toolmesh.category]" in line and "tool.called" in line for line in lines), lines
