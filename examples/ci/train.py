"""Train the example churn model: a logistic regression on synthetic data, exported to ONNX.

Writes build/churn.onnx and build/test.csv (held-out rows: six features and the label) beside this
file, or into the folder given as the first argument. Needs scikit-learn and skl2onnx.
    python examples/ci/train.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

FEATURES = ["tenure", "monthly_charges", "support_calls", "usage_trend", "contract_months", "late_payments"]


def churn_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    score = -1.2 * x[:, 0] + 0.8 * x[:, 1] + 1.0 * x[:, 2] - 0.6 * x[:, 3] - 0.9 * x[:, 4] + 0.7 * x[:, 5]
    y = (score + rng.normal(scale=0.8, size=rows) > 0).astype(np.int64)  # label noise: accuracy near 0.9
    return x, y


def main(out: Path) -> None:
    x, y = churn_data(2000, seed=0)
    train, test = slice(0, 1500), slice(1500, None)
    clf = LogisticRegression(max_iter=500).fit(x[train], y[train])
    onx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, len(FEATURES)]))],
                  options={id(clf): {"zipmap": False}}, target_opset=17)
    out.mkdir(parents=True, exist_ok=True)
    (out / "churn.onnx").write_bytes(onx.SerializeToString())
    rows = np.column_stack([x[test], y[test]])
    np.savetxt(out / "test.csv", rows, delimiter=",", header=",".join([*FEATURES, "label"]), comments="",
               fmt=["%.6f"] * len(FEATURES) + ["%d"])
    print(f"wrote {out / 'churn.onnx'} and {out / 'test.csv'} ({len(rows)} test rows)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "build")
