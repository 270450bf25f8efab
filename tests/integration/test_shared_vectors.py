"""Description vectors shared by gateway replicas through a real Redis: a replica reads back what
another embedded instead of embedding it again, and a Redis it cannot reach costs it only the
sharing (it embeds for itself), never its index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import structlog

from toolmesh.gateway.index import model
from toolmesh.gateway.index.embedder import FastEmbedder, TieredCache
from toolmesh.gateway.index.shared_vectors import PREFIX, SharedVectors
from toolmesh.testing.cluster import free_port
from toolmesh.testing.redis import LocalRedis

pytestmark = pytest.mark.redis
TEXTS = [f"tool {n}: lists the invoices of customer account {n} by due date" for n in range(40)]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with LocalRedis() as server:
        yield server.url


def replica(folder: Path, url: str) -> tuple[FastEmbedder, list[int]]:
    """A replica's embedder: its own empty SQLite cache, the shared vectors behind it; and the
    number of texts each of its embed calls had to compute (progress reports start, each batch and
    the end; the end is the one where done reaches the total)."""
    computed: list[int] = []

    def finished(done: int, total: int) -> None:
        if done == total:
            computed.append(total)

    cache = TieredCache(folder / "vectors.sqlite", model.MODEL_SHA256, SharedVectors(url))
    embedder = FastEmbedder(threads=2, cache=cache, progress=finished)
    return embedder, computed


def test_a_second_replica_reads_the_vectors_the_first_embedded(tmp_path: Path, redis_url: str) -> None:
    first, first_computed = replica(tmp_path / "a", redis_url)
    second, second_computed = replica(tmp_path / "b", redis_url)
    try:
        ours = first.embed(TEXTS)
        theirs = second.embed(TEXTS)
        assert first_computed == [len(TEXTS)]  # the first replica embedded every text
        assert second_computed == []  # the second embedded none: all came from Redis
        assert np.array_equal(ours, theirs)
        assert second.embed(TEXTS[:5]).shape == (5, 384)  # now from its own cache
        more = second.embed([*TEXTS, "one new description"])
        assert second_computed == [1]  # only the new text
        assert np.array_equal(more[: len(TEXTS)], ours)
    finally:
        first.cache.close()
        second.cache.close()
    shared = SharedVectors(redis_url)
    keys = [first.cache.key(t) for t in TEXTS]
    assert len(shared.get_many(keys)) == len(TEXTS)
    shared.close()


def test_a_redis_that_does_not_answer_costs_only_the_sharing(tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with structlog.testing.capture_logs() as logs:
        embedder, computed = replica(tmp_path / "c", nowhere)
        try:
            vectors = embedder.embed(TEXTS)
            again = embedder.embed(TEXTS)
        finally:
            embedder.cache.close()
    assert vectors.shape == (len(TEXTS), 384)
    assert np.array_equal(vectors, again)
    assert computed == [len(TEXTS)]  # embedded once, then from its own cache
    warnings = [e for e in logs if e["event"] == "index.shared_vectors_unavailable"]
    assert len(warnings) == 1  # said once, not at every lookup
    assert "ConnectionError" in warnings[0]["reason"]


def test_shared_vectors_are_keyed_by_model_and_text_and_expire_when_unused(redis_url: str) -> None:
    shared = SharedVectors(redis_url)
    key = b"k" * 32
    vector = np.arange(384, dtype=np.float32)
    shared.put_many([(key, vector)])
    assert np.array_equal(shared.get_many([key, b"x" * 32])[key], vector)
    ttl = shared._redis.ttl(PREFIX + key)
    assert 29 * 86_400 < ttl <= 30 * 86_400
    shared.close()
