"""Prometheus metrics. With several worker processes, prometheus_client's multiprocess mode
aggregates them (the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before starting workers)."""

from __future__ import annotations

import os
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        kw: dict[str, Any] = {"registry": None if self.multiprocess else self.registry}
        self.requests = Counter("mlops_requests", "Requests by route and status.", ["route", "status"], **kw)
        self.latency = Histogram(
            "mlops_request_duration_seconds", "Request latency by route.", ["route"], buckets=LATENCY_BUCKETS, **kw
        )
        gauge_kw = dict(kw, multiprocess_mode="livesum") if self.multiprocess else kw
        self.in_flight = Gauge("mlops_requests_in_flight", "Requests being served.", **gauge_kw)
        self.batch_size = Histogram(
            "mlops_batch_size", "Rows per model run when batching.", ["model"], buckets=BATCH_BUCKETS, **kw
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        pair = self._children.get((route, status))
        if pair is None:  # labels() is a dict lookup plus a lock; do it once per (route, status)
            pair = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._children[(route, status)] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
