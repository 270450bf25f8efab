"""Fixed-window call counting: which limits a call falls under, and whether it fits (pure).

A limit is a number of calls per window (a minute) for one key: a caller, a caller and a tool, an
integration, or a caller of an integration. Windows are aligned on the epoch (window index =
``now // length``), so every replica counts in the same window without talking to the others;
their clocks need only agree to well under a window (NTP does). A call is admitted only if it
fits every limit at once, and then counts against all of them; a refused call counts against none.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from enum import StrEnum

WINDOW_SECONDS = 60.0


class Scope(StrEnum):
    """Which limit a call hit; the values are metric labels and the ``limit`` of a refusal."""

    CALLER = "caller"
    CALLER_TOOL = "callerTool"
    INTEGRATION = "integration"
    INTEGRATION_CALLER = "integrationCaller"


#: How each scope is named to the caller, in the refusal's text.
DESCRIBED = {
    Scope.CALLER: "your calls per minute (all tools)",
    Scope.CALLER_TOOL: "your calls per minute to this tool",
    Scope.INTEGRATION: "calls per minute to integration {integration}, all callers together",
    Scope.INTEGRATION_CALLER: "your calls per minute to integration {integration}",
}


@dataclass(frozen=True)
class Limit:
    scope: Scope
    key: str  # a digest of who and what: no subject or tool name is stored as it is
    calls: int


@dataclass(frozen=True)
class Configured:
    """The limits that apply to one call (0: none), from the gateway's settings and the integration's spec."""

    caller: int = 0
    caller_tool: int = 0
    integration: int = 0
    integration_caller: int = 0


def digest(*parts: str) -> str:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=12).hexdigest()


def limits(configured: Configured, caller: str, tool: str, integration: str) -> list[Limit]:
    """The limits a call of ``tool`` (of ``integration``) by ``caller`` counts against."""
    wanted = [
        (Scope.CALLER, configured.caller, (caller,)),
        (Scope.CALLER_TOOL, configured.caller_tool, (caller, tool)),
        (Scope.INTEGRATION, configured.integration, (integration,)),
        (Scope.INTEGRATION_CALLER, configured.integration_caller, (integration, caller)),
    ]
    return [Limit(scope, digest(scope, *parts), calls) for scope, calls, parts in wanted if calls]


def window(now: float, length: float = WINDOW_SECONDS) -> tuple[int, float]:
    """The window ``now`` falls in, and the seconds left in it."""
    index = math.floor(now / length)
    return index, (index + 1) * length - now


def first_over(counts: list[int], wanted: list[Limit]) -> int | None:
    """The position of the first limit one more call would exceed, given their counts so far."""
    return next(
        (n for n, (count, limit) in enumerate(zip(counts, wanted, strict=True)) if count >= limit.calls), None
    )


def retry_seconds(left: float) -> int:
    """Retry-after as a whole number of seconds (as HTTP's Retry-After), never 0."""
    return max(1, math.ceil(left))
