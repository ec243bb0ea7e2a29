"""Rollout gates: the new version against the current one, on what both collected in one window.

The evidence is the collected request records (not ``/metrics``): they hold each request's status,
latency, inputs and answer, so one source gives the error rate, an exact p99 over the window (the
metrics histogram only has bucket bounds), the predictions of both versions for the same traffic
(mirrored requests carry the same request id to both) and the inputs.

A distribution gate fails only when its PSI is over the limit *and* a chi-square test of the two
binned samples is significant (p < ``ALPHA``), as drift does: on a few dozen requests PSI alone is
mostly noise. The input gate's p-values are adjusted for the number of features it tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..errors import UsageError
from ..monitoring import data as collected
from ..monitoring.dashboard import prediction_column
from ..monitoring.drift import ALPHA, BINS
from ..workspace import Workspace


@dataclass(frozen=True)
class Gates:
    """What the new version must show at every step to go on (all of them)."""

    max_error_rate_increase: float = 0.01  # its error rate at most the current's plus this (0.01: 1 point)
    max_p99_ratio: float = 1.5  # its p99 latency at most the current's times this ...
    p99_slack_ms: float = 20.0  # ... plus this (a few ms are noise on a busy machine)
    max_prediction_psi: float = 0.2  # PSI of its predictions against the current's, same traffic
    max_input_psi: float = 0.2  # PSI of any input feature against its model's baseline (or the current's inputs)
    min_requests: int = 30  # answers it must have given in the window; fewer is not evidence

    @classmethod
    def of(cls, given: Gates | dict[str, Any] | None) -> Gates:
        if given is None or isinstance(given, Gates):
            return given or cls()
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(given) - known)
        if unknown:
            raise UsageError(f"Unknown gate {unknown[0]!r}; gates are: {', '.join(sorted(known))}.")
        for key, value in given.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise UsageError(f"Invalid gate {key}={value!r}: a number, at least 0.")
        return cls(**given)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """What one deployment collected in the window."""

    requests: int = 0
    errors: int = 0
    p99_ms: float | None = None
    predictions: list[float] = field(default_factory=list)
    inputs: Any = None  # DataFrame of input features (successful requests)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def figures(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "error_rate": round(self.error_rate, 4),
                "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 2)}


def evidence(ws: Workspace, deployment: str, start: float, end: float) -> Evidence:
    records = collected.read_records(ws, deployment, datetime.fromtimestamp(start, timezone.utc),
                                     datetime.fromtimestamp(end, timezone.utc))
    if not records:
        return Evidence()
    frame = collected.to_frame(records)
    per_request = frame.drop_duplicates("request_id")
    ok = frame[frame["status"] == 200]
    pred = prediction_column(ok, frame.attrs.get("outputs", []))
    features = [c for c in frame.attrs.get("features", []) if c in ok]
    return Evidence(requests=len(per_request), errors=int((per_request["status"] >= 500).sum()),
                    p99_ms=float(np.quantile(per_request["latency_ms"].astype(float), 0.99)),
                    predictions=[float(v) for v in pred[1]] if pred is not None else [],
                    inputs=ok[features] if features else None)


def compare(reference: list[float] | np.ndarray, values: list[float] | np.ndarray) -> tuple[float, float]:
    """(PSI, chi-square p) of ``values`` against ``reference``, over the reference's decile bins."""
    from scipy.stats import chi2_contingency

    ref, new = np.asarray(reference, dtype=float), np.asarray(values, dtype=float)
    if len(ref) < BINS or len(new) == 0:
        return 0.0, 1.0
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)))
    inner = edges[1:-1] if len(edges) > 2 else edges[:1]  # one value only: below it, at or above it
    bins = np.concatenate([[-np.inf], inner, [np.inf]])
    a, b = np.histogram(ref, bins)[0], np.histogram(new, bins)[0]
    pa, pb = (a + 1e-4) / (a.sum() + 1e-4 * len(a)), (b + 1e-4) / (b.sum() + 1e-4 * len(b))
    index = float(np.sum((pb - pa) * np.log(pb / pa)))
    table = np.array([a, b])
    table = table[:, table.sum(axis=0) > 0]
    p = float(chi2_contingency(table)[1]) if table.shape[1] > 1 else 1.0
    return index, p


def input_drift(baseline: dict[str, Any] | None, current: Any, new: Any,
                limit: float) -> tuple[float, str | None, float]:
    """(PSI, feature, p) of the new version's most shifted input feature over ``limit`` with a
    significant test, or else of its most shifted one: against its model's baseline, or against
    the inputs the current version got when the model has none. ``p`` is Bonferroni-adjusted for
    the number of features tested: the gate asks whether *any* feature moved, and twenty features
    each tested at ``ALPHA`` failed a version with no shift in 4 % of 100-request windows."""
    from ..monitoring.drift import psi

    tested: list[tuple[float, float, str]] = []  # (PSI, p, feature)
    for col in [] if new is None else new.columns:
        values = new[col].astype(float).to_numpy()
        if baseline and col in baseline.get("stats", {}):
            tested.append((*psi(baseline["stats"][col], values), str(col)))
        elif current is not None and col in current:
            tested.append((*compare(current[col].astype(float).to_numpy(), values), str(col)))
    if not tested:
        return 0.0, None, 1.0
    adjusted = [(index, col, min(1.0, p * len(tested))) for index, p, col in tested]
    failing = [t for t in adjusted if t[0] > limit and t[2] < ALPHA]
    return max(failing or adjusted, key=lambda t: t[0])


def check(gates: Gates, current: Evidence, new: Evidence, baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each gate's figures and whether it held."""
    out: list[dict[str, Any]] = []
    out.append({"gate": "requests", "new": new.requests, "limit": gates.min_requests,
                "passed": new.requests >= gates.min_requests})
    limit = current.error_rate + gates.max_error_rate_increase
    out.append({"gate": "error_rate", "current": round(current.error_rate, 4), "new": round(new.error_rate, 4),
                "limit": round(limit, 4), "passed": new.error_rate <= limit})
    if current.p99_ms is not None and new.p99_ms is not None:
        p99_limit = current.p99_ms * gates.max_p99_ratio + gates.p99_slack_ms
        out.append({"gate": "p99_ms", "current": round(current.p99_ms, 2), "new": round(new.p99_ms, 2),
                    "limit": round(p99_limit, 2), "passed": new.p99_ms <= p99_limit})
    index, p = compare(current.predictions, new.predictions)
    out.append({"gate": "prediction_psi", "new": round(index, 4), "p_value": _p(p), "limit": gates.max_prediction_psi,
                "passed": not (index > gates.max_prediction_psi and p < ALPHA)})
    worst, feature, p_in = input_drift(baseline, current.inputs, new.inputs, gates.max_input_psi)
    out.append({"gate": "input_psi", "new": round(worst, 4), "feature": feature, "p_value": _p(p_in),
                "limit": gates.max_input_psi, "passed": not (worst > gates.max_input_psi and p_in < ALPHA)})
    return out


def _p(p: float) -> float:
    return float(f"{p:.3g}")
