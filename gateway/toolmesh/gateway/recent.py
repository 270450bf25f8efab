"""What the gateway remembers of recent activity, for the console: the last tool calls and each
category's last wake from zero. In memory, per replica, bounded.

A call is remembered by its tool, category, integration, latency, outcome and time: never its
arguments, its result or whose credentials it carried (the caller is not kept either).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

#: Calls kept (the oldest forgotten first).
CALLS = 200


class Call(NamedTuple):
    """One call (a tuple: kept on every call, so as cheap to make as it can be)."""

    tool: str
    category: str
    integration: str
    seconds: float
    outcome: str  # ok, error, unavailable, needs_credentials (the metrics' outcomes)
    at: float  # wall clock, seconds since the epoch


@dataclass(frozen=True)
class Wake:
    at: float  # wall clock when the wake ended, seconds since the epoch
    seconds: float  # how long it took (or waited, when it failed)
    ok: bool


@dataclass
class Recent:
    """The last ``limit`` calls (0: none kept) and each category's last wake."""

    limit: int = CALLS
    clock: Callable[[], float] = time.time
    wakes: dict[str, Wake] = field(default_factory=dict)
    _calls: deque[Call] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._calls = deque(maxlen=self.limit)

    def called(self, tool: str, category: str, integration: str, seconds: float, outcome: str) -> None:
        if self.limit:
            self._calls.append(Call(tool, category, integration, seconds, outcome, self.clock()))

    def woke(self, category: str, seconds: float, ok: bool) -> None:
        self.wakes[category] = Wake(self.clock(), seconds, ok)

    def calls(self) -> list[Call]:
        """The calls kept, newest first."""
        return list(reversed(self._calls))
