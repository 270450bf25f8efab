"""One tool call through the gateway is one trace across three processes, as a real OpenTelemetry
Collector receives it: the gateway (``toolmesh dev``), the category server it starts, and the
upstream request, with the caller's trace id and the parent links intact (docs/design/0015)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from mcp import Client
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tests.conftest import DEMO_SPEC
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import SECRET, tasks_integration, text
from tests.e2e.test_local_stack import wait_http
from toolmesh.gateway.supervisor import free_port
from toolmesh.testing.otelcol import CLIENT, SERVER, LocalCollector, Span

pytestmark = [pytest.mark.e2e, pytest.mark.otel]

TASK_PATH = "/v1/projects/apollo/tasks/7"


@dataclass
class Stack:
    collector: LocalCollector
    url: str  # the gateway's MCP endpoint
    upstream: StubUpstream


@pytest.fixture
async def stack(tmp_path: Path, upstream: StubUpstream) -> AsyncIterator[Stack]:
    folder = tmp_path / "catalog"
    (folder / "tasks-openapi").mkdir(parents=True)
    (folder / "tasks-openapi" / "tasks.openapi.yaml").write_text(DEMO_SPEC.read_text())
    (folder / "tasks.yaml").write_text(textwrap.dedent(tasks_integration(upstream.url)) + "---" + SECRET)
    upstream.on("GET", TASK_PATH, Reply(body={"id": 7, "title": "Trace me"}))
    with LocalCollector(tmp_path) as collector:
        port = free_port()
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not 5 s
            "TOOLMESH_LOG_LEVEL": "WARNING",
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "toolmesh.cli.main", "dev", str(folder), "--port", str(port), "--direct-tools-limit", "0", "--lexical-only"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            yield Stack(collector, f"http://127.0.0.1:{port}/mcp", upstream)
        finally:
            gateway.send_signal(signal.SIGINT)
            _, err = gateway.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()


def chosen() -> tuple[str, str]:
    """A trace id and a span id of the caller's own, in hex."""
    return secrets.token_hex(16), secrets.token_hex(8)


def caller_context(trace_id: str, span_id: str) -> context.Context:
    """The caller's span as the current one: the SDK client puts it into each request's ``_meta``."""
    parent = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def one(spans: list[Span], name: str, service: str) -> Span:
    found = [s for s in spans if s.name == name and s.service == service]
    assert len(found) == 1, (name, service, [(s.service, s.name) for s in spans])
    return found[0]


def complete(spans: list[Span]) -> bool:
    return any(s.name.startswith("GET ") for s in spans) and any(
        s.name == "tools/call call_tool" for s in spans
    )


async def test_a_tool_call_is_one_trace_across_gateway_category_server_and_upstream(stack: Stack) -> None:
    trace_id, caller_span = chosen()
    token = context.attach(caller_context(trace_id, caller_span))
    try:
        async with Client(stack.url) as client:
            found = text(await client.call_tool("search_tools", {"query": "get one task", "limit": 3}))
            assert "tasks__getTask" in found
            result = await client.call_tool(
                "call_tool", {"name": "tasks__getTask", "arguments": {"projectId": "apollo", "taskId": 7}}
            )
            assert result.is_error is False, text(result)
    finally:
        context.detach(token)

    spans = stack.collector.wait_for_spans(trace_id, complete)
    assert {s.service for s in spans} == {"toolmesh-gateway", "toolmesh-category"}
    by_id = {s.span_id: s for s in spans}

    served = one(spans, "tools/call call_tool", "toolmesh-gateway")
    assert (served.kind, served.parent_id) == (SERVER, caller_span), "the caller's span is its parent"
    call = one(spans, "toolmesh.call", "toolmesh-gateway")
    assert call.parent_id == served.span_id
    assert call.attributes == {
        "gen_ai.tool.name": "tasks__getTask", "toolmesh.category": "pm",
        "toolmesh.integration": "tasks", "toolmesh.outcome": "ok",
    }  # fmt: skip
    wake = one(spans, "toolmesh.wake", "toolmesh-gateway")  # the first call started the category server
    assert (wake.parent_id, wake.attributes["toolmesh.category"]) == (call.span_id, "pm")
    hop = one(spans, "tools/call tasks__getTask", "toolmesh-gateway")
    assert (hop.kind, hop.parent_id) == (CLIENT, call.span_id)

    category = one(spans, "tools/call tasks__getTask", "toolmesh-category")
    assert (category.kind, category.parent_id) == (SERVER, hop.span_id), "across the process boundary"
    assert category.attributes["toolmesh.integration"] == "tasks"
    request = one(spans, "GET /projects/{projectId}/tasks/{taskId}", "toolmesh-category")
    assert request.kind == CLIENT
    assert by_id[request.parent_id] == category
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["url.template"] == "/projects/{projectId}/tasks/{taskId}"
    assert "url.full" not in request.attributes
    sent = stack.upstream.last()
    assert sent.path == TASK_PATH
    assert sent.headers["traceparent"] == f"00-{trace_id}-{request.span_id}-01", "the upstream can go on"

    search = one(spans, "toolmesh.search", "toolmesh-gateway")
    assert by_id[search.parent_id].name == "tools/call search_tools"
    assert "tasks__getTask" in search.attributes["toolmesh.search.tools"]
    assert (
        len(search.attributes["toolmesh.search.scores"]) == search.attributes["toolmesh.search.result_count"]
    )
    assert "toolmesh.search.query" not in search.attributes, "never the query text unless enabled"
    assert not [s for s in spans if s.failed]


async def test_a_traceparent_header_is_followed_when_the_request_has_none_in_meta(stack: Stack) -> None:
    trace_id, caller_span = chosen()
    body = {
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "call_tool", "arguments": {"name": "tasks__getTask", "arguments": {"projectId": "apollo", "taskId": 7}}},
    }  # fmt: skip
    headers = {
        "traceparent": f"00-{trace_id}-{caller_span}-01",
        "Accept": "application/json, text/event-stream",
    }
    async with aiohttp.ClientSession() as http, http.post(stack.url, json=body, headers=headers) as response:
        answer = json.loads(await response.read())
    assert answer["result"]["isError"] is False, answer

    spans = stack.collector.wait_for_spans(trace_id, complete)
    served = one(spans, "tools/call call_tool", "toolmesh-gateway")
    assert served.parent_id == caller_span
    assert {s.service for s in spans} == {"toolmesh-gateway", "toolmesh-category"}
