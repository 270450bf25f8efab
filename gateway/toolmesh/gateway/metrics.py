"""Prometheus metrics of the gateway, in a registry of its own (one per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.searches = Counter(
            "toolmesh_gateway_searches_total", "search_tools calls, by whether anything was found.", ["found"],
            registry=self.registry,
        )  # fmt: skip
        self.followups = Counter(
            "toolmesh_gateway_search_followups_total",
            "With TOOLMESH_LEARNING on: tool calls that answered a search that showed them, by outcome (ok, error); how often searches lead to a call.",
            ["outcome"],
            registry=self.registry,
        )
        self.calls = Counter(
            "toolmesh_gateway_tool_calls_total",
            "Forwarded tool calls by category and outcome (ok, error, unavailable, unknown_tool, needs_credentials).",
            ["category", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "toolmesh_gateway_tool_call_seconds",
            "Forwarded tool call latency, category wake-up included.",
            ["category"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.connect_retries = Counter(
            "toolmesh_gateway_category_connect_retries_total",
            "Connections to a category server tried again because they could not be established (refused: its Service not yet routing to a pod just woken, or a rollout), by category.",
            ["category"],
            registry=self.registry,
        )
        self.running = Gauge(
            "toolmesh_gateway_categories_running",
            "Category servers running (local mode).",
            registry=self.registry,
        )
        self.oauth = Counter(
            "toolmesh_gateway_oauth_total",
            "Brokered upstream sign-ins by integration and event (connected, refreshed, refresh_refused, disconnected).",
            ["integration", "event"],
            registry=self.registry,
        )
        self.tools = Gauge("toolmesh_gateway_tools", "Tools in the index.", registry=self.registry)
        self.digest_mismatches = Gauge(
            "toolmesh_gateway_spec_digest_mismatches",
            "Integrations the gateway compiled to another digest than their status.specDigest (the operator's): they run different compiler versions (cluster mode).",
            registry=self.registry,
        )
