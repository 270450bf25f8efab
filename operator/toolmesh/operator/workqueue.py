"""A coalescing work queue: many requests for one key while it is queued or running become one more run.

Watch events arrive in bursts (500 integrations applied at once poke their category 500 times);
the reconcile is level-based, so running it once after the burst is enough. Keys run at most one
at a time each, and at most ``workers`` keys at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger("toolmesh.operator")
K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, work: Callable[[K], Awaitable[None]], workers: int) -> None:
        self._work = work
        self._dirty: set[K] = set()
        self._running: set[K] = set()
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"reconcile-worker-{i}") for i in range(workers)
        ]
        self._idle = asyncio.Event()
        self._idle.set()

    def request(self, key: K) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        self._idle.clear()
        if key not in self._running:
            self._queue.put_nowait(key)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            if key in self._running:
                continue  # requeued by its own run's finally block when still dirty
            self._dirty.discard(key)
            self._running.add(key)
            try:
                await self._work(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile_failed", key=str(key))
                self.request_later(key, 5.0)
            finally:
                self._running.discard(key)
                if key in self._dirty:
                    self._queue.put_nowait(key)
                elif not self._dirty and not self._running:
                    self._idle.set()

    def request_later(self, key: K, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.request, key)

    @property
    def is_idle(self) -> bool:
        return self._idle.is_set()

    async def idle(self) -> None:
        """Wait until nothing is queued or running (tests and benchmarks)."""
        await self._idle.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
