"""A server's questions to a 2025 client, mid-call: requests on the call's own SSE stream.

Under 2026-07-28 a server that needs the user (elicitation) or the client's model (sampling)
answers ``input_required`` and the client retries (``mcp_results.for_version``). A 2025 client
expects those questions as server-to-client requests instead, sent on the stream of the POST that
made the call; it POSTs each answer back as a JSON-RPC response, in its session
(``Mcp-Session-Id``, ``mcp_cancel``). So for a 2025 client in a session the endpoint sets an
:data:`Ask` for the request: the gateway turns an ``input_required`` result into those requests,
waits for the answers, and retries the call with them, as a 2026 client would have. Answers must
reach the process that asked: one that reaches another replica is acknowledged and dropped, and
the question times out (docs/design/0018-protocol-passthrough.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from toolmesh.common.mcp_sse import EventStream

#: Longest a question waits for the client's answer.
ANSWER_TIMEOUT = 300.0
#: Most questions in one round (a server asks a few at a time).
MAX_QUESTIONS = 16

#: Asks the client the questions of an ``input_required`` result (key -> {method, params}); their
#: answers by the same keys (wire form), or AskFailed.
Ask = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_current: ContextVar[Ask | None] = ContextVar("toolmesh_mcp_ask", default=None)


class AskFailed(Exception):
    """The client did not answer, refused, or there was nothing it could be asked."""


def current() -> Ask | None:
    """How to ask the client of the request being handled, if it can be asked (a 2025 session)."""
    return _current.get()


@contextlib.contextmanager
def asking(ask: Ask | None) -> Iterator[None]:
    token = _current.set(ask)
    try:
        yield
    finally:
        _current.reset(token)


def is_answer(message: Any) -> bool:
    """Is a POSTed message a JSON-RPC response (a client's answer to a server's request)?"""
    return (
        isinstance(message, dict)
        and "id" in message
        and "method" not in message
        and ("result" in message or "error" in message)
    )


@dataclass
class Questions:
    """The questions this process is waiting on, by session and request id."""

    _waiting: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._waiting)

    def answer(self, session: str | None, message: dict[str, Any]) -> bool:
        """A client's answer, delivered to the question it answers in its own session; was there one?"""
        if session is None:
            return False
        future = self._waiting.get((session, json.dumps(message.get("id"))))
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def asker(self, session: str, stream: EventStream) -> Ask:
        async def ask(requests: dict[str, Any]) -> dict[str, Any]:
            if len(requests) > MAX_QUESTIONS:
                raise AskFailed(
                    f"the server asked {len(requests)} questions at once (at most {MAX_QUESTIONS})"
                )
            loop = asyncio.get_running_loop()
            pending: dict[str, tuple[tuple[str, str], asyncio.Future[dict[str, Any]]]] = {}
            try:
                for key, request in requests.items():
                    method = request.get("method") if isinstance(request, dict) else None
                    if not isinstance(method, str):
                        raise AskFailed(f"the server's question {key!r} names no method")
                    request_id = f"toolmesh-{secrets.token_urlsafe(12)}"
                    slot = (session, json.dumps(request_id))
                    pending[key] = (slot, loop.create_future())
                    self._waiting[slot] = pending[key][1]
                    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
                    if request.get("params") is not None:
                        message["params"] = request["params"]
                    if not await stream.send(message):
                        raise AskFailed("the client went away before it could be asked")
                answers: dict[str, Any] = {}
                for key, (_, future) in pending.items():
                    try:
                        reply = await asyncio.wait_for(future, ANSWER_TIMEOUT)
                    except TimeoutError:
                        raise AskFailed(f"the client did not answer within {ANSWER_TIMEOUT:g} s") from None
                    if "error" in reply:
                        error = reply["error"] if isinstance(reply["error"], dict) else {}
                        raise AskFailed(
                            f"the client could not answer: {str(error.get('message', 'error'))[:300]}"
                        )
                    answers[key] = reply.get("result")
                return answers
            finally:
                for slot, future in pending.values():
                    self._waiting.pop(slot, None)
                    future.cancel()

        return ask
