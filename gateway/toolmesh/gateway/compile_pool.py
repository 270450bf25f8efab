"""OpenAPI documents compiled into what the gateway keeps of each tool, in worker processes when
there are many.

Why processes (docs/design/0005, "A new replica"): at 51,053 tools (430 documents, 153 MB) the
gateway's own compile took 12 of the 33 s a new replica needed, and left about 240 MB of heap it
could not give back: every document's parse tree, freed among the records kept. A worker parses,
compiles and packs each tool (:func:`pack_schema`: compact JSON, deflated when long, and the text
routing reads) and sends back bytes; the gateway allocates only what it keeps, and the workers exit
when the batch is done. On 2 cores two workers also halve the compile's wall time.

Below ``POOL_ABOVE`` bytes of documents the gateway compiles in its own process: starting workers
would cost more than they save, and a small catalogue leaves little behind. In cluster mode the
documents arrive one by one as the watch delivers them: those of ``WORKER_ABOVE`` bytes or more go
to :class:`Workers`, kept between documents and closed after ``IDLE_SECONDS`` without one. A worker
that dies (out of memory, killed) or cannot start does not fail the build: what it had left is
compiled here, and the log says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, NamedTuple, cast

import structlog

from toolmesh.gateway.index import text
from toolmesh.openapi import SpecError, compile_spec
from toolmesh.openapi.model import CompileOptions

log = structlog.get_logger("toolmesh.gateway")

#: Documents smaller than this in all are compiled in the gateway's own process.
POOL_ABOVE = 8 << 20
MAX_WORKERS = 4
#: Cluster mode: documents from this size are compiled by a worker (smaller ones leave little behind).
WORKER_ABOVE = 256 << 10
#: Cluster mode: a worker idle this long exits (and gives its memory back).
IDLE_SECONDS = 30.0
#: Schemas longer than this (compact JSON bytes) are kept deflated: most of a catalogue's schema
#: bytes are in its long tail (the generated 51,053-tool catalogue: median 566 bytes, 10 % over
#: 2.6 kB, one of 1.3 MB; 314 MB in all, 75 MB deflated), and only describe_tools, a direct
#: tools/list and the tool graph read them.
PACK_ABOVE = 1024


class PackedSchema(NamedTuple):
    """An input schema as the gateway keeps it (:func:`pack_schema`); cheap to send between processes."""

    data: bytes  #: compact JSON, deflated when longer than PACK_ABOVE
    chars: int  #: the compact JSON's length
    parameters: str  #: what routing reads of it (text.parameter_text)

    def schema(self) -> dict[str, Any]:
        data = zlib.decompress(self.data) if self.chars > PACK_ABOVE else self.data
        parsed: dict[str, Any] = json.loads(data)
        return parsed


def pack_schema(schema: Mapping[str, Any]) -> PackedSchema:
    data = json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode()
    packed = zlib.compress(data, 1) if len(data) > PACK_ABOVE else data
    return PackedSchema(packed, len(data), text.parameter_text(schema))


class Job(NamedTuple):
    """One integration's document to compile."""

    name: str
    options: CompileOptions
    spec: bytes


class PackedTool(NamedTuple):
    name: str
    description: str
    schema: PackedSchema
    title: str | None
    annotations: dict[str, bool]
    returns: tuple[str, ...]


class Compiled(NamedTuple):
    tools: list[PackedTool]
    digest: str


def compile_job(job: Job) -> Compiled:
    """One document compiled and packed (SpecError when it does not compile). Runs in a worker."""
    compiled = compile_spec(job.spec, job.options, source=job.name)
    return Compiled(
        [
            PackedTool(
                t.name, t.description, pack_schema(t.input_schema), t.title, dict(t.annotations), t.returns
            )
            for t in compiled.tools
        ],
        compiled.digest,
    )


