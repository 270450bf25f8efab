"""The chart installed on a cluster with a real node, and MCP traffic to it (node tests, bench).

:class:`Release` runs helm and kubectl as an admin would; :func:`install` builds nothing, it installs
the chart with images already in the node, the demo Tasks API as the upstream, and the example
catalogue. :class:`Load` is a bounded stream of tool calls through the official MCP SDK client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from toolmesh.testing.cluster import REPO, LocalCluster

T = TypeVar("T")
CHART = REPO / "charts" / "toolmesh"
NAMESPACE = "toolmesh"
REPOSITORY = "toolmesh/toolmesh"
TAG = "node-test"
API_KEY = "node-tier-key-5f1c2e"  # the gateway's key in a throwaway cluster, nowhere else
DEMO_KEY = "demo-key"  # the demo Tasks API's fixed key (examples/local/tasks_demo_api.py)
TARGETS = ("gateway", "operator", "category", "demo")


def build_images(tag: str = TAG, targets: tuple[str, ...] = TARGETS) -> dict[str, str]:
    """The images of ``targets`` built here by hack/images.sh (Docker's layer cache makes reruns quick)."""
    env = {**os.environ, "TOOLMESH_IMAGE_REPOSITORY": f"ghcr.io/{REPOSITORY}", "TOOLMESH_IMAGE_TAG": tag}
    built = subprocess.run(
        ["bash", str(REPO / "hack" / "images.sh"), *targets],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    refs = [line.strip() for line in built.stdout.splitlines() if line.strip()]
    by_target = {ref.rsplit(":", 1)[0].rsplit("-", 1)[-1]: ref for ref in refs}
    missing = set(targets) - by_target.keys()
    if missing:
        raise RuntimeError(f"hack/images.sh built no {sorted(missing)} image: {refs}")
    return by_target


def helm_binary() -> str:
    built = subprocess.run(
        ["bash", str(REPO / "hack" / "helm-binary.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    return built.stdout.strip().splitlines()[-1]


def wait_for(what: str, predicate: Callable[[], T], timeout: float = 120.0, every: float = 0.5) -> T:
    """``predicate()`` once it is truthy; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s (last: {last!r})")
        time.sleep(every)
        last = predicate()
    return last


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@dataclass
class Release:
    cluster: LocalCluster
    helm: str
    values: list[str] = field(default_factory=list)
    name: str = "toolmesh"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.helm, *args, "--kubeconfig", str(self.cluster.kubeconfig), "--namespace", NAMESPACE],
            capture_output=True, text=True, check=check, timeout=600,
        )  # fmt: skip

    def install(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("install", self.name, str(CHART), "--create-namespace", "--wait", "--timeout=5m",
                        *self.values, *extra, check=False)  # fmt: skip

    def upgrade(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("upgrade", self.name, str(CHART), "--wait", "--timeout=5m", *self.values, *extra,
                        check=False)  # fmt: skip

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", NAMESPACE, *args, check=check, input=input)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def pods(self, selector: str) -> list[dict[str, Any]]:
        """The pods matching ``selector`` that are not being deleted."""
        items: list[dict[str, Any]] = self.json("pods", "-l", selector)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def category_pods(self, category: str) -> list[dict[str, Any]]:
        return self.pods(f"app.kubernetes.io/name=toolmesh-category,app.kubernetes.io/instance={category}")

    def asleep(self, category: str) -> bool:
        """The category runs no pod, not even a terminating one, and its status says so."""
        selector = f"app.kubernetes.io/name=toolmesh-category,app.kubernetes.io/instance={category}"
        status = self.json("mcpcategory", category).get("status") or {}
        return not self.json("pods", "-l", selector)["items"] and not status.get("readyReplicas")

    def patch_category(self, name: str, spec: dict[str, Any]) -> None:
        self.kubectl("patch", "mcpcategory", name, "--type=merge", "-p", json.dumps({"spec": spec}))

    def service_url(self, name: str, path: str = "/mcp") -> str:
        service = self.json("service", name)
        port = service["spec"]["ports"][0]["port"]
        return f"http://{service['spec']['clusterIP']}:{port}{path}"

    @property
    def gateway_url(self) -> str:
        return self.service_url(f"{self.name}-gateway")

    def diagnosis(self, lines: int = 150) -> str:
        """What an admin would look at first: the namespace's pods, its recent events, and the last
        ``lines`` of the gateway's and the operator's logs (best effort: a command that fails shows its
        error)."""
        parts = []
        for args in [
            ("get", "pods", "-o", "wide"),
            ("get", "mcpcategories"),
            ("get", "events", "--sort-by=.lastTimestamp"),
            ("get", "leases", "-o", "yaml"),
        ]:
            done = self.kubectl(*args, check=False)
            parts.append(f"--- kubectl {' '.join(args)}\n{done.stdout[-6000:]}{done.stderr[-2000:]}")
        for component in ("gateway", "operator"):
            selector = f"app.kubernetes.io/name=toolmesh-{component}"
            done = self.kubectl("logs", "-l", selector, "--prefix", "--tail", str(lines), check=False)
            parts.append(f"--- {component} logs\n{done.stdout}{done.stderr}")
        return "\n".join(parts)


DEMO_API = """apiVersion: v1
kind: Service
metadata: {{name: tasks-demo, namespace: {namespace}}}
spec:
  selector: {{app: tasks-demo}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: tasks-demo, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: tasks-demo}}}}
  template:
    metadata: {{labels: {{app: tasks-demo}}}}
    spec:
      containers:
      - name: api
        image: {image}
        imagePullPolicy: Never
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 2}}
"""


def install(cluster: LocalCluster, helm: str, images: dict[str, str], *extra: str) -> Release:
    """The chart as an admin installs it (API keys, images already on the node), the demo Tasks API
    as the upstream, and ``examples/catalog`` with its Secret, all in namespace ``toolmesh``."""
    release = install_chart(cluster, helm, images, *extra)
    release.kubectl("apply", "-f", "-", input=DEMO_API.format(namespace=NAMESPACE, image=images["demo"]))
    release.kubectl("create", "secret", "generic", "tasks-credentials", f"--from-literal=apiKey={DEMO_KEY}")
    release.kubectl("apply", "-k", str(REPO / "examples" / "catalog"))
    release.kubectl("rollout", "status", "deployment/tasks-demo", "--timeout=120s")
    return release


def install_chart(cluster: LocalCluster, helm: str, images: dict[str, str], *extra: str) -> Release:
    """The chart alone, as :func:`install` sets it up."""
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    tag = images["gateway"].rsplit(":", 1)[1]
    release = Release(cluster, helm, values=[
        "--set", f"image.repository={REPOSITORY}", "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never",
        "--set", "gateway.auth.mode=api-key", "--set", f"gateway.auth.apiKeyDigests[0]={digest}",
        # Two cores for everything: requests small enough that every pod fits on the one node.
        "--set", "gateway.resources.requests.cpu=50m", "--set", "operator.resources.requests.cpu=50m",
        "--set", "operator.resyncSeconds=10", *extra,
    ])  # fmt: skip
    installed = release.install()
    if installed.returncode != 0:
        raise RuntimeError(f"helm install failed: {installed.stderr}")
    return release


@asynccontextmanager
async def mcp_client(url: str, *, timeout: float = 30.0) -> AsyncIterator[Client]:
    """The official SDK client, authenticated with the release's API key."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=timeout) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@dataclass
