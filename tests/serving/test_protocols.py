"""Clients we did not write: tritonclient on the v2 routes, MLflow's documented requests, TLS."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from jupyter_mlops.registry.models import ModelRegistry

from ..modelfactory import training_data
from .conftest import RunningServer


@pytest.fixture
def expected(registry: ModelRegistry, tmp_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = training_data(20, rows=4, seed=11)[0]
    session = ort.InferenceSession(str(registry.download("lr", None, tmp_path / "dl")))
    label, proba = session.run(None, {"input": rows})
    return rows, label, proba


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_infers_against_v2_routes(
    start_server: Callable[..., RunningServer], expected, binary: bool
) -> None:
    import tritonclient.http as triton

    rows, label, proba = expected
    server = start_server(["lr"])
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("lr")
    meta = client.get_model_metadata("lr")
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 20]}]
    tensor = triton.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer("lr", [tensor], outputs=outputs, model_version="1", request_id="r-1")
    np.testing.assert_array_equal(result.as_numpy("label"), label)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), proba)
    assert result.get_response()["id"] == "r-1"
    client.close()


def test_v2_errors_use_the_error_field(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    r = httpx.post(f"{server.url}/v2/models/lr/infer", json={"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
    assert (r.status_code, r.json()) == (400, {"error": "Input 'input' has shape [1, 3]; the model expects [None, 20]."})
    r = httpx.post(f"{server.url}/v2/models/lr/versions/9/infer", json={"inputs": []})
    assert (r.status_code, r.json()) == (404, {"error": "Model 'lr' has no version '9' in this server."})


def test_mlflow_documented_requests_get_the_same_predictions(
    start_server: Callable[..., RunningServer], expected
) -> None:
    rows, label, proba = expected
    server = start_server(["lr"])
    cols = [f"x{i}" for i in range(20)]
    # The four JSON forms and CSV, as MLflow's "Deploy MLflow models" page writes them.
    bodies = [
        {"dataframe_split": {"columns": cols, "data": rows.tolist()}},
        {"dataframe_records": [dict(zip(cols, r)) for r in rows.tolist()]},
        {"instances": rows.tolist()},
        {"inputs": rows.tolist()},
    ]
    for body in bodies:
        r = httpx.post(f"{server.url}/invocations", json=body)
        assert r.status_code == 200, (body.keys(), r.text)
        got = r.json()["predictions"]
        assert got["label"] == label.tolist()
        np.testing.assert_allclose(got["probabilities"], proba, rtol=1e-6)
    csv = ",".join(cols) + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in rows)
    r = httpx.post(f"{server.url}/invocations", content=csv, headers={"content-type": "text/csv"})
    assert r.json()["predictions"]["label"] == label.tolist()
    assert httpx.get(f"{server.url}/ping").status_code == 200
    r = httpx.post(f"{server.url}/invocations", json={"rows": []})
    assert (r.status_code, r.json()) == (400, {"message": "The body needs exactly one of dataframe_split, dataframe_records, instances, inputs."})


@pytest.mark.parametrize("workers", [1, 2])  # two: each worker accepts for itself (accepting.py)
def test_tls_with_a_self_signed_certificate(start_server: Callable[..., RunningServer], tmp_path: Path, expected,
                                            workers: int) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    server = start_server(
        ["lr"], tls_cert=str(tmp_path / "server.pem"), tls_key=str(tmp_path / "server.pem"),
        scheme="https", client={"verify": trusting}, workers=workers,
    )
    rows, label, _ = expected
    r = httpx.post(f"{server.url}/score", json={"data": rows.tolist()}, verify=trusting)
    assert r.json()["label"] == label.tolist()
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{server.url}/", verify=ssl.create_default_context())
    with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP to the TLS port
        httpx.get(server.url.replace("https:", "http:") + "/")
    for _ in range(4):  # the failed handshakes cost nothing to the next clients, whichever worker they reach
        assert httpx.post(f"{server.url}/score", json={"data": rows.tolist()}, verify=trusting).status_code == 200
