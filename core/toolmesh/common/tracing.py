"""OpenTelemetry traces: off unless OTLP export is configured, W3C trace context in and out.

Every process (gateway, category server) calls :func:`setup` once at start-up. Without
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_TRACES_EXPORTER=otlp``) nothing is installed: the
global tracer stays the API's no-op one, :func:`span` hands back one shared no-op context manager,
and no trace context is read or passed on, so tracing off costs a flag test per span
(docs/design/0015-tracing.md). With it, spans go to the collector over OTLP/HTTP (protobuf) in
batches, from a thread of the SDK's own; the SDK reads the rest of the standard variables itself
(endpoint, headers, timeout, ``OTEL_TRACES_SAMPLER``, ``OTEL_RESOURCE_ATTRIBUTES``).

Trace context arrives in a request's ``_meta`` (``traceparent``/``tracestate``, SEP-414, what the
MCP SDK's client sends) or its HTTP headers, and leaves in both on the gateway's hop to a category
server and in the headers of upstream requests. Only W3C trace context travels: baggage, which a
caller could fill with anything, is not passed on to third parties.

Span attributes never carry arguments, results, credentials, URLs with their query, or the text of
a search (unless the gateway's ``TOOLMESH_TRACE_QUERY_TEXT`` says so).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "toolmesh"
#: Each process's ``service.name`` unless ``OTEL_SERVICE_NAME`` says otherwise.
GATEWAY, CATEGORY = "toolmesh-gateway", "toolmesh-category"
#: The W3C trace-context keys, in HTTP headers and in MCP ``_meta`` alike.
TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
PROTOCOL = "http/protobuf"
#: The standard variables that decide whether and where a process exports (the SDK reads more).
VARIABLES = frozenset({
    "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME",
})  # fmt: skip

_W3C = TraceContextTextMapPropagator()
_NOOP: contextlib.nullcontext[trace.Span] = contextlib.nullcontext(trace.INVALID_SPAN)
_on = False


class TracingSettingsError(ValueError):
    """An ``OTEL_*`` variable asks for something toolmesh does not do; the message names it."""


@dataclass(frozen=True)
class Export:
    """Where this process's spans go: the SDK's exporter reads the endpoint from the environment."""

    service_name: str


def export_from(environ: Mapping[str, str], default_service: str) -> Export | None:
    """What the standard variables ask for: None (no tracing) unless an OTLP endpoint or the otlp
    exporter is named; ``OTEL_SDK_DISABLED=true`` and ``OTEL_TRACES_EXPORTER=none`` turn it off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if exporter == "none" or (not exporter and not endpoint):
        return None
    if exporter not in ("", "otlp"):
        raise TracingSettingsError(
            f"OTEL_TRACES_EXPORTER={exporter!r}: toolmesh exports traces over otlp (or none)"
        )
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or PROTOCOL
    )
    if protocol.strip().lower() != PROTOCOL:
        raise TracingSettingsError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: toolmesh sends OTLP over {PROTOCOL} "
            "(the collector's port 4318)"
        )
    return Export(service_name=environ.get("OTEL_SERVICE_NAME", "").strip() or default_service)


def setup(
    default_service: str, environ: Mapping[str, str] | None = None, resource: Mapping[str, str] | None = None
) -> bool:
    """Install the SDK's tracer provider with an OTLP exporter when the environment asks for it
    (see :func:`export_from`); True when tracing is on. ``resource``: attributes that describe this
    process besides its service name. The provider flushes its last spans at exit."""
    global _on
    export = export_from(os.environ if environ is None else environ, default_service)
    if export is None:
        return False
    # Imported only here: a process that does not trace never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {**(resource or {}), "service.name": export.service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _on = True
    return True


def enabled() -> bool:
    return _on


def incoming(headers: Mapping[str, str] | None, meta: Mapping[str, Any] | None) -> Context | None:
    """The caller's trace context: the request's ``_meta`` first (the MCP SDK's client puts it
    there), else its HTTP headers; None when tracing is off or neither carries a valid one."""
    if not _on:
        return None
    return extract(headers, meta)


def extract(headers: Mapping[str, str] | None, meta: Mapping[str, Any] | None) -> Context | None:
    """W3C trace context from ``meta``, else from ``headers``; None when neither has a valid one."""
    for carrier in (meta, headers):
        if not carrier or not isinstance(carrier.get(TRACEPARENT), str):
            continue
        fields = {k: v for k in (TRACEPARENT, TRACESTATE) if isinstance(v := carrier.get(k), str)}
        found = _W3C.extract(fields)
        if trace.get_current_span(found).get_span_context().is_valid:
            return found
    return None


