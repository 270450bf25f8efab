"""Fixtures on a real Kubernetes API server (etcd + kube-apiserver + kube-controller-manager on loopback).

The control plane starts once per test session (about 3 s once the binaries are built; building
them takes minutes once per machine, see hack/kube-binaries.sh). Each test gets a namespace of its
own, and the operator runs in-process, watching only that namespace.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kopf
import pytest
from aiohttp import web

from toolmesh.gateway.settings import GatewaySettings
from toolmesh.kube import KubeClient, load_connection
from toolmesh.operator import handlers
from toolmesh.operator.reconcile import Operator
from toolmesh.operator.settings import OperatorSettings
from toolmesh.testing.cluster import LocalCluster, binaries

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")

pytestmark = pytest.mark.k8s


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(workdir=tmp_path_factory.mktemp("cluster"), bin_dir=binaries(), crds=ROOT / "crds")
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
async def kube(cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    async with KubeClient(load_connection(str(cluster.kubeconfig))) as client:
        yield client


class OperatorThread:
    """The operator in a thread of its own, with its own event loop, as in a real process.

    kopf treats every task created after its start as its own and cancels it on exit, so it must not
    share the test's loop. Tests reach the Operator through the thread-safe methods below.
    """

    def __init__(self, kubeconfig: Path, settings: OperatorSettings) -> None:
        self._kubeconfig, self._settings = kubeconfig, settings
        self._loop = asyncio.new_event_loop()
        self._memo = kopf.Memo()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="operator", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            watcher = asyncio.create_task(ready.wait())
            watcher.add_done_callback(lambda _: self._ready.set())
            await handlers.run(
                self._settings,
                load_connection(str(self._kubeconfig)),
                stop_flag=self._stop,
                ready_flag=ready,
                memo=self._memo,
            )

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            # Let closed connections finish closing (their sockets close a loop iteration later).
            self._loop.run_until_complete(asyncio.sleep(0.3))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def start(self) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the operator did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the operator did not stop within 30 s"

    @property
    def operator(self) -> Operator:
        operator: Operator = self._memo.operator
        return operator

    async def idle(self) -> None:
        """Wait until the operator has nothing queued or running."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.operator.idle(), self._loop))

    def request(self, kind: str, namespace: str, name: str) -> None:
        queue = self.operator.category_queue if kind == "MCPCategory" else self.operator.integration_queue
        self._loop.call_soon_threadsafe(queue.request, (namespace, name))

    @property
    def writes(self) -> int:
        return sum(self.operator.client.writes.values())


@pytest.fixture
def operator_settings(namespace: str) -> OperatorSettings:
    return OperatorSettings(
        namespaces=[namespace], resync_seconds=3600, category_image="toolmesh:test", log_format="console"
    )


@pytest.fixture
def operator(cluster: LocalCluster, operator_settings: OperatorSettings) -> Iterator[OperatorThread]:
    running = OperatorThread(cluster.kubeconfig, operator_settings).start()
    try:
        yield running
    finally:
        running.stop()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what or check} (last: {last!r})")


def condition(obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
    return next(
        (c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c.get("type") == type_), {}
    )


def cluster_gateway(cluster: LocalCluster, namespace: str, **overrides: Any) -> GatewaySettings:
    """A gateway watching ``namespace`` of the test cluster: no auth, lexical routing (no model to
    load), console logs; ``overrides`` set the rest."""
    base: dict[str, Any] = {
        "auth": "none",
        "source": "cluster",
        "namespace": namespace,
        "kubeconfig": str(cluster.kubeconfig),
        "lexical_only": True,
        "log_format": "console",
    }
    return GatewaySettings(**{**base, **overrides})


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def tasks_api() -> AsyncIterator[str]:
    spec = importlib.util.spec_from_file_location(
        "tasks_demo_api", ROOT / "examples" / "local" / "tasks_demo_api.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runner, url = await serve(module.create_app())
    yield url
    await runner.cleanup()
