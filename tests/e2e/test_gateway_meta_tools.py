"""The gateway's meta-tools refuse malformed arguments by name, bound the query, and keep the loop free.

SDK client → gateway (in process, on loopback); nothing here reaches a category server. The
property test's cases: ``TOOLMESH_PROPERTY_EXAMPLES`` (default 200, so the e2e tier stays quick).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from tests.conftest import ROOT
from toolmesh.gateway.app import create_app
from toolmesh.gateway.server import CALL, DESCRIBE, MAX_QUERY_CHARS, SEARCH
from toolmesh.gateway.settings import GatewaySettings

pytestmark = pytest.mark.e2e


class GatedEmbedder:
    """Hash vectors; a query containing ``slow`` waits for ``release`` (2 s at most) in the model."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 8), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        if "slow" in text:
            self.entered.set()
            self.release.wait(2.0)
        return self._vector(text)

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        digest = hashlib.sha256(text.encode()).digest()[:8]
        vector = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) + 1.0
        return vector / np.linalg.norm(vector)


@pytest.fixture
async def gateway() -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def start(embedder: GatedEmbedder | None = None) -> str:
        settings = GatewaySettings(
            catalog=ROOT / "examples" / "local",
            auth="none",
            direct_tools_limit=0,
            lexical_only=embedder is None,
        )
        runner = web.AppRunner(create_app(settings, embedder))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("search_tools", {"query": 7}, "query must be of type string"),
        ("search_tools", {"query": "tasks", "limit": "3"}, "limit must be of type integer"),
        ("search_tools", {"query": "tasks", "limit": True}, "limit must be of type integer"),
        ("search_tools", {"query": "tasks", "limit": 0}, "limit must be at least 1"),
        ("search_tools", {"query": "tasks", "categories": "pm"}, "categories must be of type array"),
        ("search_tools", {"query": "tasks", "categories": ["pm", 3]}, "categories.1 must be of type string"),
        ("search_tools", {}, "'query' is a required property"),
        ("search_tools", {"query": "tasks", "sort": "asc"}, "'sort' was unexpected"),
        ("describe_tools", {"names": "tasks__getTask"}, "names must be of type array"),
        ("describe_tools", {"names": []}, "names needs at least 1 item(s)"),
        ("describe_tools", {"names": [{"n": 1}]}, "names.0 must be of type string"),
        ("call_tool", {"name": 3}, "name must be of type string"),
        ("call_tool", {"name": "tasks__getTask", "arguments": [1]}, "arguments must be of type object"),
    ],
)
async def test_wrong_meta_tool_arguments_are_invalid_params_naming_the_field(
    gateway: Callable[..., Any], tool: str, arguments: dict[str, Any], named: str, mode: str
) -> None:
    url = await gateway()
    async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
        with pytest.raises(MCPError) as refused:
            await client.call_tool(tool, arguments)
        assert refused.value.code == INVALID_PARAMS
        assert named in refused.value.message
        assert refused.value.message.startswith(f"invalid arguments for {tool}: ")
        found = await client.call_tool("search_tools", {"query": "list tasks"})
        assert found.is_error is False, "still serving"


async def test_a_query_above_the_limit_is_refused_without_echoing_it(gateway: Callable[..., Any]) -> None:
    url = await gateway()
    async with Client(url) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("search_tools", {"query": "x" * (MAX_QUERY_CHARS + 1)})
        assert refused.value.code == INVALID_PARAMS
        assert refused.value.message == (
            f"invalid arguments for search_tools: query is longer than {MAX_QUERY_CHARS} characters"
        )
        at_limit = await client.call_tool("search_tools", {"query": "task " * (MAX_QUERY_CHARS // 5)})
        assert at_limit.is_error is False


async def test_a_slow_search_does_not_stall_other_requests(gateway: Callable[..., Any]) -> None:
    embedder = GatedEmbedder()
    url = await gateway(embedder)
    async with Client(url) as slow_client, Client(url) as other:
        search = asyncio.create_task(slow_client.call_tool("search_tools", {"query": "slow tasks"}))
        assert await asyncio.to_thread(embedder.entered.wait, 5.0)
        listed = await asyncio.wait_for(other.list_tools(), 1.5)
        assert [t.name for t in listed.tools] == ["search_tools", "describe_tools", "call_tool"]
        assert not search.done(), "the other client was answered while the search was embedding"
        embedder.release.set()
        assert (await search).is_error is False


EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "200"))
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
meta_arguments = st.dictionaries(
    st.sampled_from(["query", "limit", "categories", "names", "name", "arguments"]) | st.text(max_size=8),
    values | st.lists(st.text(max_size=30), max_size=25),
    max_size=4,
)


@pytest.fixture
async def url(gateway: Callable[..., Any]) -> str:
    return str(await gateway())  # one gateway for every example of the test


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tool=st.sampled_from([SEARCH, DESCRIBE, CALL]), args=meta_arguments | values)
async def test_any_meta_tool_arguments_are_a_result_or_invalid_params_never_a_5xx(
    url: str, tool: str, args: Any
) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    async with aiohttp.ClientSession() as http, http.post(url, json=message) as response:
        assert response.status < 500
        answer = json.loads(await response.text())
    if "error" in answer:
        assert answer["error"]["code"] == INVALID_PARAMS, answer
        if isinstance(args, dict):  # else the SDK refuses params.arguments itself (not an object)
            assert answer["error"]["message"].startswith(f"invalid arguments for {tool}: ")
    else:
        assert isinstance(answer["result"]["isError"], bool)
