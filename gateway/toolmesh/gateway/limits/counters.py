"""Where calls are counted: in process (one replica), or in Redis (every replica shares the counts).

Both take the limits of one call and the window it falls in, and answer atomically: the position
of the first limit the call would exceed (then nothing is counted), or None (then the call counts
against every one of them). In Redis that is one Lua script, one round trip per call; the keys
share a hash tag, so a Redis Cluster keeps them in one slot. Keys expire a window after theirs
ends (clock skew between replicas is far smaller).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis

from toolmesh.gateway.limits.windows import WINDOW_SECONDS, Limit, first_over

PREFIX = "toolmesh:limit:{l}:"  # {l}: one hash slot for a call's keys (Redis Cluster)
TIMEOUT_SECONDS = 0.5  # a call waits no longer than this for Redis; then the replica counts alone

# KEYS: a call's counters in this window; ARGV[1]: their lifetime (ms); ARGV[2..]: their limits.
ADMIT = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then return i end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 0
"""


class Counters(Protocol):
    async def admit(self, wanted: Sequence[Limit], window: int) -> int | None:
        """The position in ``wanted`` of the first limit exceeded (nothing counted), or None (counted)."""
        ...

    async def close(self) -> None: ...


@dataclass
class MemoryCounters:
    """One replica's counts: only the current window's are kept."""

    _window: int = 0
    _counts: dict[str, int] = field(default_factory=dict)

    async def admit(self, wanted: Sequence[Limit], window: int) -> int | None:
        if window != self._window:
            self._window, self._counts = window, {}
        over = first_over([self._counts.get(limit.key, 0) for limit in wanted], list(wanted))
        if over is None:
            for limit in wanted:
                self._counts[limit.key] = self._counts.get(limit.key, 0) + 1
        return over

    async def close(self) -> None:
        self._counts.clear()


class RedisCounters:
    """Counts shared by every replica (TOOLMESH_REDIS_URL). Errors reach the caller (the guard
    counts locally meanwhile)."""

    def __init__(self, url: str) -> None:
        self._redis = aioredis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        self._admit = self._redis.register_script(ADMIT)

    async def admit(self, wanted: Sequence[Limit], window: int) -> int | None:
        keys = [f"{PREFIX}{limit.key}:{window}" for limit in wanted]
        lifetime = int(2 * WINDOW_SECONDS * 1000)
        found = int(await self._admit(keys=keys, args=[lifetime, *(limit.calls for limit in wanted)]))
        return found - 1 if found else None

    async def close(self) -> None:
        await self._redis.aclose()
