"""Cancellation by message, for the 2025 protocol revisions served statelessly.

A 2025 client cancels a request by POSTing ``notifications/cancelled`` with its id, and keeps the
request's own connection open; a 2026-07-28 client closes that connection instead (the server's
handler is cancelled with it, ``mcp_sse``). Request ids are small numbers every client reuses, so
an id alone cannot say whose request to cancel: one caller could cancel another's work (the reason
the SDK's stateless entry drops these notifications). So a 2025 client is given a session id at
``initialize`` (``Mcp-Session-Id``: random, never stored, only a name its requests carry), and a
notification cancels only the request with its id *and* that session id, in this process. A
notification that reaches another replica than its request finds nothing and is dropped, as before
(docs/design/0018-protocol-passthrough.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

SESSION_HEADER = "Mcp-Session-Id"
T = TypeVar("T")


class CancelledByPeer(Exception):
    """The client cancelled the request with ``notifications/cancelled``."""


def new_session() -> str:
    return secrets.token_urlsafe(24)


def _key(session: str, request_id: Any) -> tuple[str, str]:
    return session, json.dumps(request_id)


@dataclass
class InFlight:
    """The requests of 2025 sessions running in this process, by session and request id."""

    _running: dict[tuple[str, str], asyncio.Task[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, session: str, request_id: Any, work: Awaitable[T]) -> T:
        """``work``, cancellable by :meth:`cancel`; then CancelledByPeer is raised. A handler that
        is itself cancelled (its client went away) cancels ``work`` too."""
        key = _key(session, request_id)
        task = asyncio.ensure_future(work)
        self._running[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                raise CancelledByPeer() from None
            raise
        finally:
            if self._running.get(key) is task:
                del self._running[key]

    def cancel(self, session: str | None, params: Any) -> bool:
        """Cancel the request a ``notifications/cancelled`` names, in its session; was there one?"""
        if session is None or not isinstance(params, dict) or "requestId" not in params:
            return False
        task = self._running.get(_key(session, params["requestId"]))
        if task is None or task.done():
            return False
        task.cancel()
        return True
