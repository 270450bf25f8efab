"""Prometheus metrics of a category server, in a registry of its own (one per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.calls = Counter(
            "toolmesh_category_tool_calls_total",
            "Tool calls by integration, tool and outcome (ok, upstream_error, invalid_arguments, unavailable, unknown_tool).",
            ["integration", "tool", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "toolmesh_category_tool_call_seconds",
            "Tool call latency, upstream included.",
            ["integration", "tool"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.integration_ready = Gauge(
            "toolmesh_category_integration_ready", "1 when the integration is served, 0 when it failed to load.",
            ["integration"], registry=self.registry,
        )  # fmt: skip
        self.integration_tools = Gauge(
            "toolmesh_category_integration_tools",
            "Tools served per integration.",
            ["integration"],
            registry=self.registry,
        )
        self.spec_digest_mismatch = Gauge(
            "toolmesh_category_spec_digest_mismatch",
            "1 when the integration's compiled digest differs from its status.specDigest (the tools served "
            "are not the ones the operator recorded), else 0.",
            ["integration"],
            registry=self.registry,
        )
        self.spec_refreshes = Counter(
            "toolmesh_category_spec_refreshes_total",
            "Documents at spec.openapi.spec.url fetched again, by integration and outcome (not_modified: "
            "answered 304; unchanged: the same digest; recompiled: a new document served; failed: not "
            "fetched or not compiled, the last good one served).",
            ["integration", "outcome"],
            registry=self.registry,
        )