def workers() -> int:
    """Worker processes for a large batch: the CPUs this process may use, at most MAX_WORKERS."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, available))


def compile_all(
    jobs: Sequence[Job], *, pool_above: int = POOL_ABOVE, processes: int | None = None
) -> list[Compiled | SpecError]:
    """Each job's tools, or the SpecError saying why its document does not compile, in order.

    In worker processes when the documents come to ``pool_above`` bytes or more (and there is more
    than one), else here. A job a worker could not finish is compiled here.
    """
    processes = min(processes or workers(), len(jobs))
    results: list[Compiled | SpecError | None] = [None] * len(jobs)
    if processes > 1 and sum(len(j.spec) for j in jobs) >= pool_above:
        waiting: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in sorted(range(len(jobs)), key=lambda i: -len(jobs[i].spec)):  # the longest first
            waiting.put(i)
        threads = [threading.Thread(target=_drive, args=(jobs, waiting, results)) for _ in range(processes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [result if result is not None else _here(job) for job, result in zip(jobs, results, strict=True)]


def _drive(
    jobs: Sequence[Job], waiting: queue.SimpleQueue[int], results: list[Compiled | SpecError | None]
) -> None:
    """One worker fed one job at a time until none is left (or it fails); in a thread of its own."""
    worker = Worker()
    try:
        while True:
            try:
                index = waiting.get_nowait()
            except queue.Empty:
                return
            results[index] = worker.compile(jobs[index])
            if results[index] is None:
                return  # it failed: the others, or the gateway itself, do the rest
    finally:
        worker.close()


class Worker:
    """One worker process, one job at a time (not thread-safe); started on first use.

    ``python -m toolmesh.gateway.compile_pool``, not multiprocessing's: that one imports the parent's
    main module again in each child, which every program building a catalogue would have to guard
    against."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        """Is its process started (and not closed)?"""
        return self._process is not None

    def compile(self, job: Job) -> Compiled | SpecError | None:
        """The job's tools or SpecError; None when the worker could not say (it is then closed, and
        the next job starts another): a bug in the compiler, which compiling here raises again, or a
        worker that died."""
        try:
            if self._process is None:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
            process = self._process
            assert process.stdin is not None
            assert process.stdout is not None
            pickle.dump(job, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            process.stdin.flush()
            kind, value = pickle.load(process.stdout)
        except Exception as exc:  # whatever went wrong, the job is compiled by the gateway itself
            log.warning(
                "catalog.compile_worker_failed", reason=f"{type(exc).__name__}: {exc}", integration=job.name,
                returncode=self._process.poll() if self._process is not None else None,
            )  # fmt: skip
            self.close()
            return None
        if kind == "ok":
            return cast(Compiled, value)
        if kind == "spec_error":
            return SpecError(value)
        return None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Workers:
    """Worker processes kept between jobs and closed once idle for ``idle_seconds`` (cluster mode,
    where documents arrive one by one as the watch delivers them). :meth:`compile` blocks: call it
    from a thread."""

    def __init__(self, processes: int | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.processes = processes or workers()
        self._slots = threading.BoundedSemaphore(self.processes)
        self._lock = threading.Lock()
        self._idle: list[tuple[Worker, float]] = []
        self._reaper: threading.Timer | None = None
        self._closed = False

    def compile(self, job: Job) -> Compiled | SpecError:
        with self._slots:
            with self._lock:
                worker = self._idle.pop()[0] if self._idle else Worker()
            result = worker.compile(job)
            with self._lock:
                if self._closed:
                    worker.close()
                else:
                    self._idle.append((worker, time.monotonic()))
                    self._schedule()
        return result if result is not None else _here(job)

    @property
    def running(self) -> int:
        """Worker processes alive and idle."""
        with self._lock:
            return sum(1 for worker, _ in self._idle if worker.alive)

    def _schedule(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Timer(self.idle_seconds, self._reap)
            self._reaper.daemon = True
            self._reaper.start()

    def _reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._reaper = None
            stale = [w for w, since in self._idle if now - since >= self.idle_seconds]
            self._idle = [(w, since) for w, since in self._idle if now - since < self.idle_seconds]
            if self._idle:
                self._schedule()
        for worker in stale:
            worker.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            if self._reaper is not None:
                self._reaper.cancel()
                self._reaper = None
        for worker, _ in idle:
            worker.close()


def _here(job: Job) -> Compiled | SpecError:
    try:
        return compile_job(job)
    except SpecError as exc:
        return exc


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """A worker: jobs pickled on ``source`` until it closes, each answered on ``sink``."""
    while True:
        try:
            job = pickle.load(source)
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", compile_job(job))
        except SpecError as exc:
            answer = ("spec_error", str(exc))
        except Exception as exc:  # a bug: the gateway compiles the job itself, and raises it there
            answer = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


if __name__ == "__main__":
    # By its name, so that what it sends is this module's classes, not ``__main__``'s.
    from toolmesh.gateway import compile_pool

    compile_pool.serve(sys.stdin.buffer, sys.stdout.buffer)
