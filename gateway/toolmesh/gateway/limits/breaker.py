"""A circuit breaker per integration: pure state, a clock passed in (docs/design/0016).

Closed, it counts consecutive outages (the category server or the upstream down, not a tool's own
error); at ``failures`` of them it opens for ``cooldown`` seconds, during which calls fail fast.
Then it is half-open: one call goes through as a probe (the others still fail fast), and the
probe's outcome closes it or opens it for another cooldown. A probe that never reports (its caller
went away) frees its turn after ``probe_timeout`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class State(Enum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Pass(Enum):
    """What :meth:`Breaker.admit` let through: an ordinary call, or the half-open probe."""

    CALL = "call"
    PROBE = "probe"


@dataclass
class Breaker:
    failures: int  # consecutive outages that open it (0: never opens)
    cooldown: float
    probe_timeout: float
    clock: Callable[[], float] = time.monotonic
    #: Told of each change of state (metrics, the integration's status).
    on_change: Callable[[State], None] = lambda state: None
    state: State = field(default=State.CLOSED, init=False)
    _count: int = field(default=0, init=False)
    _until: float = field(default=0.0, init=False)  # open until; half-open: the probe's turn until

    def admit(self) -> Pass | float:
        """Let a call through (how), or the seconds until one may be tried."""
        if self.state is State.CLOSED:
            return Pass.CALL
        now = self.clock()
        if now < self._until:  # open, or half-open with the probe out (it ends within a cooldown, usually)
            return min(self._until - now, self.cooldown)
        if self.state is State.OPEN:
            self._move(State.HALF_OPEN)
        self._until = now + self.probe_timeout
        return Pass.PROBE

    def release(self, admitted: Pass) -> None:
        """A probe that was not sent after all (the call was refused for another reason)."""
        if admitted is Pass.PROBE and self.state is State.HALF_OPEN:
            self._until = 0.0

    def record(self, admitted: Pass, *, outage: bool) -> None:
        """The outcome of a call :meth:`admit` let through. While open or half-open, only the
        probe's counts: calls let through before the breaker opened say nothing newer."""
        if self.state is State.CLOSED:
            self._count = self._count + 1 if outage else 0
            if self.failures and self._count >= self.failures:
                self._open()
        elif admitted is Pass.PROBE and self.state is State.HALF_OPEN:
            if outage:
                self._open()
            else:
                self._count = 0
                self._move(State.CLOSED)

    def retry_after(self) -> float:
        """Seconds until a call may be tried (0 when closed)."""
        if self.state is State.CLOSED:
            return 0.0
        return max(0.0, min(self._until - self.clock(), self.cooldown))

    def _open(self) -> None:
        self._until = self.clock() + self.cooldown
        self._move(State.OPEN)

    def _move(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.on_change(state)
