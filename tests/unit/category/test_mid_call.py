"""The relay's rounds and its limits, driven through its public face: the SDK callbacks a federated
server's questions arrive at, and ``call`` as the category server's tools/call runs it."""

from __future__ import annotations

import asyncio

from mcp import types

from toolmesh.category.mid_call import EXPIRED, STATE_PREFIX, MidCallRelay
from toolmesh.common.mcp_client import Resumption, ToolAnswer
from toolmesh.common.mcp_results import text_result
from toolmesh.common.mcp_sse import Progress

QUESTION = types.ElicitRequestFormParams(
    message="Who is asking?", requested_schema={"type": "object", "properties": {"name": {"type": "string"}}}
)


def server(relay: MidCallRelay, ended: asyncio.Event) -> object:
    """A federated call whose server asks once, through the relay's callback, and says what it heard."""
    ask = relay.callbacks()["elicitation_callback"]

    async def run(report: Progress) -> ToolAnswer:
        try:
            answer = await ask(None, QUESTION)
        finally:
            ended.set()
        if isinstance(answer, types.ErrorData):
            return text_result(answer.message, error=True)
        return text_result(f"hello {answer.content['name']}")

    return run


async def test_a_question_becomes_a_round_and_the_answer_finishes_the_call() -> None:
    relay, ended = MidCallRelay(), asyncio.Event()
    first = await relay.call(server(relay, ended), None, Resumption())  # type: ignore[arg-type]
    assert isinstance(first, types.InputRequiredResult)
    assert first.request_state is not None
    assert first.request_state.startswith(STATE_PREFIX)
    assert first.input_requests == {"q1": types.ElicitRequest(params=QUESTION)}
    answers = {"q1": {"action": "accept", "content": {"name": "Ada"}}}
    done = await relay.call(server(relay, ended), None, Resumption(answers, first.request_state))  # type: ignore[arg-type]
    assert isinstance(done, types.CallToolResult)
    assert done.content[0].text == "hello Ada"  # type: ignore[union-attr]
    assert not relay.open
    assert not relay.held
    again = await relay.call(server(relay, ended), None, Resumption(answers, first.request_state))  # type: ignore[arg-type]
    assert again.is_error is True  # type: ignore[union-attr]


async def test_an_answer_left_out_is_an_error_to_the_server_not_a_hang() -> None:
    relay, ended = MidCallRelay(), asyncio.Event()
    first = await relay.call(server(relay, ended), None, Resumption())  # type: ignore[arg-type]
    assert isinstance(first, types.InputRequiredResult)
    done = await relay.call(server(relay, ended), None, Resumption({}, first.request_state))  # type: ignore[arg-type]
    assert isinstance(done, types.CallToolResult)
    assert done.is_error is True
    assert "did not answer" in done.content[0].text  # type: ignore[union-attr]


async def test_a_held_call_expires_and_its_federated_call_ends() -> None:
    relay, ended = MidCallRelay(hold_seconds=0.05), asyncio.Event()
    first = await relay.call(server(relay, ended), None, Resumption())  # type: ignore[arg-type]
    assert isinstance(first, types.InputRequiredResult)
    await asyncio.wait_for(ended.wait(), 5)  # the federated call was cancelled, not left waiting
    assert not relay.open
    assert not relay.held
    late = await relay.call(
        server(relay, ended),  # type: ignore[arg-type]
        None,
        Resumption({"q1": {"action": "accept", "content": {"name": "Ada"}}}, first.request_state),
    )
    assert isinstance(late, types.CallToolResult)
    assert late.content[0].text == EXPIRED.format(seconds=0.05)  # type: ignore[union-attr]


async def test_a_state_the_relay_did_not_make_goes_to_the_server_as_it_is() -> None:
    """A 2026-07-28 server's own requestState is its business: the relay runs the call with it."""
    relay = MidCallRelay()

    async def run(report: Progress) -> ToolAnswer:
        return text_result("ran")

    answer = await relay.call(run, None, Resumption({"a": {"action": "decline"}}, "sealed-by-the-server"))
    assert isinstance(answer, types.CallToolResult)
    assert answer.content[0].text == "ran"  # type: ignore[union-attr]


async def test_a_2026_servers_own_input_required_passes_through_with_its_own_state() -> None:
    """A server that answers input_required itself (2026-07-28) holds nothing: its state is its own."""
    relay = MidCallRelay()
    asked = types.InputRequiredResult(
        input_requests={"who": types.ElicitRequest(params=QUESTION)}, request_state="sealed-by-the-server"
    )

    async def run(report: Progress) -> ToolAnswer:
        return asked

    answer = await relay.call(run, None, Resumption())
    assert answer == asked
    assert not relay.open
    assert not relay.held


async def test_calls_held_for_answers_are_bounded_and_a_question_past_the_bound_is_refused() -> None:
    relay, ended = MidCallRelay(max_held=1), asyncio.Event()
    first = await relay.call(server(relay, ended), None, Resumption())  # type: ignore[arg-type]
    assert isinstance(first, types.InputRequiredResult)  # held, waiting for its agent
    second = await relay.call(server(relay, asyncio.Event()), None, Resumption())  # type: ignore[arg-type]
    assert isinstance(second, types.CallToolResult)
    assert second.is_error is True
    assert "already wait for their agents' answers" in second.content[0].text  # type: ignore[union-attr]
    assert len(relay.held) == 1
    await relay.close()
