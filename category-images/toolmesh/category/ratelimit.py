"""Client-side rate limits towards upstreams (``spec.rateLimit``): a token bucket per integration.

A call takes a token; without one it waits for the next, as long as the wait fits within the
call's timeout, and otherwise fails at once with a message (better than a 429 from the upstream
after a wait the caller cannot afford). Limits are per category-server pod.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


class RateLimited(Exception):
    """No token within the time the call may wait."""


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, max_wait: float) -> None:
        """Take a token, waiting at most ``max_wait`` seconds for it."""
        self._refill()
        self._tokens -= 1  # reserve now, so concurrent callers queue in order
        if self._tokens >= 0:
            return
        wait = -self._tokens / self.rate
        if wait > max_wait:
            self._tokens += 1
            raise RateLimited(
                f"rate limit of {self.rate:g} requests/s (spec.rateLimit) would delay this call by {wait:.1f} s"
            )
        await self.sleep(wait)
