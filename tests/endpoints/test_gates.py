"""Rollout gates on evidence built from known distributions: false alarms and real shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jupyter_mlops.endpoints.gates import Evidence, Gates, check
from jupyter_mlops.monitoring.drift import summarize

from ..modelfactory import training_data

FEATURES = [f"x{i}" for i in range(20)]


def _input_gate_fails(windows: list[np.ndarray], baseline: dict) -> int:  # type: ignore[type-arg]
    rng = np.random.default_rng(7)
    fails = 0
    for rows in windows:
        new = Evidence(requests=len(rows), inputs=pd.DataFrame(rows, columns=FEATURES), predictions=list(rng.random(len(rows))))
        current = Evidence(requests=len(rows), predictions=list(rng.random(len(rows))))
        gate = next(g for g in check(Gates(), current, new, baseline) if g["gate"] == "input_psi")
        fails += not gate["passed"]
    return fails


def test_the_input_gate_seldom_fails_a_version_whose_inputs_did_not_move() -> None:
    """Twenty features tested each at ALPHA: without a correction for the number of features, a
    rollout with no shift at all failed 40 of 1000 windows of 100 requests (and a CI run)."""
    baseline = summarize(training_data(20, rows=5000, seed=0)[0])
    pool = training_data(20, rows=50_000, seed=3)[0]
    rng = np.random.default_rng(1)
    windows = [pool[rng.choice(len(pool), 100, replace=False)] for _ in range(1000)]
    assert _input_gate_fails(windows, baseline) <= 3  # family-wise about ALPHA (0.1 %)


def test_the_input_gate_still_fails_a_version_whose_one_feature_moved() -> None:
    baseline = summarize(training_data(20, rows=5000, seed=0)[0])
    pool = training_data(20, rows=50_000, seed=4)[0]
    rng = np.random.default_rng(2)
    windows = []
    for _ in range(200):
        rows = pool[rng.choice(len(pool), 100, replace=False)].copy()
        rows[:, 7] += 1.0  # one feature, one standard deviation
        windows.append(rows)
    assert _input_gate_fails(windows, baseline) >= 190
