"""The container image's install steps (hack/install.sh, run by the Dockerfile) in a fresh virtual
environment: every entry point starts, and the category server and gateway answer their health
probes. (No container engine runs here; this is what the image build does, minus the base image.)"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("image") / "venv"
    env = {**os.environ, "TOOLMESH_MODEL_DIR": str(target.parent / "model")}
    subprocess.run(
        ["bash", str(ROOT / "hack" / "install.sh"), str(target)], check=True, env=env, capture_output=True
    )
    return target


@pytest.mark.parametrize(
    "command", [["--help"], ["operator", "--help"], ["gateway", "--help"], ["category", "serve", "--help"]]
)
def test_each_entry_point_starts(venv: Path, command: list[str]) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "toolmesh"), *command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.2)
    return False


@pytest.mark.parametrize(
    "command",
    [
        ["category", "serve", "examples/catalog", "--category", "pm"],
        ["gateway", "--catalog", "examples/local"],
    ],
    ids=["category", "gateway"],
)
def test_the_servers_answer_their_health_probe(venv: Path, command: list[str], tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TOOLMESH_MODEL_DIR": str(venv.parent / "model"), "TOOLMESH_CACHE": str(tmp_path),
           "HF_HUB_OFFLINE": "1", "TOOLMESH_AUTH": "none", "TOOLMESH_PORT": str(port), "TOOLMESH_CATEGORY_PORT": str(port)}  # fmt: skip
    process = subprocess.Popen(
        [str(venv / "bin" / "toolmesh"), *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert healthy(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.terminate()
        process.wait(30)