def outgoing(carrier: dict[str, Any]) -> None:
    """Put the current trace context (``traceparent``, ``tracestate``) into ``carrier``: the headers
    or ``_meta`` of a request about to leave; nothing when tracing is off."""
    if _on:
        _W3C.inject(carrier)


@contextlib.contextmanager
def attached(found: Context | None) -> Iterator[None]:
    """``found`` as the current context while the block runs (nothing when None)."""
    if found is None:
        yield
        return
    token = otel_context.attach(found)
    try:
        yield
    finally:
        otel_context.detach(token)


def span(
    name: str, attributes: Mapping[str, Any] | None = None, kind: SpanKind = SpanKind.INTERNAL
) -> contextlib.AbstractContextManager[trace.Span]:
    """A span around the block, child of the current one; the shared no-op when tracing is off.

    An exception marks the span failed with its type only (``error.type``): messages can hold
    what a span must not (a Vault path, a caller's input)."""
    if not _on:
        return _NOOP
    return _recorded(name, attributes, kind)


@contextlib.contextmanager
def _recorded(name: str, attributes: Mapping[str, Any] | None, kind: SpanKind) -> Iterator[trace.Span]:
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            failed(current, type(exc).__qualname__)
            raise


def outcome(value: str, attributes: Mapping[str, str] | None = None) -> None:
    """The current span's ``toolmesh.outcome`` (``ok``, or a short word: it fails unless ``ok``),
    and ``attributes`` besides."""
    if _on:
        current = trace.get_current_span()
        current.set_attributes({**(attributes or {}), "toolmesh.outcome": value})
        if value != "ok":
            failed(current, value)


def failed(current: trace.Span, kind: str) -> None:
    """Mark ``current`` failed, with ``kind`` (a short, fixed word or type name) as its error type."""
    current.set_attribute("error.type", kind)
    current.set_status(Status(StatusCode.ERROR))


# -- attributes (pure) ---------------------------------------------------------------------------


def search_attributes(
    shown: Sequence[tuple[str, float]], *, limit: int, categories: Sequence[str], query: str | None = None
) -> dict[str, Any]:
    """A search span's attributes: how many tools it showed, their names and fused scores (best
    first), the limit and category filter; the query's text only when passed (a setting)."""
    out: dict[str, Any] = {
        "toolmesh.search.result_count": len(shown),
        "toolmesh.search.tools": [name for name, _ in shown],
        "toolmesh.search.scores": [round(float(score), 6) for _, score in shown],
        "toolmesh.search.limit": limit,
    }
    if categories:
        out["toolmesh.search.categories"] = list(categories)
    if query is not None:
        out["toolmesh.search.query"] = query
    return out


def server_call_attributes(tool: str) -> dict[str, str]:
    """A served ``tools/call``'s attributes, as the MCP SDK's server sets them."""
    return {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
    }


def mcp_client_attributes(method: str, tool: str | None, url: str) -> dict[str, Any]:
    """An MCP request to a category server: the method, the tool, where it goes (no query string)."""
    out = {**http_client_attributes("POST", url, None), "mcp.method.name": method}
    del out["http.request.method"]
    if tool is not None:
        out["gen_ai.tool.name"] = tool
    return out


def call_attributes(tool: str, category: str, integration: str) -> dict[str, str]:
    """A forwarded call's attributes (its outcome is set when known: ``toolmesh.outcome``)."""
    return {"gen_ai.tool.name": tool, "toolmesh.category": category, "toolmesh.integration": integration}


def http_client_attributes(method: str, url: str, template: str | None) -> dict[str, Any]:
    """An upstream request's attributes (OpenTelemetry HTTP client conventions) before it is sent:
    the method, scheme, host and port, and the operation's path template; never the full URL, whose
    path and query can hold identifiers and credentials."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    out: dict[str, Any] = {
        "http.request.method": method.upper(),
        "url.scheme": parts.scheme,
        "server.address": parts.hostname or "",
    }
    if port is not None:
        out["server.port"] = port
    if template is not None:
        out["url.template"] = template
    return out


def http_span_name(method: str, template: str | None) -> str:
    """``{method} {url.template}``, or the method alone without a template (HTTP span conventions)."""
    return f"{method.upper()} {template}" if template else method.upper()
