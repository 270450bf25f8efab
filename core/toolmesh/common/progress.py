"""Progress of long work (embedding a catalogue, compiling a corpus, a benchmark's loop).

Two shapes, one for each kind of reader:

- ``Bar``: a person at a terminal sees a tqdm bar on stderr; anywhere else (CI logs, a file, a
  pipe) it writes one line when the work starts and one when it ends, never a bar.
- ``LogProgress``: a server (the gateway in a pod) logs one structured line every so many seconds
  or percent, and one at the end, in the process's log format.

Both take ``(done, total)`` as the embedder reports it (index/embedder.py ``Progress``), so either
can be handed to it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


def on_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Bar:
    """A bar on a terminal; elsewhere a line at start and one at the end (``what``: done N in S s)."""

    def __init__(
        self, what: str, total: int | None = None, *, unit: str = "it", stream: TextIO | None = None
    ) -> None:
        self.what, self.unit, self.total = what, unit, total
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = time.perf_counter()
        self._closed = False
        self._bar: tqdm[Any] | None = None
        if on_terminal(self.stream):
            self._bar = tqdm(total=total, desc=what, unit=unit, file=self.stream, dynamic_ncols=True)
        else:
            count = f" ({total} {unit})" if total is not None else ""
            self._line(f"{what}: started{count}")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def __call__(self, done: int, total: int) -> None:
        """Absolute progress (the embedder's callback): ``done`` of ``total``."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()
        self.total = total
        self.advance(done - self.done)

    def note(self, text: str) -> None:
        """A line beside the bar (above it on a terminal), e.g. a failure."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self._line(text)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        else:
            self._line(
                f"{self.what}: done {self.done} {self.unit} in {time.perf_counter() - self.started:.1f} s"
            )

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LogProgress:
    """``(done, total)`` → a log line at the start (``done`` 0: a run begins), then at most every
    ``seconds`` unless ``percent`` more is done, and always the last one. ``log(event, **fields)``
    is a structlog logger's ``info``."""

    def __init__(
        self,
        log: Callable[..., Any],
        event: str,
        *,
        seconds: float = 10.0,
        percent: float = 25.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.event, self.seconds, self.percent, self.clock = log, event, seconds, percent, clock
        self.started = clock()
        self._last_time: float | None = None
        self._last_percent = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if done == 0:  # a new run (a later rebuild): its own start, elapsed time and steps
            self.started, self._last_time, self._last_percent = now, None, 0.0
        percent = 100.0 * done / total if total else 100.0
        finished = done >= total
        due = (
            self._last_time is None
            or now - self._last_time >= self.seconds
            or percent - self._last_percent >= self.percent
        )
        if not (finished or due):
            return
        self._last_time, self._last_percent = now, percent
        self.log(
            self.event,
            done=done,
            total=total,
            percent=round(percent, 1),
            elapsed_seconds=round(now - self.started, 1),
        )


class BarProgress:
    """``(done, total)`` → a ``Bar`` made at the first report (when the total is known) and closed
    at the last; the next report after that starts a new one (a later rebuild)."""

    def __init__(self, what: str, *, unit: str = "it", stream: TextIO | None = None) -> None:
        self.what, self.unit, self.stream = what, unit, stream
        self._bar: Bar | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = Bar(self.what, total, unit=self.unit, stream=self.stream)
        self._bar(done, total)
        if done >= total:
            self._bar.close()
            self._bar = None
