"""The protocol beyond tool results, through every hop: the SDK client → gateway → category server →
a federated MCP server toolmesh did not write, and back, in both protocol generations: progress,
cancellation, the server's questions (elicitation), and list changes told to listening clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from mcp import Client, types
from mcp.server.subscriptions import PromptsListChanged

from tests.conftest import StartCategory
from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.progress_server import Waits, serve_progress_remote
from tests.e2e.test_category_server import text
from tests.e2e.test_fast_path import request
from tests.e2e.test_federation import Connect
from toolmesh.common import mcp_sse
from toolmesh.common.mcp_cancel import SESSION_HEADER
from toolmesh.common.mcp_results import INPUT_NOT_RELAYED

pytestmark = pytest.mark.e2e
LEGACY = "2025-06-18"


def worker_integration(url: str) -> str:
    return f"""
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: worker}}
        spec:
          category: ai
          mcp: {{url: "{url}"}}
    """


@pytest.fixture
async def worker() -> AsyncIterator[tuple[str, Waits]]:
    async with serve_progress_remote() as served:
        yield served


@pytest.fixture
async def gateway(
    worker: tuple[str, Waits], start_category: StartCategory, start_gateway: StartGateway
) -> Gateway:
    """A gateway forwarding the ``ai`` category to a category server that federates the worker."""
    category = await start_category({"worker.yaml": worker_integration(worker[0])})
    return await start_gateway(
        extra={"worker.yaml": worker_integration(worker[0])}, category_endpoints={"ai": category.mcp_url}
    )


@pytest.mark.parametrize("name", ["worker__count", "call_tool"])
async def test_progress_reaches_the_agent_from_the_federated_server(
    gateway: Gateway, connect: Connect, name: str
) -> None:
    """Listed directly (the forwarding fast path) or through the call_tool meta-tool (the SDK's kernel)."""
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append((progress, total, message))

    arguments: dict[str, Any] = {"steps": 3}
    if name == "call_tool":
        arguments = {"name": "worker__count", "arguments": arguments}
    async with connect(gateway.mcp_url) as client:
        result = await client.call_tool(name, arguments, progress_callback=on_progress)
    assert result.is_error is False, text(result)
    assert text(result) == "counted to 3"
    assert steps == [(1.0, 3.0, "step 1 of 3"), (2.0, 3.0, "step 2 of 3"), (3.0, 3.0, "step 3 of 3")]


@pytest.mark.parametrize("version", ["2026-07-28", LEGACY])
async def test_the_answer_is_a_stream_only_when_progress_was_asked_for_and_can_be_streamed(
    gateway: Gateway, version: str
) -> None:
    body, headers = request(version, "worker__count", {"steps": 2})
    async with aiohttp.ClientSession() as http:
        async with http.post(gateway.mcp_url, json=body, headers=headers) as response:
            assert response.content_type == "application/json", "no progress token: one JSON answer"
            assert (await response.json())["result"]["content"][0]["text"] == "counted to 2"

        body["params"].setdefault("_meta", {})["progressToken"] = "tok-1"
        json_only = {**headers, "Accept": "application/json"}
        async with http.post(gateway.mcp_url, json=body, headers=json_only) as response:
            assert response.content_type == "application/json", "a client that takes no stream gets JSON"
            assert (await response.json())["result"]["content"][0]["text"] == "counted to 2"

        async with http.post(gateway.mcp_url, json=body, headers=headers) as response:
            assert response.content_type == "text/event-stream"
            messages = [m async for m in mcp_sse.messages(response.content)]
    notes, answer = messages[:-1], messages[-1]
    assert [n["method"] for n in notes] == ["notifications/progress"] * 2
    assert [n["params"] for n in notes] == [
        {"progressToken": "tok-1", "progress": 1.0, "total": 2.0, "message": "step 1 of 2"},
        {"progressToken": "tok-1", "progress": 2.0, "total": 2.0, "message": "step 2 of 2"},
    ], "the agent's own token, whatever the hops behind used"
    assert answer["id"] == body["id"]
    assert answer["result"]["content"][0]["text"] == "counted to 2"
    assert json.dumps(answer).count("toolmesh-category") == 0, "the category server's stamp is not passed on"


async def test_an_agent_that_hangs_up_cancels_the_call_on_the_federated_server(
    gateway: Gateway, worker: tuple[str, Waits]
) -> None:
    """The agent closes its request (how a 2026-07-28 client cancels); the gateway's request to the
    category server closes with it, and the category server cancels its call to the remote."""
    _, waits = worker
    body, headers = request("2026-07-28", "worker__wait", {})
    async with aiohttp.ClientSession() as http:
        call = asyncio.create_task(http.post(gateway.mcp_url, json=body, headers=headers))
        await asyncio.wait_for(waits.started.wait(), 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await asyncio.wait_for(waits.cancelled.wait(), 10)


async def test_a_cancelled_sdk_call_is_cancelled_on_the_federated_server(
    gateway: Gateway, worker: tuple[str, Waits], connect: Connect
) -> None:
    """The SDK client in either generation, cancelled by its caller: the remote's tool is cancelled."""
    _, waits = worker
    async with connect(gateway.mcp_url) as client:
        call = asyncio.create_task(client.call_tool("worker__wait", {}))
        await asyncio.wait_for(waits.started.wait(), 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(waits.cancelled.wait(), 10)


async def answer_ada(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    assert isinstance(params, types.ElicitRequestFormParams)
    assert params.message == "Who is asking?", "the federated server's own question"
    return types.ElicitResult(action="accept", content={"name": "Ada"})


@pytest.mark.parametrize("name", ["worker__greet", "call_tool"])
async def test_a_federated_servers_question_reaches_a_2026_agent_and_its_answer_comes_back(
    gateway: Gateway, name: str
) -> None:
    """MCP 2026-07-28's multi-round-trip: the federated server answers input_required, which
    passes through the category server and the gateway; the agent's SDK asks its elicitation
    callback and retries with the answer and the server's requestState, which go back the same way."""
    arguments: dict[str, Any] = {}
    if name == "call_tool":
        arguments = {"name": "worker__greet", "arguments": {}}
    async with Client(gateway.mcp_url, mode="auto", elicitation_callback=answer_ada) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error is False, text(result)
    assert text(result) == "hello Ada"
    labels = {"category": "ai", "integration": "worker", "outcome": "input_required"}
    rounds = gateway.service.metrics.registry.get_sample_value("toolmesh_gateway_tool_calls_total", labels)
    assert rounds == 1, "the first round is counted as what it is"


@pytest.mark.parametrize("name", ["worker__greet", "call_tool"])
async def test_a_federated_servers_question_is_asked_of_a_2025_agent_mid_call(
    gateway: Gateway, name: str
) -> None:
    """A 2025 agent expects questions as requests on its call's stream: the gateway asks them there,
    in the agent's session, and retries the call with the answers."""
    arguments: dict[str, Any] = {}
    if name == "call_tool":
        arguments = {"name": "worker__greet", "arguments": {}}
    async with Client(gateway.mcp_url, mode="legacy", elicitation_callback=answer_ada) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error is False, text(result)
    assert text(result) == "hello Ada"


async def test_a_2025_agent_that_cannot_answer_gets_an_error_saying_so(gateway: Gateway) -> None:
    async with Client(gateway.mcp_url, mode="legacy") as client:  # no elicitation callback
        result = await client.call_tool("worker__greet", {})
    assert result.is_error is True
    assert text(result).startswith("worker__greet needs input from you first, which could not be had: "), (
        text(result)
    )


async def test_a_2025_agent_outside_a_session_is_told_why_a_question_cannot_reach_it(
    gateway: Gateway,
) -> None:
    """No session id (a client that forgets it), so nothing to answer in: the tool's error says why."""
    body, headers = request(LEGACY, "worker__greet", {})
    async with (
        aiohttp.ClientSession() as http,
        http.post(gateway.mcp_url, json=body, headers=headers) as response,
    ):
        answer = await response.json()
    assert answer["result"]["isError"] is True
    assert answer["result"]["content"][0]["text"] == INPUT_NOT_RELAYED


PROMPT = {"name": "worker__hello", "description": "Say hello", "arguments": []}


async def test_a_2026_agent_listening_is_told_when_the_prompts_change(gateway: Gateway) -> None:
    """subscriptions/listen: the answer is a stream of list changes (here: a federated server's
    prompts, as the cluster source records them when an integration's status changes)."""
    async with (
        Client(gateway.mcp_url, mode="auto") as client,
        client.listen(prompts_list_changed=True) as changes,
    ):
        assert changes.honored.prompts_list_changed is True
        gateway.service.catalog.offered.replace("worker", "ai", prompts=[PROMPT])
        event = await asyncio.wait_for(anext(aiter(changes)), 10)
        assert isinstance(event, PromptsListChanged)
        listed = await client.list_prompts()
    assert [p.name for p in listed.prompts] == ["worker__hello"]


async def test_a_2025_session_is_told_on_its_standing_stream(gateway: Gateway) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}  # fmt: skip
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    async with aiohttp.ClientSession() as http:
        async with http.post(gateway.mcp_url, json=initialize, headers=headers) as response:
            session = response.headers[SESSION_HEADER]
        standing = {"Accept": "text/event-stream", SESSION_HEADER: session, "MCP-Protocol-Version": LEGACY}
        async with http.get(gateway.mcp_url, headers=standing) as response:
            assert response.content_type == "text/event-stream"
            assert (await response.content.readline()).startswith(b": listening")
            gateway.service.catalog.offered.replace("worker", "ai", prompts=[PROMPT])
            async with asyncio.timeout(10):
                message = await anext(aiter(mcp_sse.messages(response.content)))
    assert message == {"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"}
    async with aiohttp.ClientSession() as http, http.get(gateway.mcp_url) as response:
        assert response.status == 405, "no session, no standing stream"
