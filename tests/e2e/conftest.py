"""End-to-end fixtures: a stub upstream, a category server on loopback, the SDK client."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from mcp import Client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.identity_stack import Stack, open_stack
from tests.e2e.issuer import Issuer, serve_issuer
from tests.e2e.remote_mcp import HeaderRecorder, serve_remote
from tests.e2e.stub_upstream import StubUpstream
from toolmesh.gateway.app import SERVICE
from toolmesh.gateway.app import create_app as create_gateway_app
from toolmesh.gateway.service import GatewayService
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.testing.vault import DevVault

MODES = ["auto", "legacy"]  # auto negotiates MCP 2026-07-28; legacy speaks the 2025 handshake


@pytest.fixture
async def upstream() -> AsyncIterator[StubUpstream]:
    stub = StubUpstream()
    await stub.start()
    yield stub
    await stub.close()


@pytest.fixture
async def stack(
    dev_vault: DevVault, issuer: Issuer, upstream: StubUpstream, start_category: StartCategory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:  # fmt: skip
    """The upstream-identity stack (identity_stack.py): gateway, category server, OpenBao, OAuth."""
    async with open_stack(dev_vault, issuer, upstream, start_category, tmp_path, monkeypatch) as stack:
        yield stack


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    """A test authorization server signing real JWTs with rotating keys."""
    async with serve_issuer() as state:
        yield state


@pytest.fixture
async def remote() -> AsyncIterator[tuple[str, HeaderRecorder]]:
    """A remote MCP server toolmesh did not write; its URL and the headers it received."""
    async with serve_remote() as served:
        yield served


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(mode: str) -> Callable[[str], Client]:
    """An SDK client for a URL, in the protocol generation of the test's ``mode``.

    Tests enter it themselves (``async with connect(url) as client``): the SDK's task groups must
    be entered and left in the same task.
    """

    def open_client(url: str) -> Client:
        return Client(url, mode=mode)  # type: ignore[arg-type]

    return open_client


class Gateway:
    def __init__(self, url: str, service: GatewayService) -> None:
        self.mcp_url = f"{url}/mcp"
        self.service = service


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(tmp_path: Path, upstream: StubUpstream) -> AsyncIterator[StartGateway]:
    runners: list[web.AppRunner] = []

    from tests.e2e.test_category_server import SECRET, tasks_integration  # the demo integration's YAML

    async def start(extra: dict[str, str] | None = None, **settings: object) -> Gateway:
        folder = tmp_path / "catalog"
        folder.mkdir(exist_ok=True)
        (folder / "categories.yaml").write_text(textwrap.dedent("""
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPCategory
            metadata: {name: pm}
            spec: {description: "Project management: projects and tasks"}
        """))  # fmt: skip
        (folder / "integrations.yaml").write_text(textwrap.dedent(tasks_integration(upstream.url)))
        (folder / "secrets.yaml").write_text(textwrap.dedent(SECRET))
        (folder / "tasks-openapi").mkdir(exist_ok=True)
        (folder / "tasks-openapi" / "tasks.openapi.yaml").write_text(DEMO_SPEC.read_text())
        for name, content in (extra or {}).items():
            (folder / name).write_text(textwrap.dedent(content))
        settings = {"auth": "none", "port": 0, **settings}  # a port given: the gateway listens there
        app = create_gateway_app(GatewaySettings(catalog=folder, **settings))  # type: ignore[arg-type]
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", int(settings["port"]))  # type: ignore[call-overload]
        await site.start()
        runners.append(runner)
        return Gateway(f"http://127.0.0.1:{runner.addresses[0][1]}", app[SERVICE])

    yield start
    for runner in runners:
        await runner.cleanup()
