"""An endpoint in front of containers: nginx on this host routes to docker deployments (host network)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg
from .conftest import ROW

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_a_docker_endpoint_routes_by_split_and_header_with_the_endpoints_keys(
        docker_workspace: Workspace, tmp_path: Path, nginx: str) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    image = mlops.build_image("lr-svc", model, progress=False)
    ep = mlops.create_endpoint("boxes", target="docker")
    try:
        for name in ("blue", "green"):
            assert mlops.deploy(name, image, endpoint="boxes").target == "docker"
        ep = mlops.set_traffic("boxes", {"blue": 50, "green": 50})
        key = mlops.get_endpoint_keys("boxes")["primary"]
        seen = set()
        with httpx.Client(headers={"authorization": f"Bearer {key}"}) as c:
            for _ in range(40):
                reply = c.post(ep.scoring_uri, json={"data": ROW})
                assert reply.status_code == 200
                seen.add(reply.headers["azureml-model-deployment"])
            reply = c.post(ep.scoring_uri, json={"data": ROW}, headers={"azureml-model-deployment": "green"})
            assert reply.headers["azureml-model-deployment"] == "green"
        assert seen == {"blue", "green"}
        assert httpx.post(ep.scoring_uri, json={"data": ROW}, headers={"authorization": "Bearer x"}).status_code == 401
    finally:
        mlops.delete_endpoint("boxes")
    assert mlops.list_deployments() == []
