"""Short-lived state of OAuth flows in progress (state parameter → who started it, and the PKCE
verifier), in process or in Redis so that any gateway replica can finish a flow another began."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

KEY_PREFIX = "toolmesh:oauth:"


class StatesUnavailable(Exception):
    """The shared store of flows in progress cannot be reached: that sign-in fails, nothing else.
    The text names the store's address (never its password) and is safe to show."""


class StateStore(Protocol):
    async def put(self, key: str, value: str, ttl: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def take(self, key: str) -> str | None:
        """The value, removed atomically: a second take of the same key finds nothing."""
        ...

    async def close(self) -> None: ...


@dataclass
class MemoryStates:
    """One process's flows: for a single gateway replica (the default)."""

    clock: Callable[[], float] = time.monotonic
    _items: dict[str, tuple[float, str]] = field(default_factory=dict)

    async def put(self, key: str, value: str, ttl: float) -> None:
        now = self.clock()
        self._items = {k: v for k, v in self._items.items() if v[0] > now}  # drop the expired ones
        self._items[key] = (now + ttl, value)

    async def get(self, key: str) -> str | None:
        item = self._items.get(key)
        return item[1] if item is not None and item[0] > self.clock() else None

    async def take(self, key: str) -> str | None:
        item = self._items.pop(key, None)
        return item[1] if item is not None and item[0] > self.clock() else None

    async def close(self) -> None:
        self._items.clear()


@dataclass
class RedisStates:
    """Flows shared by every replica through Redis (``TOOLMESH_REDIS_URL``); Redis expires them."""

    url: str
    _redis: aioredis.Redis | None = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = aioredis.from_url(self.url, decode_responses=True)
        return self._redis

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Redis errors as :class:`StatesUnavailable`; the client reconnects on the next command."""
        try:
            yield
        except RedisError as exc:
            where = urlsplit(self.url)
            raise StatesUnavailable(
                f"the gateway's store of sign-ins in progress (Redis at {where.hostname}:{where.port or 6379}) "
                f"is unavailable ({type(exc).__name__}); try again shortly"
            ) from None

    async def put(self, key: str, value: str, ttl: float) -> None:
        with self._reaching():
            await self.redis.set(KEY_PREFIX + key, value, px=max(1, int(ttl * 1000)))

    async def get(self, key: str) -> str | None:
        with self._reaching():
            value = await self.redis.get(KEY_PREFIX + key)
        return None if value is None else str(value)

    async def take(self, key: str) -> str | None:
        with self._reaching():
            value = await self.redis.getdel(KEY_PREFIX + key)
        return None if value is None else str(value)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