class Load:
    """A bounded stream of tool calls: ``calls`` in all, ``concurrency`` at a time, ``seconds`` at most.

    Each call is a new client session (initialize, then call), as separate agents would make them.
    """

    url: str
    tool: str
    arguments: dict[str, Any]
    calls: int = 200
    concurrency: int = 4
    seconds: float = 60.0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    stopped: bool = False

    def stop(self) -> None:
        """Start no new call; the calls in flight finish."""
        self.stopped = True

    async def across(
        self,
        disrupt: Callable[[], object],
        recovered: Callable[[], object],
        timeout: float = 120.0,
        calls: int = 25,
    ) -> int:
        """Run; once ``calls`` calls succeeded, ``disrupt()``; once ``recovered()`` holds and
        ``calls`` more succeeded, stop (each wait bounded by ``timeout``). Waits on counts, not on
        time, so a slow machine makes it slower, never flaky.

        Returns how many calls had succeeded before the disruption (``ok`` counts them all).
        """
        running = asyncio.create_task(self.run())
        try:
            await self.until(calls, timeout, running)
            before = self.ok
            await asyncio.to_thread(disrupt)
            await asyncio.to_thread(wait_for, "recovery", recovered, timeout)
            await self.until(self.ok + calls, timeout, running)
        finally:
            self.stop()
            await running
        return before

    async def until(self, ok: int, timeout: float, running: asyncio.Task[Load]) -> None:
        """Until ``ok`` calls succeeded in all (or the load ended, or ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.ok < ok and not running.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def run(self) -> Load:
        deadline = time.monotonic() + self.seconds
        remaining = iter(range(self.calls))

        async def worker() -> None:
            while not self.stopped and time.monotonic() < deadline and next(remaining, None) is not None:
                started = time.monotonic()
                try:
                    async with mcp_client(self.url, timeout=15) as client:
                        result = await client.call_tool(self.tool, self.arguments)
                    if result.is_error:
                        self.failures.append(text_of(result)[:300])
                    else:
                        self.ok += 1
                        self.latencies.append(time.monotonic() - started)
                except Exception as exc:  # every failure is recorded, none ends the load
                    self.failures.append(f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.02)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return self
