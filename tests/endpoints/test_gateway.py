"""An endpoint on Kubernetes: a Gateway API HTTPRoute rendered with the deployments' manifests and
validated offline against the published Gateway API schemas (and the rest against Kubernetes')."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import jupyter_mlops as mlops
from jupyter_mlops.deployments import keys as keyring
from jupyter_mlops.store.schema import images
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg
from .conftest import gateway_api_errors

K8S_VERSION = "1.30.0"


@pytest.fixture
def image(workspace: Workspace, tmp_path: Path) -> mlops.Image:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    img = mlops.build_image("lr-svc", model, docker=False, progress=False)
    with workspace.metadata.begin() as conn:  # what a real build records: a tag a cluster can pull
        conn.execute(images.update().where(images.c.id == img.id).values(docker_tag="jupyter-mlops/lr-svc:1"))
    return mlops.get_image("lr-svc:1")


def _route(out: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((out / "churn-httproute.yaml").read_text()))


def test_the_httproute_splits_mirrors_and_matches_the_header_and_passes_the_gateway_api_schemas(
        image: mlops.Image, workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ep = mlops.create_endpoint("churn", target="kubernetes", auth="token", namespace="ml", gateway="shared",
                               hostname="churn.example.com", dry_run=True, output_dir=str(out))
    assert ep.scoring_uri == "http://churn.example.com/score"
    for name in ("blue", "green"):
        dep = mlops.deploy(name, image, endpoint="churn", replicas=2)
        assert (dep.target, dep.state, dep.config["namespace"]) == ("kubernetes", "healthy", "ml")
    mlops.set_traffic("churn", {"blue": 100}, mirror={"green": 20})
    mirrored = _route(out)
    mlops.set_traffic("churn", {"blue": 90, "green": 10})
    split = _route(out)
    assert gateway_api_errors([mirrored, split]) == ["", ""]

    spec = split["spec"]
    assert spec["parentRefs"] == [{"name": "shared"}] and spec["hostnames"] == ["churn.example.com"]
    assert split["metadata"]["namespace"] == "ml"
    by_header = {r["matches"][0]["headers"][0]["value"]: r["backendRefs"][0]["name"] for r in spec["rules"][:2]}
    assert by_header == {"blue": "blue", "green": "green"}
    assert all(r["matches"][0]["headers"][0]["name"] == "azureml-model-deployment" for r in spec["rules"][:2])
    assert [(b["name"], b["weight"], b["port"]) for b in spec["rules"][2]["backendRefs"]] == [
        ("blue", 90, 80), ("green", 10, 80)]
    assert "filters" not in spec["rules"][2]
    assert mirrored["spec"]["rules"][2]["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "green", "port": 80}, "percent": 20}}]

    for name in ("blue", "green"):  # the deployments' own manifests beside it, valid Kubernetes
        docs = list(yaml.safe_load_all((out / f"{name}.yaml").read_text()))
        for doc in docs:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        service = next(d for d in docs if d["kind"] == "Service")
        assert service["metadata"]["name"] == name and service["spec"]["ports"][0]["port"] == 80
        secret = next(d for d in docs if d["kind"] == "Secret")  # the endpoint's token secret, for the pods
        assert secret["stringData"] == keyring.server_secrets(keyring.endpoint_secrets_dir(workspace, "churn"))


def test_the_validator_catches_a_broken_route(image: mlops.Image, tmp_path: Path) -> None:
    mlops.create_endpoint("churn", target="kubernetes", dry_run=True, output_dir=str(tmp_path))
    mlops.deploy("blue", image, endpoint="churn")
    good = _route(tmp_path)
    bad_weight, bad_mirror = copy.deepcopy(good), copy.deepcopy(good)
    bad_weight["spec"]["rules"][1]["backendRefs"][0]["weight"] = "ninety"
    bad_mirror["spec"]["rules"][1]["filters"] = [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "blue", "port": 80}, "percent": 150}}]
    errors = gateway_api_errors([good, bad_weight, bad_mirror])
    assert errors[0] == ""
    assert "weight must be integer" in errors[1] and "percent must be <= 100" in errors[2]


def test_kubernetes_endpoints_refuse_local_settings_and_local_ones_kubernetes_settings(workspace: Workspace) -> None:
    with pytest.raises(mlops.UsageError, match="^A kubernetes endpoint listens on its Gateway"):
        mlops.create_endpoint("churn", target="kubernetes", port=8080)
    with pytest.raises(mlops.UsageError, match="are for kubernetes endpoints, not 'process'"):
        mlops.create_endpoint("churn", target="process", namespace="ml")
    with pytest.raises(mlops.UsageError, match="^Invalid endpoint target 'edge'"):
        mlops.create_endpoint("churn", target="edge")
    with pytest.raises(mlops.UsageError, match="^Invalid auth 'aml_token': use key, token or none.$"):
        mlops.create_endpoint("churn", target="process", auth="aml_token")
    assert mlops.list_endpoints() == []
