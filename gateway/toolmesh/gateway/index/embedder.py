"""Text → unit vectors with fastembed, with a persistent cache keyed by (model, text) hashes.

Re-embedding a catalogue at every start costs minutes (about 140 short descriptions per second on
2 cores); the cache makes a restart, or a change to one integration, pay only for new texts.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from toolmesh.gateway.index import model

Vectors = npt.NDArray[np.float32]
BATCH = 32  # fastembed's default of 256 is slower here and takes 3-4x the memory
CHUNK = 512  # texts per embed call: bounded memory, progress, and a cache that survives an interruption
Progress = Callable[[int, int], None]  # (done, total) of the texts that needed embedding


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class SharedCache(Protocol):
    """Vectors other replicas computed (index/shared_vectors.py): same keys, never raising."""

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Vectors]: ...

    def put_many(self, items: Sequence[tuple[bytes, Vectors]]) -> None: ...

    def close(self) -> None: ...


class EmbeddingCache:
    """float32 vectors in SQLite, keyed by sha256(model digest + text); usable from any thread.

    The gateway builds an index in whichever thread it happens to be in: the event loop's at start,
    any of the default executor's threads when the cluster's catalog changes (``asyncio.to_thread``).
    So the cache has one connection that any thread may use (``check_same_thread=False``) and a lock
    around each use, rather than a connection per thread (one per executor thread, which ``close``
    could not close, as each may only be closed by its own thread) or a thread of its own (every
    caller would hop threads, and the slow part, the model, does not need one). Each use is short (a
    lookup of at most 500 keys, or one write of a chunk), and the model runs outside the lock.
    """

    def __init__(self, path: Path, model_digest: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
            )
        self._salt = model_digest.encode()

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + b"\0" + text.encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Vectors]:
        found: dict[bytes, Vectors] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: Sequence[tuple[bytes, Vectors]]) -> None:
        rows = [(k, v.astype(np.float32).tobytes()) for k, v in items]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class TieredCache(EmbeddingCache):
    """This replica's SQLite cache first, then ``shared`` (what other replicas computed); a vector
    found there is kept here too, a new one goes to both."""

    def __init__(self, path: Path, model_digest: str, shared: SharedCache) -> None:
        super().__init__(path, model_digest)
        self.shared = shared

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Vectors]:
        found = super().get_many(keys)
        missing = [k for k in keys if k not in found]
        if missing and (fetched := self.shared.get_many(missing)):
            super().put_many(list(fetched.items()))
            found.update(fetched)
        return found

    def put_many(self, items: Sequence[tuple[bytes, Vectors]]) -> None:
        super().put_many(items)
        self.shared.put_many(items)

    def close(self) -> None:
        super().close()
        self.shared.close()


class FastEmbedder:
    """all-MiniLM-L6-v2 through fastembed, offline, with the cache in front."""

    dimensions = model.DIMENSIONS

    def __init__(
        self,
        *,
        threads: int | None = None,
        cache: EmbeddingCache | None = None,
        shared: SharedCache | None = None,
        progress: Progress | None = None,
        variant: str | None = None,
        location: model.Location | None = None,
    ) -> None:
        """``location``: where the model and the vector cache are (the gateway's settings); unset, the
        environment's (model.Location.from_environment). ``variant`` overrides the location's.
        ``shared``: vectors shared by every replica, behind this one's own cache."""
        self.progress = progress
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never try a hub: fail at once if the files are missing
        from fastembed import TextEmbedding
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a search's numpy work is one matrix-vector product, and BLAS worker
        # threads spinning beside ONNX Runtime's on a small machine cost more than they save
        # (measured on 2 cores: search p50 7.9 ms with both pools, 3.1 ms with one BLAS thread).
        threadpool_limits(limits=1, user_api="blas")

        location = location or model.Location.from_environment()
        variant = variant or location.variant
        if variant not in ("fast", "exact"):
            raise model.ModelUnavailable(f"TOOLMESH_EMBEDDING_VARIANT is {variant!r}; use fast or exact")
        if variant == "fast":
            directory = model.ensure_fast_model_dir(location.fast_dir(), location)
        else:
            directory = model.ensure_model_dir(location.exact_dir())
        self.variant = variant
        self._model = TextEmbedding(
            model.MODEL_NAME,
            specific_model_path=str(directory),
            cache_dir=str(location.cache / "fastembed"),
            threads=threads,
        )
        path, digest = location.cache / "embeddings.sqlite", model.model_digest(directory)
        if cache is None:
            cache = EmbeddingCache(path, digest) if shared is None else TieredCache(path, digest, shared)
        self.cache = cache

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> Vectors:
        """Unit vectors for ``texts``; new texts are embedded in chunks, each cached as it completes."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        keys = [self.cache.key(t) for t in texts]
        known = self.cache.get_many(list(dict.fromkeys(keys)))
        # Sorted by length, so each batch pads to similar lengths (padding is computed, then thrown away).
        missing = sorted(
            dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known), key=len
        )
        report = progress or self.progress
        if missing and report is not None:
            report(0, len(missing))  # the start: on a terminal the bar, in a pod the first log line
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            fresh: list[Vectors] = []
            for vector in self._model.embed(chunk, batch_size=BATCH):
                fresh.append(np.asarray(vector, dtype=np.float32))
                if report is not None and len(fresh) % BATCH == 0 and len(fresh) < len(chunk):
                    report(start + len(fresh), len(missing))  # each batch: the bar moves smoothly
            new = [(self.cache.key(t), v) for t, v in zip(chunk, fresh, strict=True)]
            self.cache.put_many(new)
            known.update(new)
            if report is not None:
                report(start + len(chunk), len(missing))
        return np.stack([known[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> Vectors:
        """One query, not cached (queries rarely repeat; a lookup would cost more than it saves)."""
        return np.asarray(next(iter(self._model.query_embed(text))), dtype=np.float32)
