"""Baselines (per-feature summaries of training data, stored with the model version) and drift.

Drift per feature: the population stability index over the baseline's decile bins, and the
Wasserstein-1 distance in baseline standard deviations. PSI above 0.2 is the usual mark of a
significant shift, and the default threshold here. A feature is flagged only when its PSI is over
the threshold *and* a chi-square test of its bin counts against the baseline proportions is
significant (p < ``ALPHA``): on small windows PSI alone is mostly noise (with 40 rows over 10 bins
its expected value is already about 0.2 for data with no shift at all).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError

BINS = 10
SAMPLE = 2000
PSI_THRESHOLD = 0.2
ALPHA = 0.001
_EPS = 1e-4


def _columns(data: Any) -> tuple[list[str], np.ndarray]:
    if hasattr(data, "columns"):  # a DataFrame
        numeric = data.select_dtypes("number")
        return [str(c) for c in numeric.columns], numeric.to_numpy(dtype=float)
    arr = np.asarray(data, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise UsageError(f"Baseline data must be a table (rows x features); got shape {list(arr.shape)}.")
    return [f"x{i}" for i in range(arr.shape[1])], arr


def summarize(data: Any, seed: int = 0) -> dict[str, Any]:
    names, arr = _columns(data)
    if len(arr) < BINS:
        raise UsageError(f"Baseline needs at least {BINS} rows; got {len(arr)}.")
    rng = np.random.default_rng(seed)
    stats = {}
    for name, col in zip(names, arr.T):
        col = col[np.isfinite(col)]
        edges = np.unique(np.quantile(col, np.linspace(0, 1, BINS + 1)))
        counts = np.histogram(col, bins=_open(edges))[0]
        sample = rng.choice(col, size=min(SAMPLE, len(col)), replace=False)
        stats[name] = {"count": int(len(col)), "mean": float(col.mean()), "std": float(col.std()),
                       "min": float(col.min()), "max": float(col.max()), "edges": edges.tolist(),
                       "proportions": (counts / counts.sum()).tolist(), "sample": np.sort(sample).tolist()}
    return {"features": names, "rows": int(len(arr)), "stats": stats}


def _open(edges: np.ndarray) -> np.ndarray:
    inner = edges[1:-1] if len(edges) > 2 else edges[:0]
    return np.concatenate([[-np.inf], inner, [np.inf]])


def psi(stat: dict[str, Any], values: np.ndarray) -> tuple[float, float]:
    """(PSI, chi-square p-value) of ``values`` against the baseline's bins."""
    from scipy.stats import chi2

    edges = _open(np.asarray(stat["edges"]))
    base = np.asarray(stat["proportions"])
    counts = np.histogram(values, bins=edges)[0]
    cur = counts / max(counts.sum(), 1)
    index = float(np.sum((cur + _EPS - base - _EPS) * np.log((cur + _EPS) / (base + _EPS))))
    expected = np.maximum(base * counts.sum(), _EPS)
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return index, float(chi2.sf(statistic, df=max(len(base) - 1, 1)))


def wasserstein(stat: dict[str, Any], values: np.ndarray) -> float:
    """W1 between the baseline sample and ``values``, in baseline standard deviations."""
    q = np.linspace(0, 1, 201)
    distance = np.mean(np.abs(np.quantile(stat["sample"], q) - np.quantile(values, q)))
    return float(distance / (stat["std"] or 1.0))


def drift(baseline: dict[str, Any], frame: Any, threshold: float = PSI_THRESHOLD) -> Any:
    """One row per baseline feature present in ``frame``: psi, wasserstein, drifted."""
    import pandas as pd

    rows = []
    for name in baseline["features"]:
        if name not in getattr(frame, "columns", []):
            continue
        values = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy(dtype=float)
        if len(values) == 0:
            continue
        stat = baseline["stats"][name]
        index, p_value = psi(stat, values)
        rows.append({"feature": name, "psi": index, "p_value": p_value, "wasserstein": wasserstein(stat, values),
                     "baseline_mean": stat["mean"], "current_mean": float(values.mean()),
                     "rows": int(len(values)), "drifted": index > threshold and p_value < ALPHA})
    return pd.DataFrame(rows, columns=["feature", "psi", "p_value", "wasserstein", "baseline_mean", "current_mean",
                                       "rows", "drifted"])
