"""Tool names and argument keys: valid for every MCP client, stable, collision-free.

* Tool names match ``^[a-zA-Z0-9_-]{1,64}$`` (the MCP SDK's rule and the strictest clients'):
  ``<prefix>__<operation>``, where the operation part is the operationId, or the method and path.
  A name longer than 64 characters keeps its head and gets ``_`` plus 8 hex digits of the SHA-256
  of the full name. Names that collide all get a suffix from their method and path, so the result
  does not depend on the order of operations in the document.
* Argument keys match ``^[a-zA-Z0-9_.-]{1,64}$`` (what Anthropic's API demands of property names):
  OpenAPI parameter names such as ``filter[name]`` or ``$top`` are rewritten, and the route keeps
  the wire name.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_BAD_KEY = re.compile(r"[^A-Za-z0-9_.-]+")


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def clean(text: str) -> str:
    """Invalid characters → ``_``, runs collapsed to one, no leading or trailing ``_``.

    A single ``_`` inside each half keeps ``__`` unique as the prefix separator.
    """
    return re.sub(r"_{2,}", "_", _BAD_NAME.sub("_", text)).strip("_-")


def shorten(name: str, limit: int = MAX_NAME) -> str:
    """Fit ``name`` into ``limit`` characters, deterministically."""
    if len(name) <= limit:
        return name
    return name[: limit - 9].rstrip("_-") + "_" + _digest(name, 8)


def operation_part(operation_id: str | None, method: str, path: str) -> str:
    """The operation's half of the tool name."""
    base = clean(operation_id) if operation_id else ""
    if not base:
        base = clean(f"{method.lower()}_{path}")
    return base or method.lower()


def tool_name(prefix: str | None, operation: str) -> str:
    full = f"{clean(prefix)}__{operation}" if prefix and clean(prefix) else operation
    return shorten(full)


def federated(prefix: str, remote: str) -> str:
    """Our name for a federated MCP server's tool ``remote``: the integration's prefix, then its name
    made safe (the operator's discovery and the category server must agree on it)."""
    return tool_name(prefix, clean(remote) or "tool")


#: How much of a federated tool's description is recorded in status.discoveredTools.
SUMMARY_DESCRIPTION = 1024


def disambiguate(name: str, method: str, path: str) -> str:
    """The name of one of several operations that would share ``name``."""
    return shorten(f"{name}_{_digest(f'{method.upper()} {path}', 6)}")


def argument_key(name: str) -> str:
    """A property key every client accepts, for an OpenAPI parameter name."""
    key = _BAD_KEY.sub("_", name).strip("_")
    if not key:
        key = "param_" + _digest(name, 6)
    if len(key) > MAX_NAME:
        key = key[: MAX_NAME - 7] + "_" + _digest(name, 6)
    return key
