"""An Azure ML scoring script (init/run, request_headers, AZUREML_MODEL_DIR) works unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from jupyter_mlops.registry.models import ModelRegistry

from ..modelfactory import training_data
from .conftest import RunningServer

# Written as Azure ML's documentation writes them: nothing jupyter-mlops specific.
AZURE_SCORE = '''
import json
import os

import joblib
import numpy as np

def init():
    global model
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "clf.joblib")
    model = joblib.load(model_path)

def run(raw_data, request_headers):
    data = np.array(json.loads(raw_data)["data"])
    result = model.predict(data)
    return {"predictions": result, "caller": request_headers.get("x-caller", "")}
'''

MULTI_SCORE = '''
import pandas as pd
from jupyter_mlops.serving import get_model_path

def init():
    global paths
    paths = [get_model_path("clf"), get_model_path("lr", 1)]

def run(data):
    return pd.DataFrame({"path": paths, "length": [len(data), len(data)]})
'''


def test_azure_score_py_works_unchanged(
    start_server: Callable[..., RunningServer], registry: ModelRegistry, tmp_path: Path
) -> None:
    import joblib

    script = tmp_path / "score.py"
    script.write_text(AZURE_SCORE)
    server = start_server(["clf"], script=script)
    rows = training_data(20, rows=5, seed=3)[0].astype(np.float64)
    reply = httpx.post(f"{server.url}/score", content=json.dumps({"data": rows.tolist()}), headers={"x-caller": "nb"})
    assert reply.status_code == 200, reply.text
    expected = joblib.load(registry.download("clf", None, tmp_path / "dl")).predict(rows).tolist()
    assert reply.json() == {"predictions": expected, "caller": "nb"}


def test_several_models_in_azure_layout_and_pandas_results(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    script = tmp_path / "multi.py"
    script.write_text(MULTI_SCORE)
    server = start_server(["clf", "lr"], script=script)
    reply = httpx.post(f"{server.url}/score", content="abc")
    records = reply.json()
    assert [r["length"] for r in records] == [3, 3]
    assert records[0]["path"].endswith("azureml-models/clf/1/clf.joblib")
    assert records[1]["path"].endswith("azureml-models/lr/1/lr.onnx")


def test_a_script_answers_mlflow_requests_too_not_the_model_directly(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """With a script, a body of float rows goes to run() as {"data": rows}, though the one model
    takes float rows (the fast parse that skips the script is for scriptless servers)."""
    script = tmp_path / "score.py"
    script.write_text("import json\ndef init():\n    pass\ndef run(raw):\n    return {'rows': len(json.loads(raw)['data'])}\n")
    server = start_server(["lr"], script=script)
    rows = training_data(20, rows=3, seed=5)[0].astype(np.float64).round(6).tolist()
    for body in ({"inputs": rows}, {"instances": rows}, {"dataframe_split": {"data": rows}}):
        reply = httpx.post(f"{server.url}/invocations", json=body)
        assert reply.status_code == 200 and reply.json() == {"predictions": {"rows": 3}}, reply.text
