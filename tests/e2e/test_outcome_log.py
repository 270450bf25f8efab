"""The shared learning log (toolmesh.gateway.index.outcome_log) on a real Redis: events come back in
order to every follower, and a follower stops promptly when asked, even with Redis gone (a gateway
must never hang its shutdown on it; found in CI, where a cancel landed inside a reconnect)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import numpy as np
import pytest

from toolmesh.gateway.index.outcome_log import Event, OutcomeLog, vectors_of
from toolmesh.testing.redis import LocalRedis

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    with LocalRedis() as server:
        yield server


async def test_every_follower_gets_every_replicas_events_in_one_order(redis_server: LocalRedis) -> None:
    first, second = OutcomeLog(redis_server.url), OutcomeLog(redis_server.url)
    first.searched("ana", [np.arange(4, dtype=np.float32)], ["a", "b"])
    second.called("ana", "b", True)
    first.called("ben", "a", False)
    seen: dict[str, list[Event]] = {"first": [], "second": []}

    async def follow(log: OutcomeLog, into: list[Event]) -> None:
        async def apply(event: Event) -> None:
            into.append(event)

        await log.follow(apply)

    tasks = [
        asyncio.create_task(follow(first, seen["first"])),
        asyncio.create_task(follow(second, seen["second"])),
    ]
    for _ in range(100):
        if all(len(events) == 3 for events in seen.values()):
            break
        await asyncio.sleep(0.02)
    for log, task in ((first, tasks[0]), (second, tasks[1])):
        log.stop()
        task.cancel()
    await asyncio.wait(tasks, timeout=5)
    assert seen["first"] == seen["second"]
    assert [(e["kind"], e["who"]) for e in seen["first"]] == [
        ("searched", "ana"),
        ("called", "ana"),
        ("called", "ben"),
    ]
    assert [e["origin"] for e in seen["first"]] == [first.origin, second.origin, first.origin]
    assert np.array_equal(vectors_of(seen["first"][0])[0], np.arange(4, dtype=np.float32))
    for log in (first, second):
        log.close()


async def test_a_follower_stops_promptly_whenever_it_is_stopped_even_with_redis_gone(
    redis_server: LocalRedis,
) -> None:
    log = OutcomeLog(redis_server.url)

    async def apply(event: Event) -> None:
        pass

    redis_server.stop()  # every read now fails and is tried again: a cancel may land anywhere
    rng = random.Random(7)
    for _ in range(12):
        log.stopped = False
        task = asyncio.create_task(log.follow(apply, retry_seconds=0.05))
        await asyncio.sleep(rng.uniform(0, 0.3))
        log.stop()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=3)
        assert done, "the follower did not stop within 3 s"
    log.close()
