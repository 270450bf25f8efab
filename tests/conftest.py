"""Shared fixtures: the repository root, the demo spec, and category servers on loopback (e2e and k8s);
session-wide checks: no secret in a log (tests/leaks.py), no task exception left unretrieved
(tests/unretrieved.py)."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests import leaks, unretrieved
from toolmesh.category.app import create_app
from toolmesh.category.settings import CategorySettings
from toolmesh.testing.vault import DevVault

ROOT = Path(__file__).resolve().parent.parent


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every captured log and output of the session is searched for the registered secrets."""
    leaks.scan(report.nodeid, report.sections)


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if leaks.FOUND:
        for nodeid, title, value in leaks.FOUND:
            print(f"\nLEAK: a registered secret ({value[:3]}...) appears in {title} of {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if found := [*unretrieved.OUTSIDE, *unretrieved.take(everything=True)]:
        print(f"\nOutside any test, {unretrieved.explain(found)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    unretrieved.install()


NODE_TIER_TIMEOUT = 1800  # seconds: a cold machine builds four images and starts a node first
#: Tiers whose first test sets up something large (pyproject's ``timeout`` holds for the others).
LONG_TIERS = {"node": NODE_TIER_TIMEOUT, "install": 1800}  # install: fresh virtual environments


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout"):
            continue
        for tier, seconds in LONG_TIERS.items():
            if item.get_closest_marker(tier):
                item.add_marker(pytest.mark.timeout(seconds))
                break


def pytest_collection_finish(session: pytest.Session) -> None:
    unretrieved.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    unretrieved.uninstall()


@pytest.fixture(autouse=True)
def no_unretrieved_task_exceptions() -> Iterator[None]:
    """Fail the test if one of its asyncio tasks ended with an exception nobody retrieved."""
    unretrieved.OUTSIDE.extend(unretrieved.take(collect=False))  # from before: not this test's
    yield
    if found := unretrieved.take():
        pytest.fail(unretrieved.explain(found), pytrace=False)


DEMO_SPEC = ROOT / "examples" / "catalog" / "specs" / "tasks.openapi.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def demo_spec_text() -> str:
    return DEMO_SPEC.read_text(encoding="utf-8")


class CategoryServer:
    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self.runner = runner
        self.url = url

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


StartCategory = Callable[..., Awaitable[CategoryServer]]


@pytest.fixture
async def start_category(tmp_path: Path) -> AsyncIterator[StartCategory]:
    """Write the given YAML into a catalog folder and serve it on a free loopback port (or on
    ``listen``, a socket bound beforehand, so that its port is known before it listens; the caller
    keeps it and closes it)."""
    runners: list[web.AppRunner] = []

    async def start(
        files: dict[str, str], *, listen: socket.socket | None = None, **settings: object
    ) -> CategoryServer:
        folder = tmp_path / f"catalog{len(runners)}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(textwrap.dedent(text))
        app = create_app(CategorySettings(catalog=folder, log_format="console", **settings))  # type: ignore[arg-type]
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0) if listen is None else web.SockSite(runner, listen.dup())
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return CategoryServer(runner, f"http://127.0.0.1:{port}")

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture(scope="session")
def dev_vault() -> Iterator[DevVault]:
    """A real OpenBao dev server (the Vault API) for the whole session; tests use their own paths."""
    with DevVault() as vault:
        yield vault
