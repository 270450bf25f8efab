"""Property: whatever a client POSTs to the MCP route, the answer is a 2xx or a 4xx (JSON-RPC where the
body was read), never a 5xx or a hang, and the server still serves afterwards.

``TOOLMESH_PROPERTY_EXAMPLES`` sets the cases per property (CI can raise it; the default keeps the
unit tier fast).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.common.test_mcp_aiohttp import CALL, serve
from toolmesh.common.mcp_aiohttp import OriginPolicy

EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "300"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the repository; a failure prints its reproducing example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
methods = st.sampled_from(
    ["initialize", "tools/list", "tools/call", "ping", "notifications/initialized", "resources/list"]
) | st.text(max_size=20)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0"]) | scalars,
        "id": scalars | json_values,
        "method": methods | scalars,
        "params": json_values
        | st.fixed_dictionaries(
            {"name": st.sampled_from(["echo", "nope"]) | scalars, "arguments": json_values}
        ),
        "result": json_values,
    },
)
bodies = (
    messages.map(lambda m: json.dumps(m).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.lists(messages, max_size=3).map(lambda m: json.dumps(m).encode())
    | st.binary(max_size=64)
    | st.integers(1, 5_000).map(lambda n: ("[" * n + "]" * n).encode())
)
headers = st.fixed_dictionaries(
    {"Content-Type": st.sampled_from(["application/json", "application/json; charset=utf-8"])},
    optional={
        "Origin": st.sampled_from(["http://evil.example", "null", "http://localhost:1"])
        | st.text(max_size=20),
        "MCP-Protocol-Version": st.sampled_from(["2025-03-26", "2025-06-18", "2026-07-28"])
        | st.text(max_size=12),
        "Accept": st.sampled_from(["application/json", "text/event-stream", "*/*"]),
    },
)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    runner, address = await serve(OriginPolicy.for_server("127.0.0.1"))
    yield address
    await runner.cleanup()


def printable(value: dict[str, str]) -> dict[str, str]:
    """Header values HTTP can carry (aiohttp refuses control characters on the client side)."""
    return {k: v for k, v in value.items() if v.isprintable() and v.isascii()}


@PROPERTY
@given(body=bodies, extra=headers)
async def test_no_message_gets_a_5xx_and_every_read_body_gets_json_rpc(
    url: str, body: bytes, extra: dict[str, str]
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url, data=body, headers=printable(extra), timeout=aiohttp.ClientTimeout(total=5)
        ) as response,
    ):
        text = await response.text()
        assert response.status < 500, text
        if response.content_type == "application/json":
            answer: Any = json.loads(text)
            assert answer["jsonrpc"] == "2.0"
            assert ("result" in answer) != ("error" in answer)
        else:
            assert response.status in (202, 403, 415), text


async def test_the_server_still_serves_after_hostile_traffic(url: str) -> None:
    await asyncio.wait_for(_hostile_round(url), 30)
    async with aiohttp.ClientSession() as http, http.post(url, json=CALL) as response:
        assert response.status == 200
        assert (await response.json())["result"]["tools"][0]["name"] == "echo"


async def _hostile_round(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for body in (b"{", b"[" * 100_000, b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}'):
            async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                assert response.status < 500
