"""Prometheus metrics, one registry per app so several apps (tests) never share counters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# GET /v1/quality's figures exported as gauges (proposal_router_quality_<name>); a figure not yet known
# (no audit so far) is left out rather than sent as 0.
QUALITY_GAUGES = {
    "auto_routed": "proposals routed automatically",
    "audited": "audits (抽查) of the served model since the last resume or model load",
    "audit_correct": "audits whose lead the reviewer kept",
    "audit_precision": "audit_correct / audited",
    "precision_lower_bound": "one-sided 95% Wilson lower bound of the audited precision",
    "target_precision": "the served model's target precision",
    "auto_routing_paused": "1 while the circuit breaker holds automatic routing",
    "reviewer_agreement": "share of reviewed items whose lead the reviewer kept",
    "returns": "proposals returned by their lead department (二次交办)",
    "return_rate": "returns per proposal assigned to a lead department",
}


class QualityCollector(Collector):
    """Reads the quality figures once per scrape."""

    def __init__(self, figures: Callable[[], dict[str, Any]]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self.figures()
        for name, documentation in QUALITY_GAUGES.items():
            value = figures.get(name)
            if value is not None:
                yield GaugeMetricFamily(f"proposal_router_quality_{name}", documentation, value=float(value))
        returns = GaugeMetricFamily(
            "proposal_router_quality_department_returns", "returns by lead department", labels=["department"]
        )
        for row in figures.get("departments", []):
            returns.add_metric([row["department"]], float(row["returns"]))
        yield returns

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # figures come from the database at scrape time, not at registration


class Metrics:
    def __init__(self, queue_size: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "proposal_router_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "proposal_router_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.decisions = Counter(
            "proposal_router_decisions", "routing and review decisions by kind", ["kind"], registry=self.registry
        )
        self.queue = Gauge("proposal_router_review_queue", "proposals waiting for review", registry=self.registry)
        self.queue.set_function(queue_size)

    def watch_quality(self, figures: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(QualityCollector(figures))
