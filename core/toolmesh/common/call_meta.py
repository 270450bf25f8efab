"""What a tool result says to the gateway and agents beyond its text, in ``_meta`` (docs/design/0016).

* :data:`OUTAGE_META`, set by a category server on an error result when the upstream is down
  (unreachable, no answer in time, HTTP 5xx) rather than refusing the call: the gateway's circuit
  breakers count these, and not a tool's own errors (bad arguments, 4xx).
* :data:`REFUSED_META`, set by the gateway on a call it did not forward (a rate limit, an open
  circuit): why, and ``retryAfterSeconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OUTAGE_META = "toolmesh.dev/outage"
REFUSED_META = "toolmesh.dev/refused"


def outage(result: Mapping[str, Any]) -> bool:
    """Does a result (wire form) report the upstream down?"""
    meta = result.get("_meta")
    return result.get("isError") is True and isinstance(meta, Mapping) and bool(meta.get(OUTAGE_META))
