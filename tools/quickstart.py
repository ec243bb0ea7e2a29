"""The quickstart: the model lifecycle on the embedded default workspace, end to end.

Run through ``bash tools/quickstart.sh`` (which sets up first). Each step prints what it did;
any failure exits non-zero.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import jupyter_mlops as mlops


def train_onnx(path: Path, n_features: int = 20, seed: int = 0) -> Path:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(500, n_features)).astype(np.float32)
    y = (x[:, seed] - x[:, seed + 1] > 0).astype(np.int64)
    clf = LogisticRegression(max_iter=200).fit(x, y)
    onx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, n_features]))],
                  options={id(clf): {"zipmap": False}})
    path.write_bytes(onx.SerializeToString())
    return path


def baseline_data(rows: int = 2000, seed: int = 0, n_features: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, n_features)).astype(np.float32)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def main() -> int:
    ws = mlops.get_workspace()
    step("workspace")
    print(ws, f"(chosen by: {ws.source})")

    work = Path(tempfile.mkdtemp(prefix="mlops-quickstart-"))
    step("register")
    model = mlops.register_model(train_onnx(work / "churn.onnx"), "quickstart-churn",
                                 tags={"stage": "dev"}, properties={"auc": "0.93"})
    print(model)
    print("signature:", model.signature["inputs"])

    step("search")
    print(mlops.list_models("quickstart-churn", tags=["stage=dev"], limit=5))

    step("serve and score (local process)")
    rows = np.random.default_rng(1).normal(size=(3, 20)).astype(np.float32)
    with mlops.serve(model, auth_keys=["quickstart-key"]) as svc:
        print(svc)
        print("score:", svc.score(rows))

    step("build an image (where a Docker engine answers)")
    docker = True
    try:
        image = mlops.build_image("quickstart-churn", model, tags={"stage": "dev"}, progress=False)
        print(image)
        print("smoke test:", mlops.smoke_test_image(image, rows.tolist()))
    except mlops.BuildError as exc:
        if "No Docker engine" not in str(exc):
            raise
        print("no Docker engine: building the context only and deploying as a local process")
        docker = False
        image = mlops.build_image("quickstart-churn", model, docker=False)

    step(f"deploy ({'docker' if docker else 'process'} target, collecting data), score, update")
    v2 = mlops.register_model(train_onnx(work / "churn-v2.onnx", seed=1), "quickstart-churn", tags={"stage": "dev"},
                              baseline=baseline_data())
    image2 = mlops.build_image("quickstart-churn", v2, progress=False, docker=docker)
    for old in mlops.list_deployments(image="quickstart-churn"):
        mlops.undeploy(old.name)
    started = datetime.now(timezone.utc)  # this run's records: a rerun's workspace holds the last run's too
    dep = mlops.deploy("quickstart-churn", image, target="docker" if docker else "process", collect=True)
    print(dep)
    print("score:", dep.score(rows))
    dep = mlops.update_deployment("quickstart-churn", image2)
    print("updated:", dep.image, dep.state, dep.scoring_uri)
    live = baseline_data(200, seed=7)
    live[:, 3] += 1.5  # feature x3 drifts
    for row in live:
        dep.score([row.tolist()])
    print("score:", dep.score(rows))

    step("monitor: collected data and the dashboard")
    deadline = time.monotonic() + 30
    while len(frame := mlops.collected_data("quickstart-churn", start=started)) < 203 and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"{len(frame)} rows collected; columns: {', '.join(map(str, frame.columns[:12]))}, ...")
    board = mlops.dashboard("quickstart-churn", since="1h")
    print(board)
    print("dashboard:", board.to_html(Path("quickstart-dashboard.html").resolve()))
    print(f"\nThe deployment keeps serving at {dep.scoring_uri}; "
          "`jupyter-mlops deployments delete quickstart-churn` stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
