"""Prometheus metrics, counted in plain Python on the hot path and shared between workers.

prometheus_client's multiprocess mode writes an mmap'd file under a lock on every update,
which cost ~15% of a worker's throughput here. Instead each worker counts in dicts, publishes a
snapshot file every ``PUBLISH_S`` seconds into ``$MLOPS_METRICS_DIR`` (set by the supervisor),
and ``/metrics`` adds the other workers' latest snapshots to its own live counts. Other workers'
figures are therefore up to ``PUBLISH_S`` old, as any scrape-based metric is. The worker answering
a scrape publishes its own snapshot first: else a scrape answered by it, then one answered by
another worker (which reads its snapshot from before those counts), would count less than the one
before, and to Prometheus a counter that drops has restarted from zero (its rate() spikes).
Exposition uses prometheus_client's metric families, so the text format is the library's.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DIR_ENV = "MLOPS_METRICS_DIR"
PUBLISH_S = 0.25
STALE_S = 5.0  # a snapshot older than this belongs to a dead worker: its gauge no longer counts


class Metrics:
    def __init__(self, directory: str | None = None) -> None:
        self.dir = Path(directory) if directory else (Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else None)
        self.requests: dict[tuple[str, int], int] = {}  # (route, status) -> count
        self.latency: dict[str, list[float]] = {}  # route -> per-bucket counts, +Inf count, sum
        self.batches: dict[str, list[float]] = {}  # model -> likewise
        self.in_flight = 0
        self.collector: Any = None  # a DataCollector when this worker collects

    # --- hot path -------------------------------------------------------------------------
    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        _observe(self.latency, route, LATENCY_BUCKETS, seconds)

    def observe_batch(self, model: str, rows: int) -> None:
        _observe(self.batches, model, BATCH_BUCKETS, rows)

    # --- sharing between workers ------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"time": time.time(), "requests": {f"{r}\t{s}": n for (r, s), n in self.requests.items()},
                "latency": {k: list(v) for k, v in self.latency.items()},
                "batches": {k: list(v) for k, v in self.batches.items()}, "in_flight": self.in_flight,
                "collect": _collect_counts(self.collector)}

    def publish(self) -> None:
        if self.dir is not None:
            self._write(self.snapshot())

    def _write(self, snapshot: dict[str, Any]) -> None:
        assert self.dir is not None
        path = self.dir / f"worker-{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot))
        os.replace(tmp, path)

    async def publish_forever(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_S)
            self.publish()

    def _all_snapshots(self) -> Iterator[dict[str, Any]]:
        snapshot = self.snapshot()
        yield snapshot
        if self.dir is None:
            return
        self._write(snapshot)  # what this scrape counts of ours, the next scrape on another worker counts too
        mine = f"worker-{os.getpid()}.json"
        for path in self.dir.glob("worker-*.json"):
            if path.name != mine:
                try:
                    yield json.loads(path.read_text())
                except (OSError, ValueError):
                    continue

    # --- exposition ------------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from prometheus_client.core import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(list(self._all_snapshots())))
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _collect_counts(collector: Any) -> dict[str, float]:
    if collector is None:
        return {}
    return {"records": collector.collected, "dropped": collector.dropped, "uploaded": collector.uploaded,
            "spool_bytes": collector.spool_bytes}


def _observe(hists: dict[str, list[float]], key: str, bounds: tuple[float, ...], value: float) -> None:
    h = hists.get(key)
    if h is None:
        h = hists[key] = [0.0] * (len(bounds) + 2)
    h[bisect_left(bounds, value)] += 1
    h[-1] += value


class _Collector:
    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        requests = CounterMetricFamily("mlops_requests", "Requests by route and status.", labels=["route", "status"])
        totals: dict[str, float] = {}
        for snap in self.snapshots:
            for key, n in snap["requests"].items():
                totals[key] = totals.get(key, 0) + n
        for key, n in sorted(totals.items()):
            requests.add_metric(key.split("\t"), n)
        yield requests
        yield _histogram("mlops_request_duration_seconds", "Request latency by route.", "route",
                         LATENCY_BUCKETS, [s["latency"] for s in self.snapshots])
        yield _histogram("mlops_batch_size", "Rows per model run when batching.", "model",
                         BATCH_BUCKETS, [s["batches"] for s in self.snapshots])
        now = time.time()
        live = sum(s["in_flight"] for s in self.snapshots if now - s["time"] < STALE_S)
        yield GaugeMetricFamily("mlops_requests_in_flight", "Requests being served.", value=live)
        collect = [s.get("collect") or {} for s in self.snapshots]
        if any(collect):
            def total(key: str) -> int:
                return sum(int(c.get(key, 0)) for c in collect)

            yield CounterMetricFamily(
                "mlops_collect_records", "Records collected (counted as the spool's segments are sealed, about every "
                "second).", value=total("records"))
            yield CounterMetricFamily("mlops_collect_uploaded", "Records written to the store.",
                                      value=total("uploaded"))
            yield CounterMetricFamily("mlops_collect_dropped", "Records dropped: spool over its bound.",
                                      value=total("dropped"))
            yield GaugeMetricFamily("mlops_collect_spool_bytes", "Bytes waiting in the spool.",
                                    value=total("spool_bytes"))


def _histogram(name: str, doc: str, label: str, bounds: tuple[float, ...], parts: list[dict[str, list[float]]]) -> Any:
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, doc, labels=[label])
    merged: dict[str, list[float]] = {}
    for part in parts:
        for key, h in part.items():
            acc = merged.setdefault(key, [0.0] * len(h))
            for i, v in enumerate(h):
                acc[i] += v
    for key, h in sorted(merged.items()):
        cumulative, buckets = 0.0, []
        for bound, count in zip((*[str(b) for b in bounds], "+Inf"), h[:-1]):
            cumulative += count
            buckets.append((bound, cumulative))
        family.add_metric([key], buckets, sum_value=h[-1])
    return family
