"""The pure parts of toolmesh.common.tracing: when export is on, what context is read, which
attributes a span gets."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from toolmesh.common import tracing

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
PARENT = f"00-{TRACE}-{SPAN}-01"


def test_tracing_is_off_without_an_endpoint_or_the_otlp_exporter() -> None:
    assert tracing.export_from({}, "svc") is None
    assert tracing.export_from({"OTEL_SERVICE_NAME": "x"}, "svc") is None


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
        {"OTEL_TRACES_EXPORTER": "otlp"},
    ],
)
def test_one_variable_turns_export_on(environ: dict[str, str]) -> None:
    assert tracing.export_from(environ, "toolmesh-gateway") == tracing.Export("toolmesh-gateway")


def test_the_service_name_variable_wins_over_the_default() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "edge-gateway"}
    assert tracing.export_from(environ, "toolmesh-gateway") == tracing.Export("edge-gateway")


@pytest.mark.parametrize(
    "environ", [{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
                {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}],
)  # fmt: skip
def test_the_standard_switches_turn_it_off_again(environ: dict[str, str]) -> None:
    assert tracing.export_from(environ, "svc") is None


def test_an_exporter_or_protocol_toolmesh_does_not_speak_is_an_error_naming_the_variable() -> None:
    with pytest.raises(tracing.TracingSettingsError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        tracing.export_from({"OTEL_TRACES_EXPORTER": "zipkin"}, "svc")
    with pytest.raises(tracing.TracingSettingsError, match="OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"):
        tracing.export_from({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "svc")


def ids(found: object) -> tuple[str, str]:
    context = trace.get_current_span(found).get_span_context()  # type: ignore[arg-type]
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def test_trace_context_in_meta_is_read_first() -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    found = tracing.extract({"traceparent": other}, {"traceparent": PARENT, "tracestate": "a=b"})
    assert ids(found) == (TRACE, SPAN)
    assert trace.get_current_span(found).get_span_context().trace_state.get("a") == "b"  # type: ignore[arg-type]


def test_the_http_header_is_read_when_meta_has_none() -> None:
    assert ids(tracing.extract({"traceparent": PARENT}, {"progressToken": 1})) == (TRACE, SPAN)


@pytest.mark.parametrize(
    "meta", [{"traceparent": 42}, {"traceparent": "00-zz-yy-01"}, {"traceparent": f"00-{'0' * 32}-{SPAN}-01"}]
)
def test_malformed_trace_context_is_no_context(meta: dict[str, object]) -> None:
    assert tracing.extract(None, meta) is None


def test_while_tracing_is_off_nothing_is_read_or_written_and_spans_are_one_shared_no_op() -> None:
    assert not tracing.enabled()
    assert tracing.incoming({"traceparent": PARENT}, None) is None
    carrier: dict[str, str] = {}
    tracing.outgoing(carrier)
    assert carrier == {}
    assert tracing.span("a") is tracing.span("b", {"k": 1})


def test_search_attributes_carry_names_and_fused_scores_but_the_query_only_when_asked() -> None:
    shown = [("a", 0.91234567), ("b", 0.5)]
    attributes = tracing.search_attributes(shown, limit=8, categories=[])
    assert attributes == {
        "toolmesh.search.result_count": 2,
        "toolmesh.search.tools": ["a", "b"],
        "toolmesh.search.scores": [0.912346, 0.5],
        "toolmesh.search.limit": 8,
    }
    asked = tracing.search_attributes(shown, limit=8, categories=["pm"], query="plan a trip")
    assert (asked["toolmesh.search.query"], asked["toolmesh.search.categories"]) == ("plan a trip", ["pm"])


def test_upstream_request_attributes_never_hold_the_url_path_or_query() -> None:
    url = "https://api.example.com:8443/v1/users/ada/tokens?api_key=s3cr3t"
    attributes = tracing.http_client_attributes("get", url, "/users/{user}/tokens")
    assert attributes == {
        "http.request.method": "GET",
        "url.scheme": "https",
        "server.address": "api.example.com",
        "server.port": 8443,
        "url.template": "/users/{user}/tokens",
    }
    assert "s3cr3t" not in repr(attributes)
    assert tracing.http_span_name("get", "/users/{user}/tokens") == "GET /users/{user}/tokens"
    assert tracing.http_span_name("post", None) == "POST"


def test_the_hop_to_a_category_server_names_method_tool_and_address() -> None:
    attributes = tracing.mcp_client_attributes("tools/call", "tasks__getTask", "http://pm.toolmesh:8080/mcp")
    assert attributes == {
        "url.scheme": "http",
        "server.address": "pm.toolmesh",
        "server.port": 8080,
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "tasks__getTask",
    }
