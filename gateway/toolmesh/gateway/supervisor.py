"""Local mode's category servers: started on first use (wake from zero), stopped when idle, restarted if dead.

Each category runs as ``python -m toolmesh.category CATALOG --category NAME`` on a free loopback
port. The gateway talks to it through one task-owned SDK client. In a cluster the operator scales
Deployments instead and this module is replaced by a demand signal (issue #6).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
import structlog

from toolmesh.common import tracing
from toolmesh.common.mcp_client import ServerUnavailable
from toolmesh.common.mcp_forward import CategoryClient

log = structlog.get_logger("toolmesh.gateway")

EV_STARTED = "category.started"
EV_STOPPED = "category.stopped"
EV_DIED = "category.died"


class CategoryUnavailable(Exception):
    """A category server could not be started or reached; the text is for the agent."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Told of a category server that started: its category, its /readyz status and, when it reports
#: tools it discovered (federated servers, documents fetched from a URL), its tools/list.
OnStart = Callable[[str, dict[str, Any], list[dict[str, Any]]], None]
#: Told of each wake from zero: its category, how long it took (or waited, when it failed) and whether it served.
OnWake = Callable[[str, float, bool], None]


@dataclass
class Reached:
    """A category server reached: its client, its /readyz status and, when that status reports
    discovered tools, its tools/list (else empty). As is, one someone else runs
    (TOOLMESH_CATEGORY_ENDPOINTS)."""

    client: CategoryClient
    status: dict[str, Any]
    tools: list[dict[str, Any]]


R = TypeVar("R", bound=Reached)


@dataclass
class Running(Reached):
    """A category server this gateway started, as a child process."""

    process: asyncio.subprocess.Process
    url: str
    last_used: float = field(default_factory=time.monotonic)


def child_environment() -> dict[str, str]:
    """The environment a local category server starts with: the gateway's, except the service name
    its traces carry (each process names itself: toolmesh-category, toolmesh.common.tracing)."""
    return {k: v for k, v in os.environ.items() if k != "OTEL_SERVICE_NAME"}


def reports_discovered(status: dict[str, Any]) -> bool:
    """Does a category server's /readyz name tools that only it knows (discoveredTools)?"""
    return any(state.get("discoveredTools") for state in status.get("integrations", []))


class Categories(Protocol):
    """Where forwarded calls go: local processes (this module) or category Services (cluster.py)."""

    #: Told of each category server started, with its /readyz status and tools (local mode).
    on_start: OnStart | None
    #: Told of each connection retried, with its category (the gateway counts them).
    on_connect_retry: Callable[[str], None] | None
    #: Told of each wake from zero (the gateway counts and times them).
    on_wake: OnWake | None

    @property
    def running(self) -> Mapping[str, Any]: ...

    def awake(self) -> dict[str, bool]:
        """The categories this side knows, each True when it serves now, False when it is asleep."""
        ...

    def replicas(self) -> dict[str, int]:
        """Serving replicas of the categories whose count this side knows (pods, processes)."""
        ...

    async def client(self, category: str) -> CategoryClient: ...

    def problems(self) -> dict[str, str]:
        """Categories that are down, each with why: failed to start or wake, or not available."""
        ...

    async def close(self) -> None: ...


