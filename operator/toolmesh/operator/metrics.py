"""Prometheus metrics of the operator, read at each scrape from what it already knows.

The operator keeps every MCPIntegration as last seen (``Operator.integrations``: watch events and
its own status writes); the Ready gauge is that index, so it needs no bookkeeping of its own and
an integration deleted is gone from the next scrape. ``handlers`` serves the registry on
``TOOLMESH_OPERATOR_METRICS_PORT`` (the chart's ``metrics`` port).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from toolmesh.api import conditions
from toolmesh.api.base import ConditionStatus
from toolmesh.operator import observed

#: The reason of an integration whose current generation the operator has not validated yet.
PENDING = "Pending"


class IntegrationStates(Collector):
    """``toolmesh_operator_integration_ready{namespace, integration, category, reason}``."""

    def __init__(self, source: Callable[[], Mapping[observed.Key, observed.Seen]]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "toolmesh_operator_integration_ready",
            "1 when the MCPIntegration's Ready condition is True for its current generation, else 0; "
            "reason is the Ready condition's reason (Pending: not validated yet).",
            labels=["namespace", "integration", "category", "reason"],
        )
        for (namespace, name), seen in sorted(self.source().items()):
            found = conditions.find(seen.status.conditions, conditions.READY) if seen.status else None
            current = found is not None and seen.current
            reason = found.reason if found is not None and current else PENDING
            up = current and found is not None and found.status == ConditionStatus.TRUE
            ready.add_metric([namespace, name, seen.category, reason], 1.0 if up else 0.0)
        yield ready


def registry(source: Callable[[], Mapping[observed.Key, observed.Seen]]) -> CollectorRegistry:
    """A registry of the operator's metrics over ``source`` (the operator's index of integrations)."""
    out = CollectorRegistry()
    out.register(IntegrationStates(source))
    return out
