"""A real OpenTelemetry Collector on loopback, for tests that check what toolmesh's processes trace.

The collector is the core distribution's own code (``hack/otelcol-binary.sh`` builds it from the Go
module proxy, cached outside the clone): its OTLP receiver takes the spans the processes export
over OTLP/HTTP, and its OTLP/HTTP exporter passes them on, JSON-encoded, to a small sink in this
process, which keeps them for the test to read (:meth:`LocalCollector.spans`). What a test sees is
therefore what a collector accepted and forwarded, as a tracing backend would receive it.

    with LocalCollector() as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        ...
        spans = collector.wait_for_spans(trace_id, lambda spans: len(spans) >= 5)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from toolmesh.testing.cluster import REPO, free_port

VERSION = "0.165.0"
BUILD_SCRIPT = REPO / "hack" / "otelcol-binary.sh"

CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{receiver}
exporters:
  otlphttp:
    traces_endpoint: http://127.0.0.1:{sink}/v1/traces
    encoding: json
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
"""


def binary() -> Path:
    """The collector binary (built once, then cached); ``TOOLMESH_OTELCOL_BIN`` names another."""
    if override := os.environ.get("TOOLMESH_OTELCOL_BIN"):
        return Path(override)
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env={**os.environ, "OTELCOL_VERSION": VERSION},
    )
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Span:
    """One span as the collector exported it, with its process's ``service.name``."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    failed: bool


def _value(value: dict[str, Any]) -> Any:
    """An OTLP JSON ``AnyValue`` as Python (int64s travel as strings)."""
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    if "intValue" in value:
        return int(value["intValue"])
    for key in ("stringValue", "doubleValue", "boolValue"):
        if key in value:
            return value[key]
    return None


KINDS = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}
SERVER, CLIENT = 2, 3


def _kind(kind: Any) -> int:
    """A span's kind as OTLP's number (JSON may carry the number or the enum's name)."""
    return int(kind) if isinstance(kind, int) or str(kind).isdigit() else KINDS.get(str(kind), 0)


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


def spans_of(export: dict[str, Any]) -> list[Span]:
    """The spans of one OTLP JSON ``ExportTraceServiceRequest``."""
    out = []
    for resource_spans in export.get("resourceSpans", []):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
        for scope in resource_spans.get("scopeSpans", []):
            for raw in scope.get("spans", []):
                out.append(
                    Span(
                        service=str(resource.get("service.name", "")),
                        trace_id=raw["traceId"].lower(),
                        span_id=raw["spanId"].lower(),
                        parent_id=raw.get("parentSpanId", "").lower(),
                        name=raw["name"],
                        kind=_kind(raw.get("kind", 0)),
                        attributes=_attributes(raw.get("attributes", [])),
                        failed=raw.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"),
                    )
                )
    return out


class _Sink(BaseHTTPRequestHandler):
    received: list[Span]
    lock: threading.Lock

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.received.extend(spans_of(json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return None


class LocalCollector:
    """The collector and its sink, started on entry and stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.receiver_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.receiver_port}"
        self._received: list[Span] = []
        self._lock = threading.Lock()
        handler = type("Sink", (_Sink,), {"received": self._received, "lock": self._lock})
        self._sink = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalCollector:
        threading.Thread(target=self._sink.serve_forever, name="otlp-sink", daemon=True).start()
        config = self.workdir / "otelcol.yaml"
        config.write_text(CONFIG.format(receiver=self.receiver_port, sink=self._sink.server_address[1]))
        self.log = (self.workdir / "otelcol.log").open("wb")
        self._process = subprocess.Popen(
            [str(binary()), "--config", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the collector exited: {(self.workdir / 'otelcol.log').read_text()[-2000:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.receiver_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the collector did not listen within 30 s")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.log.close()
        self._sink.shutdown()
        self._sink.server_close()

    def spans(self, trace_id: str | None = None) -> list[Span]:
        """Every span received so far (of ``trace_id``, hex, when given)."""
        with self._lock:
            return [s for s in self._received if trace_id is None or s.trace_id == trace_id.lower()]

    def wait_for_spans(
        self, trace_id: str, enough: Callable[[list[Span]], bool], timeout: float = 15.0
    ) -> list[Span]:
        """The trace's spans once ``enough`` says so (the processes export in batches), or what
        arrived within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.spans(trace_id)
            if enough(found):
                return found
            time.sleep(0.05)
        return self.spans(trace_id)
