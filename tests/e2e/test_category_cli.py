"""``toolmesh category serve`` as an operator or a developer starts it: a real process on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from mcp import Client

from tests.e2e.test_federation import free_port

pytestmark = pytest.mark.e2e


async def test_serving_the_example_catalog_for_one_category(repo_root: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolmesh.cli.main", "category", "serve", str(repo_root / "examples" / "catalog"),
         "--category", "pm", "--port", str(port)],
        stderr=subprocess.PIPE, env={**os.environ, "TOOLMESH_CATEGORY_LOG_LEVEL": "INFO"},
    )  # fmt: skip
    try:
        status = None
        async with aiohttp.ClientSession() as http, asyncio.timeout(20):
            while status is None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        status = await response.json() if response.status == 200 else None
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        states = {s["name"]: s for s in status["integrations"]}
        assert set(states) == {"tasks", "status-page"}, "--category pm leaves code-search out"
        assert states["tasks"]["tools"] == 7, "spec.openapi.exclude drops the DELETE operation"
        assert states["status-page"]["tools"] == 1
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            names = {t.name for t in (await client.list_tools()).tools}
        assert "status__listComponents" in names
        assert "tasks__deleteTask" not in names
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    events = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    loaded = next(e for e in events if e["event"] == "catalog.loaded")
    assert (loaded["integrations"], loaded["tools"], loaded["level"]) == (2, 8, "info")


def test_a_missing_catalog_folder_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "toolmesh.cli.main", "category", "serve", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == f"toolmesh category serve: {tmp_path / 'nope'} is not a folder\n"


def test_a_busy_port_or_a_wrong_setting_is_one_line_and_no_traceback(repo_root: Path) -> None:
    def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "toolmesh.cli.main",
            "category",
            "serve",
            str(repo_root / "examples" / "catalog"),
        ]
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})  # fmt: skip

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        taken = serve("--port", str(port))
    assert taken.returncode == 2
    assert taken.stderr.count("\n") == 1
    assert f"toolmesh category serve: cannot listen on 127.0.0.1:{port}" in taken.stderr
    wrong = serve("--port", "0", TOOLMESH_CATEGORY_EGRESS_ALLOW='["10.0.0.0/8", "internal"]')
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1
    assert "TOOLMESH_CATEGORY_EGRESS_ALLOW: Value error, 'internal' is not a network" in wrong.stderr
