"""The container images' install steps (hack/install.sh, run by the Dockerfile) in fresh virtual
environments: every entry point starts, the category server answers its health probe with the core
alone (the category image's install, in its two steps) and the gateway with its extra and model; a
command whose extra is missing says so in one line. (hack/images.sh builds the images themselves.)"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from toolmesh.testing.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("image") / "venv"
    env = {**os.environ, "TOOLMESH_MODEL_DIR": str(target.parent / "model")}
    subprocess.run(
        ["bash", str(ROOT / "hack" / "install.sh"), str(target)], check=True, env=env, capture_output=True
    )
    return target


@pytest.fixture(scope="module")
def category_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The category image's install: the core only, dependencies first, then the package; no model."""
    target = tmp_path_factory.mktemp("category-image") / "venv"
    for step in ("deps", "all"):
        env = {**os.environ, "TOOLMESH_INSTALL_STEP": step}
        subprocess.run(["bash", str(ROOT / "hack" / "install.sh"), str(target), "category"],
                       check=True, env=env, capture_output=True)  # fmt: skip
    return target


@pytest.mark.parametrize("install", ["venv", "category_venv"])
@pytest.mark.parametrize(
    "command", [["--help"], ["operator", "--help"], ["gateway", "--help"], ["category", "serve", "--help"]]
)
def test_each_entry_point_starts(install: str, command: list[str], request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue(install)
    result = subprocess.run(
        [str(venv / "bin" / "toolmesh"), *command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_the_category_install_has_no_other_components_dependencies(category_venv: Path) -> None:
    listed = subprocess.run([str(category_venv / "bin" / "pip"), "list", "--format=json"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "toolmesh" in installed
    others = {"numpy", "fastembed", "onnxruntime", "onnx", "qdrant-client", "kopf", "kubernetes"}
    assert not others & installed
    result = subprocess.run([str(category_venv / "bin" / "toolmesh"), "gateway", "--catalog", "examples/local"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("toolmesh gateway: needs the 'gateway' extra")
    assert result.stderr.count("\n") == 1


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
    ("install", "command"),
    [
        ("category_venv", ["category", "serve", "examples/catalog", "--category", "pm"]),
        ("venv", ["gateway", "--catalog", "examples/local"]),
    ],
    ids=["category", "gateway"],
)
def test_the_servers_answer_their_health_probe(
    install: str, command: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    venv: Path = request.getfixturevalue(install)
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
