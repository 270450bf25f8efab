"""Questions a 2025-era federated server asks mid-call, relayed to the agent as 2026-07-28 rounds.

A server older than MCP 2026-07-28 asks its client (elicitation, sampling) with a request while
its tool call is still open. The category server is that client. It turns the question into an
``input_required`` answer to the call it is serving (which the gateway passes to a 2026-07-28
agent as it is, and asks of a 2025 agent on its call's stream), keeps the federated call open,
held under a random ``requestState``, and when the agent retries with that state and its answers,
gives the server its answer and waits again: for the result, or for the next question. An agent
that never retries leaves the call held until it expires.

Held calls live in this process for ``HOLD_SECONDS`` at most (then the federated call is
cancelled): a retry has to reach the replica that asked, as a cancellation does. A question is
relayed when exactly one call is running on the integration's server (open, and not held waiting
for answers); with several, nothing says which one asks (the request carries no call id over
stdio), so it is refused, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pydantic
from mcp import types

from toolmesh.common.mcp_client import Resumption, ToolAnswer
from toolmesh.common.mcp_results import text_result
from toolmesh.common.mcp_sse import Progress

#: Longest the agent has to answer a question (the gateway waits as long for a 2025 agent).
HOLD_SECONDS = 300.0
#: Marks a requestState this module made (a 2026-07-28 server's own state passes through as it is).
STATE_PREFIX = "toolmesh-held."
EXPIRED = (
    "this answer is to a question that is no longer open (it expired after {seconds:g} s, or was "
    "asked by another replica of the category server): call the tool again"
)
AMBIGUOUS = (
    "this server asked for input while several of its calls were running, and nothing says which "
    "one asks: toolmesh relays a 2025-era server's questions when one call at a time is running"
)
NOT_ANSWERED = "the agent did not answer this question"
#: Most calls one federated server may have held waiting for answers at once: agents that ask and
#: never answer cannot pile up open calls (and the coroutines behind them) without bound.
MAX_HELD = 64
FULL = (
    f"{MAX_HELD} calls of this server already wait for their agents' answers: answer or abandon those first"
)
TIMED_OUT = f"the agent did not answer within {HOLD_SECONDS:g} s"

_ELICITATION: pydantic.TypeAdapter[types.ElicitResult] = pydantic.TypeAdapter(types.ElicitResult)
_SAMPLING: pydantic.TypeAdapter[types.CreateMessageResult | types.CreateMessageResultWithTools] = (
    pydantic.TypeAdapter(types.CreateMessageResult | types.CreateMessageResultWithTools)
)
R = TypeVar("R")


class HeldCall:
    """One federated call and the questions its server asked that are not answered yet."""

    def __init__(self, progress: Progress | None) -> None:
        self.task: asyncio.Task[ToolAnswer] | None = None
        self.progress = progress  #: the current round's (each round is a request of its own)
        self.questions: asyncio.Queue[tuple[types.InputRequest, asyncio.Future[Any]]] = asyncio.Queue()
        self.asked: dict[str, asyncio.Future[Any]] = {}
        self.expiry: asyncio.TimerHandle | None = None
        self._keys = 0

    async def report(self, progress: float, total: float | None, message: str | None) -> None:
        """The server's progress, to whichever round is open."""
        if self.progress is not None:
            with contextlib.suppress(Exception):  # a round whose agent is gone: its progress too
                await self.progress(progress, total, message)

    async def ask(self, request: types.InputRequest) -> Any:
        """Called for the server: its question, answered once the agent retries (wire form)."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.questions.put_nowait((request, answer))
        return await answer

    def answer(self, responses: dict[str, Any] | None) -> None:
        """The agent's answers to the questions asked; one it left out is answered as not given."""
        for key, future in self.asked.items():
            if future.done():
                continue
            if responses is not None and key in responses:
                future.set_result(responses[key])
            else:
                future.set_result(None)
        self.asked.clear()

    async def next_round(self) -> ToolAnswer:
        """The call's result, or the questions it asks next (as ``input_required``, without state)."""
        assert self.task is not None
        waiting = asyncio.ensure_future(self.questions.get())
        try:
            await asyncio.wait({self.task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the agent hung up: the federated call goes with it
            self.cancel()
            raise
        finally:
            if not waiting.done():
                waiting.cancel()
        if self.task.done():
            if waiting.done() and not waiting.cancelled():
                waiting.result()[1].cancel()
            return self.task.result()
        asked = [waiting.result()]
        while not self.questions.empty():  # asked together (a server may ask several at once)
            asked.append(self.questions.get_nowait())
        requests: dict[str, types.InputRequest] = {}
        for request, future in asked:
            self._keys += 1
            key = f"q{self._keys}"
            requests[key], self.asked[key] = request, future
        return types.InputRequiredResult(input_requests=requests)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        for future in self.asked.values():
            future.cancel()
        if self.expiry is not None:
            self.expiry.cancel()


class MidCallRelay:
    """One federated server's open calls, and the callbacks its SDK clients ask through."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS, max_held: int = MAX_HELD) -> None:
        self.hold_seconds, self.max_held = hold_seconds, max_held
        self.open: set[HeldCall] = set()
        self.held: dict[str, HeldCall] = {}

    def callbacks(self) -> dict[str, Any]:
        """The SDK client's callbacks: the capabilities a federated server sees (elicitation and
        sampling, which the agent answers)."""
        return {"elicitation_callback": self._elicit, "sampling_callback": self._sample}

    async def call(
        self, run: Callable[[Progress], Awaitable[ToolAnswer]], progress: Progress | None, resume: Resumption
    ) -> ToolAnswer:
        """``run`` (the federated call, told where to report progress), or the held call that
        ``resume`` answers; its result, or the questions it asks next with the state to retry with."""
        state = resume.request_state
        if state is not None and state.startswith(STATE_PREFIX):
            held = self.held.pop(state, None)
            if held is None:
                return text_result(EXPIRED.format(seconds=self.hold_seconds), error=True)
            if held.expiry is not None:
                held.expiry.cancel()
            held.progress = progress
            held.answer(resume.input_responses)
        else:
            held = HeldCall(progress)
            held.task = asyncio.ensure_future(run(held.report))
            self.open.add(held)
        try:
            answer = await held.next_round()
        except BaseException:
            self.open.discard(held)
            raise
        if held.task is not None and held.task.done():  # the call's own answer: a result, or (a
            self.open.discard(held)  # 2026-07-28 server's) input_required with its own state
            return answer
        state = STATE_PREFIX + secrets.token_urlsafe(24)
        self.held[state] = held
        held.expiry = asyncio.get_running_loop().call_later(self.hold_seconds, self._expire, state)
        return answer.model_copy(update={"request_state": state})

    def _expire(self, state: str) -> None:
        held = self.held.pop(state, None)
        if held is not None:
            self.open.discard(held)
            held.cancel()

    async def close(self) -> None:
        for held in list(self.open):
            held.cancel()
        self.open.clear()
        self.held.clear()

    async def _ask(self, request: types.InputRequest) -> Any:
        """The agent's answer in wire form, or ErrorData saying why there is none."""
        waiting = set(self.held.values())  # held for the agent's answers: their servers wait on us
        running = [call for call in self.open if call not in waiting]
        if len(running) != 1:
            return types.ErrorData(code=types.INVALID_REQUEST, message=AMBIGUOUS)
        if len(self.held) >= self.max_held:
            return types.ErrorData(code=types.INVALID_REQUEST, message=FULL)
        held = running[0]
        try:
            answer = await asyncio.wait_for(held.ask(request), self.hold_seconds)
        except TimeoutError:
            return types.ErrorData(code=types.INTERNAL_ERROR, message=TIMED_OUT)
        except asyncio.CancelledError:
            if (task := asyncio.current_task()) is not None and task.cancelling():
                raise  # this callback itself is cancelled (the connection closes)
            return types.ErrorData(code=types.INTERNAL_ERROR, message=NOT_ANSWERED)  # the call ended
        if answer is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=NOT_ANSWERED)
        return answer

    async def _elicit(
        self, context: Any, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return await self._relayed(types.ElicitRequest(params=params), _ELICITATION, "an elicitation")

    async def _sample(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        return await self._relayed(types.CreateMessageRequest(params=params), _SAMPLING, "a sampling")

    async def _relayed(
        self, request: types.InputRequest, result: pydantic.TypeAdapter[R], kind: str
    ) -> R | types.ErrorData:
        """The agent's answer to ``request``, as the SDK's callback returns it (typed by ``result``)."""
        answer = await self._ask(request)
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            return result.validate_python(answer)
        except pydantic.ValidationError:
            return types.ErrorData(
                code=types.INVALID_PARAMS, message=f"the agent's answer is not {kind} result"
            )
