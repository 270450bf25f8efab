"""The README's main command, `make dev`: the demo Tasks API and the gateway on examples/local."""

from __future__ import annotations

import asyncio
import json
import os
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


async def test_the_local_stack_finds_and_calls_the_demo_api(repo_root: Path, tmp_path: Path) -> None:
    api_port, gateway_port = free_port(), free_port()
    catalog = tmp_path / "local"
    shutil.copytree(repo_root / "examples" / "local", catalog, symlinks=False)
    (catalog / "catalog.yaml").write_text(
        (catalog / "catalog.yaml").read_text().replace("127.0.0.1:8099", f"127.0.0.1:{api_port}")
    )
    api = subprocess.Popen(
        [sys.executable, str(repo_root / "examples" / "local" / "tasks_demo_api.py"), "--port", str(api_port)]
    )
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