@dataclass
class LocalCategories:
    catalog: Path
    start_timeout: float
    idle_after: float
    call_timeout: float
    #: The gateway's own (resolved: its children write to its stderr), so that they log as it does.
    log_format: str = "json"
    log_level: str = "INFO"
    #: Called with (category, /readyz status, tools discovered) each time a category server starts.
    on_start: OnStart | None = None
    #: Never told here: a local category server is ready when started, nothing to retry.
    on_connect_retry: Callable[[str], None] | None = None
    #: Told of each category server started for a call (local mode's wake from zero).
    on_wake: OnWake | None = None
    running: dict[str, Running] = field(default_factory=dict)
    #: Category servers someone else runs (e.g. docker-compose services): used, never started or stopped.
    endpoints: dict[str, str] = field(default_factory=dict)
    _external: dict[str, Reached] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    #: Why each category's last start failed (until one succeeds).
    _failed: dict[str, str] = field(default_factory=dict)

    async def client(self, category: str) -> CategoryClient:
        """The client of a running category server, started first if needed."""
        if (known := self._external.get(category)) is not None:  # every call but the first
            return known.client
        current = self.running.get(category)
        if current is not None and current.process.returncode is None:  # running: no lock to take
            current.last_used = time.monotonic()
            return current.client
        if (url := self.endpoints.get(category)) is not None:
            async with self._locks.setdefault(category, asyncio.Lock()):
                if category not in self._external:
                    self._external[category] = await self._first_contact(
                        category, self._ask_external(category, url)
                    )
            return self._external[category].client
        async with self._locks.setdefault(category, asyncio.Lock()):
            current = self.running.get(category)
            if current is not None and current.process.returncode is not None:
                log.warning(EV_DIED, category=category, returncode=current.process.returncode)
                await current.client.stop()
                del self.running[category]
                current = None
            if current is None:
                started = time.monotonic()
                with tracing.span(
                    "toolmesh.wake", {"toolmesh.category": category, "toolmesh.wake.mode": "local"}
                ):
                    try:
                        current = await self._first_contact(category, self._start(category))
                    except CategoryUnavailable:
                        self._woken(category, started, ok=False)
                        raise
                    self._woken(category, started, ok=True)
                self.running[category] = current
            current.last_used = time.monotonic()
            return current.client

    async def _first_contact(self, category: str, contact: Awaitable[R]) -> R:
        """A category server started or first asked (``contact``): what it serves is told to
        ``on_start``; why it failed is the category's problem until a contact succeeds."""
        try:
            reached = await contact
        except CategoryUnavailable as exc:
            self._failed[category] = str(exc)
            raise
        self._failed.pop(category, None)
        if self.on_start is not None:
            self.on_start(category, reached.status, reached.tools)
        return reached

    async def _ask_external(self, category: str, url: str) -> Reached:
        """A category server someone else runs, once it has told what it serves: its ``/readyz``
        beside ``/mcp`` and, when it discovered tools (federated servers, URL specs), its own
        tools/list. One that does not answer is CategoryUnavailable (the next call asks again)."""
        client = CategoryClient(f"category {category}", url, self.call_timeout)
        readyz = url.rstrip("/").removesuffix("/mcp") + "/readyz"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.start_timeout)) as http,
                http.get(readyz) as response,
            ):
                status: dict[str, Any] = await response.json() if response.status == 200 else {}
            tools = await client.list_tools() if reports_discovered(status) else []
        except (aiohttp.ClientError, TimeoutError, ValueError, ServerUnavailable) as exc:
            await client.stop()
            raise CategoryUnavailable(
                f"the category server at {url} did not answer: {type(exc).__name__}: {exc}"
            ) from None
        return Reached(client, status, tools)

    def _woken(self, category: str, started: float, *, ok: bool) -> None:
        if self.on_wake is not None:
            self.on_wake(category, time.monotonic() - started, ok)

    def awake(self) -> dict[str, bool]:
        """Category servers run elsewhere are taken as awake; local ones while their process lives."""
        states = dict.fromkeys(self.endpoints, True)
        for category, current in self.running.items():
            states[category] = current.process.returncode is None
        return states

    def replicas(self) -> dict[str, int]:
        """One process per category started here while it lives (servers run elsewhere: not known)."""
        return {c: int(current.process.returncode is None) for c, current in self.running.items()}

    async def _start(self, category: str) -> Running:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "toolmesh.category", str(self.catalog), "--category", category, "--port", str(port),
            env={**child_environment(), "TOOLMESH_CATEGORY_LOG_FORMAT": self.log_format, "TOOLMESH_CATEGORY_LOG_LEVEL": self.log_level},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            status = await self._wait_ready(url, process)
        except CategoryUnavailable:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        client = CategoryClient(f"category {category}", f"{url}/mcp", self.call_timeout)
        try:
            tools = await client.list_tools() if reports_discovered(status) else []
        except ServerUnavailable as exc:
            await client.stop()
            process.kill()
            await process.wait()
            raise CategoryUnavailable(f"the category server did not list its tools: {exc}") from None
        log.info(EV_STARTED, category=category, url=url, pid=process.pid)
        return Running(client, status, tools, process=process, url=url)

    async def _wait_ready(self, url: str, process: asyncio.subprocess.Process) -> dict[str, Any]:
        deadline = time.monotonic() + self.start_timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise CategoryUnavailable(
                        f"the category server exited with code {process.returncode} at start-up"
                    )
                try:
                    async with http.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            status: dict[str, Any] = await response.json()
                            return status
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise CategoryUnavailable(f"the category server was not ready within {self.start_timeout:g} s")

    def problems(self) -> dict[str, str]:
        """Category servers that failed to start (the next call tries again), or died since."""
        down = dict(self._failed)
        for category, current in self.running.items():
            if current.process.returncode is not None:
                down[category] = (
                    f"the category server exited with code {current.process.returncode}; "
                    "the next call starts it again"
                )
        return down

    async def reap(self, every: float) -> None:
        """Stop idle category servers every ``every`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.reap_idle()

    async def reap_idle(self) -> None:
        """Stop category servers idle for longer than ``idle_after`` (scale to zero): no call under
        way, and none begun or ended for that long."""
        now = time.monotonic()
        for category, current in list(self.running.items()):
            client = current.client
            if (
                not client.in_flight
                and now - max(current.last_used, client.last_active) > self.idle_after
                and not self._locks.get(category, asyncio.Lock()).locked()
            ):
                await self._stop(category)

    async def _stop(self, category: str) -> None:
        current = self.running.pop(category, None)
        if current is None:
            return
        await current.client.stop()
        if current.process.returncode is None:
            current.process.terminate()
            try:
                await asyncio.wait_for(current.process.wait(), 10)
            except TimeoutError:
                current.process.kill()
                await current.process.wait()
        log.info(EV_STOPPED, category=category)

    async def close(self) -> None:
        await asyncio.gather(*(self._stop(c) for c in list(self.running)), return_exceptions=True)
        await asyncio.gather(*(r.client.stop() for r in self._external.values()), return_exceptions=True)
