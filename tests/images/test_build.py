"""Images built with the real Docker engine, run, and compared with the models in-process."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import joblib
import numpy as np
import onnxruntime as ort
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, sklearn_joblib, training_data

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SCORE = '''
import json, os
import joblib
import six  # from requirements.txt: proves the wheelhouse was installed

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "clf.joblib"))

def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return {"predictions": model.predict(rows).tolist(), "six": six.PY3, "version": VERSION}
'''


def _script(path: Path, version: int) -> Path:
    path.write_text(SCORE + f"\nVERSION = {version}\n")
    return path


def test_onnx_image_without_script_answers_like_onnxruntime(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    image = mlops.build_image("lr-service", model, tags={"team": "risk"}, progress=False)
    assert image.state == "succeeded" and image.docker_tag == "jupyter-mlops/lr-service:1"
    assert image.digest.startswith("sha256:") and image.size > 0 and "Step" in image.build_log
    rows = training_data(20, rows=5, seed=9)[0]
    label, proba = ort.InferenceSession(str(tmp_path / "lr.onnx")).run(None, {"input": rows})
    answer = mlops.smoke_test_image(image, rows.tolist())
    assert answer["label"] == label.tolist()
    np.testing.assert_array_equal(np.asarray(answer["probabilities"], dtype=np.float32), proba)
    assert [i.ref for i in mlops.list_images(model="lr")] == ["lr-service:1"]
    assert [i.ref for i in mlops.list_images(tags=["team=risk"])] == ["lr-service:1"]
    assert mlops.list_images(model="lr:2") == []


def test_sklearn_image_with_script_and_requirements_and_fast_script_rebuild(
    docker_workspace: Workspace, tmp_path: Path
) -> None:
    model = mlops.register_model(sklearn_joblib(tmp_path / "clf.joblib"), "clf")
    # A specifier unique to this run makes the dependency layer cold on a machine that built it before.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"six>=1.10,!=0.0.{uuid.uuid4().int % 10**9}\n")
    start = time.monotonic()
    first = mlops.build_image("clf-service", model, script=_script(tmp_path / "score.py", 1), requirements=requirements,
                           progress=False)
    cold = time.monotonic() - start
    rows = training_data(20, rows=4, seed=4)[0].astype(np.float64)
    expected = joblib.load(tmp_path / "clf.joblib").predict(rows).tolist()
    assert mlops.smoke_test_image(first, rows.tolist()) == {"predictions": expected, "six": True, "version": 1}

    start = time.monotonic()
    second = mlops.build_image("clf-service", model, script=_script(tmp_path / "score.py", 2), requirements=requirements,
                            progress=False)
    warm = time.monotonic() - start
    steps = second.build_log.split("Step ")
    dependency_step = next(s for s in steps if "pip install --no-index --no-cache-dir --find-links" in s)
    assert "Using cache" in dependency_step  # the wheelhouse and its install were reused
    assert second.spec["cached_steps"] >= 5 and first.spec["cached_steps"] < second.spec["cached_steps"]
    assert warm < cold / 2, (warm, cold)
    assert mlops.smoke_test_image(second, rows.tolist())["version"] == 2


def test_delete_model_used_by_an_image_is_refused_naming_it(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    mlops.build_image("uses-lr", model, docker=False)
    with pytest.raises(mlops.InUseError, match=r"^Model lr:1 is used by image uses-lr:1; delete the image first\.$"):
        mlops.delete_model("lr", 1)


def test_missing_requirement_fails_with_a_readable_one_line_cause(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    with pytest.raises(mlops.BuildError) as err:
        mlops.build_image("broken", model, requirements=["no-such-package-jupyter-mlops-test==1.0"], progress=False)
    assert "\n" not in str(err.value)
    assert str(err.value) == (
        "Resolving the image's requirements failed: No matching distribution found for "
        "no-such-package-jupyter-mlops-test==1.0"
    )
    failed = mlops.get_image("broken")
    assert failed.state == "failed" and "no-such-package" in failed.build_log


def test_delete_image_removes_record_and_docker_image(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    image = mlops.build_image("short-lived", model, progress=False)
    mlops.delete_image("short-lived", 1)
    with pytest.raises(docker.errors.ImageNotFound):
        docker.from_env().images.get(image.docker_tag)
    mlops.delete_model("lr", 1)  # no longer in use


def test_context_only_build_without_docker(workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    image = mlops.build_image("ctx", model, docker=False)
    assert image.state == "context" and image.docker_tag is None
    context = workspace.state_dir / "images" / "ctx" / "1" / "context"
    dockerfile = (context / "Dockerfile").read_text()
    order = [dockerfile.index(s) for s in ("FROM ", "COPY wheelhouse/", "COPY runtime/", "COPY models/", "COPY app/")]
    assert order == sorted(order)
    assert any(p.name.startswith("onnxruntime-") for p in (context / "wheelhouse").iterdir())
    assert (context / "models" / "azureml-models" / "lr" / "1" / "lr.onnx").exists()
