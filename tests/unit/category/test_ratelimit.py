"""The token bucket behind ``spec.rateLimit``, on a fake clock."""

from __future__ import annotations

import pytest

from toolmesh.category.ratelimit import RateLimited, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_burst_passes_then_calls_wait_for_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=2.0, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        await bucket.acquire(max_wait=10)
    assert t.slept == []
    await bucket.acquire(max_wait=10)
    await bucket.acquire(max_wait=10)
    assert t.slept == [0.5, 0.5]


async def test_a_wait_longer_than_the_call_may_take_fails_at_once_and_returns_the_token() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=0.5, burst=1, clock=t.clock, sleep=t.sleep)
    await bucket.acquire(max_wait=1)
    with pytest.raises(
        RateLimited, match=r"rate limit of 0.5 requests/s \(spec.rateLimit\) would delay this call by 2.0 s"
    ):
        await bucket.acquire(max_wait=1)
    t.now += 2
    await bucket.acquire(max_wait=0)
    assert t.slept == []
