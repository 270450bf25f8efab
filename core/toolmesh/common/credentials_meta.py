"""How the gateway hands a caller's own upstream credentials to a category server for one call.

They travel in the tools/call request's ``_meta`` under :data:`USER_CREDENTIALS_META`, on the
gateway → category server hop only (a NetworkPolicy in a cluster; loopback in local mode). The
category server uses them for that call's upstream request and keeps them nowhere
(docs/design/security.md).
"""

from __future__ import annotations

from typing import Any

USER_CREDENTIALS_META = "toolmesh.dev/credentials"


def credentials_from_meta(meta: Any) -> dict[str, str] | None:
    """The credentials in a request's ``_meta``, if any (string values only)."""
    values = (meta or {}).get(USER_CREDENTIALS_META)
    if not isinstance(values, dict):
        return None
    return {str(k): v for k, v in values.items() if isinstance(v, str)}
