"""The embedding cache (index/embedder.py) serves whichever thread builds an index: the event loop's
at start, any executor thread afterwards (cluster mode rebuilds with ``asyncio.to_thread``)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from toolmesh.gateway.index.embedder import EmbeddingCache


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(8, dtype=np.float32)


async def test_the_cache_opened_in_one_thread_is_read_and_written_from_executor_threads(
    tmp_path: Path,
) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", "digest")  # opened in the event loop's thread
    key = cache.key("create a task")
    await asyncio.to_thread(cache.put_many, [(key, vector(1))])
    found = await asyncio.to_thread(cache.get_many, [key])
    assert np.array_equal(found[key], vector(1))
    assert await asyncio.to_thread(len, cache) == 1
    await asyncio.to_thread(cache.close)


def test_threads_writing_and_reading_at_once_each_see_every_vector_they_wrote(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", "digest")
    start = threading.Barrier(4)

    def work(worker: int) -> bool:
        start.wait()
        ok = True
        for chunk in range(20):
            items = [
                (cache.key(f"{worker}-{chunk}-{i}"), vector(worker * 1000 + chunk * 10 + i))
                for i in range(10)
            ]
            cache.put_many(items)
            found = cache.get_many([k for k, _ in items])
            ok &= all(np.array_equal(found[k], v) for k, v in items)
        return ok

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))
    assert len(cache) == 4 * 20 * 10
    cache.close()


def test_vectors_written_from_a_thread_are_there_when_the_cache_is_opened_again(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", "digest")
    key = cache.key("send an email")
    writer = threading.Thread(target=cache.put_many, args=([(key, vector(7))],))
    writer.start()
    writer.join()
    cache.close()
    again = EmbeddingCache(tmp_path / "vectors.sqlite", "digest")
    assert np.array_equal(again.get_many([key])[key], vector(7))
    again.close()
