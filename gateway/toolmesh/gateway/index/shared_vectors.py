"""Description vectors shared by every gateway replica, in Redis, keyed by (model, text) hashes.

A new replica otherwise embeds the whole catalogue before its searches see it: 575 s for 28,692
tools on 2 cores, two replicas at once (docs/design/0013). The vectors depend only on the model and
the text, so whichever replica embeds a text first shares it: the others read it back (a few
seconds for tens of thousands) instead of computing it. Nothing is ever invalidated: a changed
description is a new key, and an unused one expires after ``TTL_SECONDS`` unless read again.

Redis is a cache here, never a dependency: when it cannot be reached, the replica embeds what it
needs itself and says so once in its log (``index.shared_vectors_unavailable``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import redis
import structlog

from toolmesh.gateway.index.embedder import Vectors

log = structlog.get_logger("toolmesh.gateway")
PREFIX = b"toolmesh:vector:"
TTL_SECONDS = 30 * 86_400  # refreshed by every read: a vector in use never expires
CHUNK = 500  # keys per round trip
TIMEOUT_SECONDS = 2.0


class SharedVectors:
    """Vectors in Redis (an ``embedder.SharedCache``): what cannot be read is missing, what cannot
    be written is not shared; neither raises."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        self._warned = threading.Event()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Vectors]:
        found: dict[bytes, Vectors] = {}
        try:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                pipe = self._redis.pipeline(transaction=False)
                pipe.mget([PREFIX + k for k in chunk])
                for k in chunk:
                    pipe.expire(PREFIX + k, TTL_SECONDS)
                blobs = pipe.execute()[0]
                found.update(
                    (k, np.frombuffer(b, dtype=np.float32)) for k, b in zip(chunk, blobs, strict=True) if b
                )
        except redis.RedisError as exc:
            self._unavailable(exc)
        return found

    def put_many(self, items: Sequence[tuple[bytes, Vectors]]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, vector in items:
                pipe.set(PREFIX + key, vector.astype(np.float32).tobytes(), ex=TTL_SECONDS)
            pipe.execute()
        except redis.RedisError as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: redis.RedisError) -> None:
        if not self._warned.is_set():
            self._warned.set()
            log.warning("index.shared_vectors_unavailable", reason=f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._redis.close()
