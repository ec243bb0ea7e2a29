"""Monitoring over a workspace: collected data with feature names, drift, dashboards."""

from __future__ import annotations

from typing import Any

from ..registry.models import ModelRegistry
from ..workspace import Workspace
from . import data as collected
from .dashboard import Dashboard, build_figure
from .drift import PSI_THRESHOLD, drift


def _baselines(ws: Workspace, records: list[dict[str, Any]]) -> dict[tuple[str, Any], dict[str, Any]]:
    reg, out = ModelRegistry(ws), {}
    for key in {(r.get("model"), r.get("model_version")) for r in records}:
        if key[0] is None or key[1] is None:
            continue
        try:
            baseline = reg.baseline(key[0], key[1])
        except Exception:  # noqa: BLE001 - a model deleted since: no names, no drift
            continue
        if baseline:
            out[key] = baseline
    return out


def collected_data(ws: Workspace, deployment: str, start: Any = None, end: Any = None, model: str | None = None,
                   collector: str = "request") -> Any:
    records = collected.read_records(ws, deployment, start, end, model, collector)
    if collector != "request":
        import pandas as pd

        return pd.DataFrame(records)
    names = {k: b["features"] for k, b in _baselines(ws, records).items()}
    return collected.to_frame(records, names)


def dashboard(ws: Workspace, deployment: str, since: Any = "1h", threshold: float = PSI_THRESHOLD,
              cache: dict[str, Any] | None = None) -> Dashboard:
    """``cache``: see :func:`~.data.read_records` (the live dashboard passes one)."""
    start = collected.parse_since(since) if since is not None else None
    records = collected.read_records(ws, deployment, start, cache=cache)
    baselines = _baselines(ws, records)
    frame = collected.to_frame(records, {k: b["features"] for k, b in baselines.items()})
    report = None
    if baselines and not frame.empty:
        import pandas as pd

        parts = []
        def order(key: tuple[Any, Any]) -> tuple[str, int]:
            return str(key[0]), int(key[1]) if str(key[1]).isdigit() else -1

        for (model, version), baseline in sorted(baselines.items(), key=lambda kv: order(kv[0])):
            rows = frame[(frame["model"] == model) & (frame["model_version"] == version) & (frame["status"] == 200)]
            part = drift(baseline, rows, threshold)
            part.insert(0, "model", f"{model}:{version}")
            parts.append(part)
        report = pd.concat(parts, ignore_index=True) if parts else None
    return Dashboard(deployment, frame, report, build_figure(deployment, frame, report, threshold), threshold)
