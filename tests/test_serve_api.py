"""mlops.serve: a registered model served from a local subprocess, scored, stopped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from .modelfactory import onnx_logreg, training_data


def test_serve_scores_like_onnxruntime_and_stops(workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    rows = training_data(20, rows=3, seed=2)[0]
    expected = ort.InferenceSession(str(tmp_path / "lr.onnx")).run(None, {"input": rows})[0]
    with mlops.serve(model, auth_keys=["k1"]) as svc:
        assert svc.running and "/score" in repr(svc._repr_html_())
        assert svc.score(rows)["label"] == expected.tolist()
    assert not svc.running


def test_a_failing_init_raises_with_the_log_tail(workspace: Workspace, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    script = tmp_path / "score.py"
    script.write_text("import sys\ndef init():\n    sys.exit('model file is corrupt')\ndef run(d):\n    return d\n")
    with pytest.raises(mlops.DeploymentError) as err:
        mlops.serve("lr:1", script=script, workers=1)
    assert "init failed" in str(err.value) or "exited" in str(err.value)
    assert "model file is corrupt" in (err.value.detail or "")


def test_bad_score_input_is_a_one_line_deployment_error(workspace: Workspace, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    with mlops.serve("lr") as svc, pytest.raises(mlops.DeploymentError) as err:
        svc.score(np.zeros((1, 3)))
    assert str(err.value).endswith("answered 400: Input 'input' has shape [1, 3]; the model expects [None, 20].")


def test_busy_polling_is_a_server_setting_and_a_negative_time_is_a_usage_error(workspace: Workspace,
                                                                                tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    with pytest.raises(mlops.UsageError, match="Invalid busy_poll_us -1: a whole number, at least 0"):
        mlops.serve("lr", busy_poll_us=-1)
    with mlops.serve("lr", busy_poll_us=0) as svc:  # off: served as before
        assert svc.score(training_data(20, rows=1, seed=2)[0])["label"]
        config = json.loads((svc.log_path.parent / "server.json").read_text())
    assert config["busy_poll_us"] == 0
