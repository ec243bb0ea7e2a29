"""Monitoring over a workspace: collected data with feature names, drift, dashboards.

A name is monitored while its deployment exists (no data yet: an empty frame, an empty dashboard)
and after it was removed for as long as its collected data stays in the artifact store: records
outlive their deployment, so a deleted service can still be analysed. A name that is neither a
deployment nor has data is a NotFoundError, not an empty dashboard.
"""

from __future__ import annotations

from typing import Any

from ..deployments.service import DeploymentService
from ..errors import NotFoundError
from ..registry.models import ModelRegistry
from ..workspace import Workspace
from . import data as collected
from .dashboard import Dashboard, build_comparison, build_figure, pd_concat
from .drift import PSI_THRESHOLD, drift


def _baselines(ws: Workspace, records: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    reg, out = ModelRegistry(ws), {}
    for key in {(r.get("model"), r.get("model_version")) for r in records}:
        if key[0] is None or key[1] is None:
            continue
        try:
            baseline = reg.baseline(key[0], key[1])
        except Exception:
            continue
        if baseline:
            out[key] = baseline
    return out


def _require(ws: Workspace, deployment: str) -> None:
    if not DeploymentService(ws).exists(deployment) and not collected.has_records(ws, deployment):
        raise NotFoundError(f"Deployment {deployment!r} does not exist, and nothing was collected under that name.")


def collected_data(ws: Workspace, deployment: str, start: Any = None, end: Any = None, model: str | None = None,
                   collector: str = "request") -> Any:
    _require(ws, deployment)
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
    _require(ws, deployment)
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


def compare(ws: Workspace, endpoint: str, deployments: list[str], since: Any = "1h",
            threshold: float = PSI_THRESHOLD) -> Dashboard:
    """An endpoint's deployments side by side; ``data`` has a ``deployment`` column."""
    start = collected.parse_since(since) if since is not None else None
    frames = {}
    for name in deployments:
        records = collected.read_records(ws, name, start)
        frame = collected.to_frame(records, {k: b["features"] for k, b in _baselines(ws, records).items()})
        frames[name] = frame.assign(deployment=name) if len(frame) else frame
    present = [f for f in frames.values() if len(f)]
    data = pd_concat(present) if present else next(iter(frames.values()), None)
    if data is not None and present:
        data.attrs["outputs"] = list(dict.fromkeys(o for f in present for o in f.attrs.get("outputs", [])))
    return Dashboard(endpoint, data, None, build_comparison(endpoint, frames), threshold)
