"""Prometheus metrics at ``/metrics``: operations by action and outcome, their latency, and
open subscriptions. Each app has a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..service import OperationRecord

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.operations = Counter(
            "session_runtime_operations",
            "Operations by action and outcome (ok, or the error code).",
            ("action", "outcome"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "session_runtime_operation_seconds",
            "How long operations took, by action.",
            ("action",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.subscriptions = Gauge(
            "session_runtime_subscriptions_open",
            "Open subscriptions, by transport.",
            ("transport",),
            registry=self.registry,
        )
        self._counters: dict[tuple[str, str], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def observe(self, record: OperationRecord) -> None:
        """A service observer: count and time every operation."""
        key = (record.action, record.outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.operations.labels(*key)
        counter.inc()
        histogram = self._histograms.get(record.action)
        if histogram is None:
            histogram = self._histograms[record.action] = self.latency.labels(record.action)
        histogram.observe(record.seconds)

    def subscriptions_opened(self, transport: str) -> None:
        self.subscriptions.labels(transport).inc()

    def subscriptions_closed(self, transport: str) -> None:
        self.subscriptions.labels(transport).dec()

    def render(self) -> bytes:
        return generate_latest(self.registry)
