"""Learning shared by every gateway replica: searches and calls in one Redis stream, applied in order.

With more than one replica, an agent's search and the call that answers it often land on different
replicas, so no replica's own memory (index/outcomes.py) sees the pair. With ``TOOLMESH_REDIS_URL``
set, a replica does not apply what it sees: it appends it to the stream ``toolmesh:outcomes``
(query vectors, tool names and caller names; never query text), and every replica, itself included,
applies the stream's events in the stream's order, each with the time it happened. The same events
in the same order give every replica the same memory, whichever replica served what. A new replica
replays what the stream still holds (the last :data:`MAXLEN` events), so it starts as informed as
the others.

Best effort, like learning itself: an event that cannot be appended is logged and dropped; a
follower that loses Redis reads again from where it was once Redis is back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import redis
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from toolmesh.gateway.index.outcomes import Vectors

log = structlog.get_logger("toolmesh.gateway")
STREAM = "toolmesh:outcomes"
MAXLEN = 50_000  # events kept (approximately): a new replica's history
BLOCK_MS = 2000  # how long one read waits for new events
EV_NOT_LOGGED = "learning.event_not_logged"
EV_FOLLOW_FAILED = "learning.follow_failed"

Event = dict[str, Any]


def _vector(v: Vectors) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode()


def vectors_of(event: Event) -> list[Vectors]:
    return [np.frombuffer(base64.b64decode(v), dtype=np.float32) for v in event["vectors"]]


class OutcomeLog:
    """Appends this replica's searches and calls; :meth:`follow` applies everyone's, in order."""

    def __init__(self, url: str, stream: str = STREAM) -> None:
        self.url, self.stream = url, stream
        self.origin = uuid.uuid4().hex  # this replica, to tell its own events
        self.stopped = False
        # Called from the router's thread: bounded, so that Redis away never holds a search for long.
        self._writer = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def searched(self, who: str, vectors: Sequence[Vectors], shown: Sequence[str]) -> None:
        self._append(
            {"kind": "searched", "who": who, "vectors": [_vector(v) for v in vectors], "shown": list(shown)}
        )

    def called(self, who: str, tool: str, ok: bool) -> None:
        self._append({"kind": "called", "who": who, "tool": tool, "ok": ok})

    def _append(self, event: Event) -> None:
        event = {**event, "at": time.time(), "origin": self.origin}
        try:
            self._writer.xadd(self.stream, {"event": json.dumps(event)}, maxlen=MAXLEN, approximate=True)
        except RedisError as exc:
            log.warning(EV_NOT_LOGGED, kind=event["kind"], error=type(exc).__name__)

    async def follow(self, apply: Callable[[Event], Awaitable[None]], retry_seconds: float = 1.0) -> None:
        """Apply every event of the stream, oldest first, for ever (cancel to stop)."""
        # Every read bounded (a blocking read waits BLOCK_MS): a lost connection is noticed, never waited on.
        reader = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2.0, socket_timeout=BLOCK_MS / 1000 + 5.0
        )
        last = "0"
        task = asyncio.current_task()
        try:
            while not self.stopped:
                try:
                    batches: Any = await reader.xread({self.stream: last}, count=500, block=BLOCK_MS)
                except RedisError as exc:
                    # The client may turn a cancellation during a connect into a connection error:
                    # stopping wins over trying again.
                    if self.stopped or (task is not None and task.cancelling()):
                        raise asyncio.CancelledError from None
                    log.warning(EV_FOLLOW_FAILED, error=type(exc).__name__)
                    await asyncio.sleep(retry_seconds)
                    continue
                for _, entries in batches:
                    for entry_id, fields in entries:  # (bytes id, {b"event": bytes})
                        last = entry_id.decode()
                        await apply(json.loads(fields[b"event"]))
        finally:
            await reader.aclose()

    def stop(self) -> None:
        """Make :meth:`follow` end at its next step, whatever the Redis client does with a cancel."""
        self.stopped = True

    def close(self) -> None:
        self._writer.close()
