"""The gateway's hop to toolmesh's own category servers: MCP 2026-07-28 stateless ``tools/call``
requests over a pooled aiohttp session.

The category servers answer each POST with one JSON-RPC response (``mcp_aiohttp.McpEndpoint``), so
a forwarded call needs no session, no SSE stream and no task group: the SDK's client machinery (its
anyio streams, the httpx2 transport, the owner task of :class:`~toolmesh.common.mcp_client.OwnedClient`)
was more than half of the gateway's CPU per forwarded call (py-spy, docs/design/0006). This client
builds the request and reads the answer with the SDK's own types, version registry, envelope keys
and header names, so the wire format stays the SDK's; it speaks only to servers that toolmesh
runs. Remote MCP servers (federation) keep the SDK's client.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from mcp import types
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    encode_header_value,
)
from mcp.types.version import LATEST_MODERN_VERSION
from pydantic import ValidationError

from toolmesh.common.mcp_client import ServerUnavailable

CLIENT_INFO = {"name": "toolmesh-gateway", "version": "0.1.0"}
#: Connections kept open to one category server.
POOL_SIZE = 64


@dataclass
class CategoryClient:
    """``tools/call`` to one category server at ``url`` (its ``/mcp``); failures are ServerUnavailable."""

    name: str  # for messages
    url: str
    timeout: float
    _http: aiohttp.ClientSession | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def running(self) -> bool:
        return True  # stateless: there is no connection to keep alive

    async def call(
        self, name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> types.CallToolResult:
        """Call the server's tool ``name``; ``meta`` joins the request's ``_meta`` (this call only)."""
        envelope = {
            types.PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
            types.CLIENT_INFO_META_KEY: CLIENT_INFO,
            types.CLIENT_CAPABILITIES_META_KEY: {},
            **(meta or {}),
        }
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments or {}, "_meta": envelope},
        }
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            MCP_PROTOCOL_VERSION_HEADER: LATEST_MODERN_VERSION,
            MCP_METHOD_HEADER: "tools/call",
            MCP_NAME_HEADER: encode_header_value(name),
        }
        try:
            async with self._session().post(
                self.url,
                data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise ServerUnavailable(f"{self.name}: no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise ServerUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from None
        return self._result(status, raw)

    def _result(self, status: int, raw: bytes) -> types.CallToolResult:
        try:
            message = json.loads(raw)
        except ValueError:
            raise ServerUnavailable(f"{self.name}: HTTP {status} without a JSON-RPC answer") from None
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            error = types.ErrorData.model_validate(message["error"])
            raise ServerUnavailable(f"{self.name}: {error.message}")
        try:
            return types.CallToolResult.model_validate(message["result"])
        except (KeyError, TypeError, ValidationError):
            raise ServerUnavailable(f"{self.name}: HTTP {status}, not a tools/call result") from None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL_SIZE, enable_cleanup_closed=True),
                auto_decompress=False,
            )
        return self._http

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
