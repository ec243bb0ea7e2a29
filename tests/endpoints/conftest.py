"""Endpoints through real nginx and real inference servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg

ROW = [[0.1] * 20]


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx (tools/setup.sh installs it): fail, not skip, when it is missing."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        if os.environ.get("JUPYTER_MLOPS_TEST_SKIP_MISSING") == "1":
            pytest.skip("nginx is not installed")
        pytest.fail("nginx is not installed (apt-get install nginx; tools/setup.sh does)")
    return found


@dataclass
class Images:
    ws: Workspace
    blue: mlops.Image  # logistic regression, seed 0
    green: mlops.Image  # another one (seed 1): its answers tell it apart
    answers: dict[float, str]  # the probability each gives for ROW -> which one answered


def answered_by(images: Images, reply: dict) -> str:  # type: ignore[type-arg]
    return images.answers[round(reply["probabilities"][0][1], 6)]


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory, nginx: str) -> Images:
    import numpy as np
    import onnxruntime as ort

    tmp = tmp_path_factory.mktemp("endpoint")
    ws = Workspace.embedded(tmp / "ws", source="test")
    paths = [onnx_logreg(tmp / "blue.onnx", seed=0), onnx_logreg(tmp / "green.onnx", seed=1)]
    built = []
    for path in paths:
        model = mlops.register_model(path, "lr", workspace=ws)
        built.append(mlops.build_image("svc", model, docker=False, progress=False, workspace=ws))
    x = np.array(ROW, np.float32)
    answers = {round(float(ort.InferenceSession(str(p)).run(None, {"input": x})[1][0][1]), 6): who
               for p, who in zip(paths, ("blue", "green"))}
    assert len(answers) == 2
    return Images(ws, built[0], built[1], answers)


@pytest.fixture(scope="module")
def churn(images: Images) -> Iterator[mlops.Endpoint]:
    """Endpoint 'churn' with blue (all traffic) and green (collecting) behind it."""
    ws = images.ws
    mlops.create_endpoint("churn", target="process", workspace=ws)
    mlops.deploy("blue", images.blue, endpoint="churn", workspace=ws)
    mlops.deploy("green", images.green, endpoint="churn", collect=True, workspace=ws)
    yield mlops.set_traffic("churn", {"blue": 100}, workspace=ws)
    mlops.delete_endpoint("churn", workspace=ws)


def key_of(ws: Workspace, endpoint: str = "churn") -> str:
    return mlops.get_endpoint_keys(endpoint, workspace=ws)["primary"]


def state_files(ws: Workspace, endpoint: str) -> str:
    """Everything nginx and the servers wrote for an endpoint: configs and logs."""
    root: Path = ws.state_dir
    texts = []
    for path in [*(root / "endpoints" / endpoint).rglob("*"), *(root / "deployments").rglob("*.log")]:
        if path.is_file() and path.name != "keys.json" and path.suffix != ".sock":
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


GATEWAY_API = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "@kubernetes-models" / "gateway-api"
VALIDATE = """
import { readFileSync } from "node:fs";
import { HTTPRoute } from "%s";
const docs = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(docs.map((doc) => {
  try { new HTTPRoute(doc).validate(); return ""; } catch (e) { return String(e.message || e); }
})));
"""


def gateway_api_errors(docs: list[dict[str, Any]]) -> list[str]:
    """Validate HTTPRoutes offline against the Gateway API's published schemas, as compiled into the npm
    package @kubernetes-models/gateway-api (tools/setup.sh installs it into .tools/; node runs it):
    one message per document, empty when it is valid."""
    module = GATEWAY_API / "gateway.networking.k8s.io" / "v1" / "HTTPRoute.js"
    node = shutil.which("node")
    if node is None or not module.exists():
        if os.environ.get("JUPYTER_MLOPS_TEST_SKIP_MISSING") == "1":
            pytest.skip("node or @kubernetes-models/gateway-api is not installed")
        pytest.fail("Validating Gateway API manifests needs node and npm install --prefix .tools "
                    "@kubernetes-models/gateway-api (tools/setup.sh does both)")
    script = VALIDATE % module.as_uri()
    result = subprocess.run([node, "--input-type=module", "-e", script], input=json.dumps(docs),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))
