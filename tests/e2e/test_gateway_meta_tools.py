"""The gateway's meta-tools refuse malformed arguments by name, bound the query, and keep the loop free.

SDK client → gateway (in process, on loopback); nothing here reaches a category server.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from tests.conftest import ROOT
from toolmesh.gateway.app import create_app
from toolmesh.gateway.server import MAX_QUERY_CHARS
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
