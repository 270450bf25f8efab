"""Prometheus metrics of the gateway, in a registry of its own (one per app).

Labels are bounded by the catalogue: ``category`` and ``integration`` (tens to hundreds), never the
tool (thousands of tools, times outcomes and histogram buckets, on every replica). Per-tool series are the
category server's (``toolmesh_category_*``), where each pod serves only its own category's tools.
docs/operations/monitoring.md lists every metric and the questions it answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class CategoryState(NamedTuple):
    """A category as the gateway sees it: serving (a ready pod, a running process), and down (a problem)."""

    awake: bool
    down: bool


class CategoryStates(Collector):
    """``toolmesh_gateway_category_awake`` and ``toolmesh_gateway_category_down``, read at each scrape."""

    def __init__(self) -> None:
        #: Every category known, with its state (set by the service; empty until then).
        self.source: Callable[[], Mapping[str, CategoryState]] = dict

    def collect(self) -> Iterator[Metric]:
        awake = GaugeMetricFamily(
            "toolmesh_gateway_category_awake",
            "1 when the category has a ready pod (cluster mode) or a running process (local mode), 0 when it is asleep (scaled to zero).",
            labels=["category"],
        )
        down = GaugeMetricFamily(
            "toolmesh_gateway_category_down",
            "1 when the category is down as the gateway sees it (the operator reports it not Available, or its last wake failed), else 0.",
            labels=["category"],
        )
        for category, state in sorted(self.source().items()):
            awake.add_metric([category], 1.0 if state.awake else 0.0)
            down.add_metric([category], 1.0 if state.down else 0.0)
        yield awake
        yield down


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.searches = Counter(
            "toolmesh_gateway_searches_total", "search_tools calls, by whether anything was found.", ["found"],
            registry=self.registry,
        )  # fmt: skip
        self.search_latency = Histogram(
            "toolmesh_gateway_search_seconds",
            "search_tools latency: ranking, prerequisites, access filter and token budget (the query's embedding included).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.followups = Counter(
            "toolmesh_gateway_search_followups_total",
            "With TOOLMESH_LEARNING on: tool calls that answered a search that showed them, by outcome (ok, error); how often searches lead to a call.",
            ["outcome"],
            registry=self.registry,
        )
        self.calls = Counter(
            "toolmesh_gateway_tool_calls_total",
            "Tool calls by category, integration and outcome (ok, error, unavailable, unknown_tool, needs_credentials, rate_limited, circuit_open; input_required: a round that asked the agent for input).",
            ["category", "integration", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "toolmesh_gateway_tool_call_seconds",
            "Forwarded tool call latency, category wake-up included.",
            ["category", "integration"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.limited = Counter(
            "toolmesh_gateway_rate_limited_total",
            "Calls refused by a rate limit (not forwarded), by integration and limit (caller, callerTool, integration, integrationCaller).",
            ["integration", "limit"],
            registry=self.registry,
        )
        self.limits_store_errors = Counter(
            "toolmesh_gateway_rate_limit_store_errors_total",
            "Calls whose rate limits could not be counted in Redis (unreachable, slow): this replica counted them alone.",
            registry=self.registry,
        )
        self.circuit_state = Gauge(
            "toolmesh_gateway_circuit_state",
            "An integration's circuit breaker on this replica: 0 closed, 1 half-open (a trial call), 2 open (calls fail fast). Absent: closed, never opened.",
            ["integration"],
            registry=self.registry,
        )
        self.circuit_transitions = Counter(
            "toolmesh_gateway_circuit_transitions_total",
            "Changes of an integration's circuit breaker on this replica, by the state entered (open, half_open, closed).",
            ["integration", "state"],
            registry=self.registry,
        )
        self.wakes = Counter(
            "toolmesh_gateway_category_wakes_total",
            "Categories woken from zero for a call (a process started in local mode; a demand Lease renewed and a ready pod awaited in cluster mode), by category and outcome (ok, failed).",
            ["category", "outcome"],
            registry=self.registry,
        )
        self.wake_latency = Histogram(
            "toolmesh_gateway_category_wake_seconds",
            "Time from a call finding its category asleep to the category serving (a failed wake counts its whole wait).",
            ["category"],
            buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 15, 20, 30, 60, 120),
            registry=self.registry,
        )
        self.category_states = CategoryStates()
        self.registry.register(self.category_states)
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
