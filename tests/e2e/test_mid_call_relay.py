"""A 2025-era federated server's questions, asked mid-call, reach the agent and come back: the SDK
client (both generations) → gateway → category server → a stdio server written with the MCP SDK 1.x
(tests/e2e/legacy_server.py, run by the Python of a venv that has it), which asks with
server-to-client requests while its call is open (docs/design/0018)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
import structlog
from mcp import Client, types

from tests.conftest import StartCategory
from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.test_category_server import text
from tests.e2e.test_federation import log_lines
from toolmesh.category.mid_call import AMBIGUOUS, EXPIRED, STATE_PREFIX

pytestmark = [pytest.mark.e2e, pytest.mark.packaged]
REPO = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("legacy_server.py")


@pytest.fixture(scope="session")
def legacy_python() -> Path:
    """A Python with the MCP SDK 1.x (2025 protocol versions only): mcp-proxy's venv."""
    out = subprocess.run(
        [str(REPO / "hack" / "install-stdio-servers.sh")], check=True, capture_output=True, text=True
    )
    python = Path(out.stdout.strip().splitlines()[-1]) / "mcp-proxy-0.13.0" / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import mcp.types as t; print(t.LATEST_PROTOCOL_VERSION)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert version.startswith("2025-"), f"expected a 2025-era SDK, found one for {version}"
    return python


def legacy_integration(python: Path) -> str:
    return f"""
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPIntegration
        metadata: {{name: legacy}}
        spec:
          category: ai
          stdio: {{command: "{python}", args: ["{SERVER}"]}}
    """


@pytest.fixture
async def gateway(legacy_python: Path, start_category: StartCategory, start_gateway: StartGateway) -> Gateway:
    files = {"legacy.yaml": legacy_integration(legacy_python)}
    category = await start_category(files)
    return await start_gateway(extra=files, category_endpoints={"ai": category.mcp_url})


class Agent:
    """An agent's callbacks: answers each question from a list, and remembers what it was asked."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.asked: list[str] = []

    async def elicit(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": self.names.pop(0)})

    async def sample(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        asked = params.messages[0].content
        self.asked.append(asked.text if isinstance(asked, types.TextContent) else "")
        return types.CreateMessageResult(
            role="assistant",
            model="test-model",
            content=types.TextContent(type="text", text="autumn leaves fall"),
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("name", ["legacy__greet", "call_tool"])
async def test_a_2025_servers_question_reaches_the_agent_and_its_answer_comes_back(
    gateway: Gateway, mode: str, name: str
) -> None:
    """A 2026-07-28 agent gets the question as input_required and retries; a 2025 agent is asked on
    its call's stream. Either way the federated server's open call gets the answer."""
    arguments: dict[str, Any] = {"name": "legacy__greet", "arguments": {}} if name == "call_tool" else {}
    agent = Agent("Ada")
    async with Client(gateway.mcp_url, mode=mode, elicitation_callback=agent.elicit) as client:  # type: ignore[arg-type]
        result = await client.call_tool(name, arguments)
    assert result.is_error is False, text(result)
    assert text(result) == "hello Ada"
    assert agent.asked == ["Who is asking?"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_one_call_asks_twice_and_each_answer_reaches_it(gateway: Gateway, mode: str) -> None:
    agent = Agent("Grace", "Hopper")
    async with Client(gateway.mcp_url, mode=mode, elicitation_callback=agent.elicit) as client:  # type: ignore[arg-type]
        result = await client.call_tool("legacy__introduce", {})
    assert text(result) == "pleased to meet you, Grace Hopper"
    assert agent.asked == ["First name?", "Family name?"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sampling_asked_mid_call_is_answered_by_the_agents_model(gateway: Gateway, mode: str) -> None:
    agent = Agent()
    async with Client(gateway.mcp_url, mode=mode, sampling_callback=agent.sample) as client:  # type: ignore[arg-type]
        result = await client.call_tool("legacy__haiku", {"topic": "autumn"})
    assert text(result) == "the model wrote: autumn leaves fall"
    assert agent.asked == ["a haiku about autumn"]


async def test_an_agent_that_cannot_answer_gets_an_error_and_the_server_stays_usable(
    gateway: Gateway,
) -> None:
    async with Client(gateway.mcp_url, mode="legacy") as client:  # no elicitation callback
        refused = await client.call_tool("legacy__greet", {})
    assert refused.is_error is True
    assert "needs input from you first" in text(refused), text(refused)
    agent = Agent("Ada")  # the refused call is over: the next one is asked and answered
    async with Client(gateway.mcp_url, mode="auto", elicitation_callback=agent.elicit) as client:  # type: ignore[arg-type]
        result = await client.call_tool("legacy__greet", {})
    assert text(result) == "hello Ada"


async def test_an_answer_to_a_question_no_longer_open_is_told_so(gateway: Gateway) -> None:
    async with Client(gateway.mcp_url, mode="auto") as client:
        result = await client.session.call_tool(
            "legacy__greet",
            {},
            input_responses={"q1": {"action": "accept", "content": {"name": "Eve"}}},
            request_state=STATE_PREFIX + "not-one-this-server-made",
            allow_input_required=True,
        )
    assert isinstance(result, types.CallToolResult)
    assert result.is_error is True
    assert text(result).startswith(EXPIRED.split("(")[0]), text(result)


async def test_two_running_calls_asking_at_once_are_refused_saying_why(gateway: Gateway) -> None:
    """Nothing in a stdio server's request says which call asks: the first question, asked while
    both calls run, is refused, and its call ends with the reason instead of hanging (the second
    may then be the only one running, and be asked)."""
    async with Client(gateway.mcp_url, mode="auto") as client:
        answers = await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.session.call_tool(
                        "legacy__greet_after", {"seconds": 0.5}, allow_input_required=True
                    )
                    for _ in range(2)
                )
            ),
            30,
        )
    refused = [a for a in answers if isinstance(a, types.CallToolResult) and a.is_error]
    assert refused, f"at least one call is refused: {answers}"
    assert all(AMBIGUOUS[:40] in text(a) for a in refused), [text(a) for a in refused]


async def test_a_2025_servers_log_messages_are_in_the_category_servers_log_at_their_levels(
    legacy_python: Path, start_category: StartCategory
) -> None:
    """A 2025 server sends every message to its session (nothing asks for less): each is logged at
    its own level, so the debug line is there, at debug (dropped by a category server at INFO)."""
    category = await start_category({"legacy.yaml": legacy_integration(legacy_python)})
    with structlog.testing.capture_logs() as captured:
        async with Client(category.mcp_url) as client:
            assert text(await client.call_tool("legacy__remember", {"note": "milk"})) == "remembered"
        lines = await log_lines(captured, "legacy", 2)
    assert [(line["log_level"], line["server_level"], line["data"]) for line in lines] == [
        ("warning", "warning", "remembered milk"),
        ("debug", "debug", "4 characters"),
    ]
