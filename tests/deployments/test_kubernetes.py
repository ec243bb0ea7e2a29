"""Kubernetes manifests, rendered with --dry-run and validated offline against the Kubernetes schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import jupyter_mlops as mlops
from jupyter_mlops.images.records import Image
from jupyter_mlops.local_server import free_port
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg

K8S_VERSION = "1.30.0"


@pytest.fixture
def image(workspace: Workspace, tmp_path: Path) -> Image:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    img = mlops.build_image("lr-svc", model, docker=False)
    # A cluster runs what a registry holds: give the record the tag a real build would have.
    from jupyter_mlops.store.schema import images

    with workspace.metadata.begin() as conn:
        conn.execute(images.update().where(images.c.id == img.id).values(docker_tag="jupyter-mlops/lr-svc:1"))
    return mlops.get_image("lr-svc:1")


def test_dry_run_manifests_validate_against_kubernetes_schemas(image: Image, tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    ca.issue_cert("churn.example.com").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "tls.pem"))
    dep = mlops.deploy("Churn_Scorer", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path / "out"),
                       replicas=2, cpu="500m", memory="512Mi", autoscale={"min": 2, "max": 6, "target_cpu": 60},
                       tls_cert=str(tmp_path / "tls.pem"), tls_key=str(tmp_path / "tls.pem"), registry="registry.example.com/ml")
    docs = list(yaml.safe_load_all((tmp_path / "out" / "churn-scorer.yaml").read_text()))
    assert sorted(d["kind"] for d in docs) == ["Deployment", "HorizontalPodAutoscaler", "Ingress", "Secret", "Secret", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/ml/jupyter-mlops/lr-svc:1"
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    keys = next(d for d in docs if d["kind"] == "Secret" and d["type"] == "Opaque")
    assert keys["stringData"] == mlops.get_keys("Churn_Scorer")
    assert dep.state == "healthy" and dep.scoring_uri == "http://churn-scorer.default.svc.cluster.local/score"


def test_a_bad_manifest_would_be_caught_by_the_validator(image: Image, tmp_path: Path) -> None:
    mlops.deploy("svc", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path))
    doc = next(d for d in yaml.safe_load_all((tmp_path / "svc.yaml").read_text()) if d["kind"] == "Deployment")
    doc["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_apply_without_a_cluster_is_a_one_line_error(image: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(mlops.DeploymentError, match="^Cannot reach a Kubernetes cluster: "):
        mlops.deploy("svc", image, target="kubernetes")
    assert mlops.get_deployment("svc").state == "failed"


def test_undeploy_that_cannot_remove_the_resources_keeps_the_record_and_names_them(
        image: Image, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlops.deploy("svc", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path))
    keys = mlops.get_keys("svc")
    # What an apply to a cluster records (none runs here): the resources it created.
    from jupyter_mlops.store.schema import deployments

    applied = {"manifests": str(tmp_path / "svc.yaml"), "dry_run": False, "namespace": "ml", "name": "svc",
               "resources": [["v1", "Secret", "svc-keys"], ["apps/v1", "Deployment", "svc"], ["v1", "Service", "svc"]]}
    with workspace.metadata.begin() as conn:
        conn.execute(deployments.update().where(deployments.c.name == "svc").values(handle=applied))
    closed = free_port()  # nothing listens there: the real client gets a real "connection refused"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{closed}"}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    with pytest.raises(mlops.DeploymentError) as err:
        mlops.undeploy("svc")
    message = str(err.value)
    assert message.startswith("Could not remove Service/svc, Deployment/svc, Secret/svc-keys from namespace 'ml' (")
    assert "Connection refused" in message and "\n" not in message and "t0ken" not in message
    assert message.endswith("the deployment record and its keys are kept: undeploy again once the cluster answers.")
    failed = [e for e in mlops.get_deployment("svc").events if e.kind == "delete-failed"]
    assert [e.message for e in failed] == [message] and mlops.get_keys("svc") == keys


def test_collection_on_kubernetes_writes_to_the_azure_store_through_a_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azurite: Any) -> None:
    (tmp_path / "jupyter-mlops.toml").write_text('[workspace]\nroot = "ws"\nartifacts = "azure://collected-k8s"\n')
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("JUPYTER_MLOPS_WORKSPACE", str(tmp_path / "jupyter-mlops.toml"))
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    img = mlops.build_image("lr-svc", model, docker=False)
    from jupyter_mlops.store.schema import images

    with mlops.get_workspace().metadata.begin() as conn:
        conn.execute(images.update().where(images.c.id == img.id).values(docker_tag="jupyter-mlops/lr-svc:1"))
    mlops.deploy("watched", "lr-svc:1", target="kubernetes", dry_run=True, output_dir=str(tmp_path / "out"),
                 collect=True, sample_rate=0.5)
    text = (tmp_path / "out" / "watched.yaml").read_text()
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    store = next(d for d in docs if d["metadata"]["name"] == "watched-store")
    assert store["stringData"] == {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["AZURE_STORAGE_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"] == {
        "name": "watched-store", "key": "AZURE_STORAGE_CONNECTION_STRING"}
    settings = json.loads(env["MLOPS_SERVER_SETTINGS"]["value"])
    assert (settings["collect"], settings["collect_sample_rate"], settings["collect_store"]) == (
        True, 0.5, "azure://collected-k8s")
    spool = next(m for m in container["volumeMounts"] if m["name"] == "spool")
    assert settings["collect_spool_dir"] == spool["mountPath"]
    assert {"name": "spool", "emptyDir": {}} in pod["volumes"]
    assert azurite.connection_string not in env["MLOPS_SERVER_SETTINGS"]["value"]


def test_collection_on_kubernetes_needs_a_store_the_cluster_reaches(image: Image, tmp_path: Path) -> None:
    with pytest.raises(mlops.UsageError, match=r"^Collection on kubernetes writes to an Azure Blob artifact store"):
        mlops.deploy("svc", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path), collect=True)


@pytest.mark.parametrize(("target", "setting", "value"), [
    ("process", "replicas", 3), ("process", "cpu", "500m"), ("kubernetes", "port", 8080), ("edge", "autoscale", "1:3"),
])
def test_a_setting_the_target_does_not_support_is_an_error_naming_both(
        image: Image, target: str, setting: str, value: Any) -> None:
    with pytest.raises(mlops.UsageError, match=rf"^Setting '{setting}' is not supported by the '{target}' target; "
                                               r"it supports: auth, "):
        mlops.deploy("svc", image, target=target, **{setting: value})
    with pytest.raises(mlops.NotFoundError):
        mlops.get_deployment("svc")  # nothing was recorded


def test_the_ingress_host_and_service_type_are_settings(image: Image, tmp_path: Path) -> None:
    import trustme

    trustme.CA().issue_cert("scoring.internal").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "t.pem"))
    mlops.deploy("svc", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path), ingress_host="scoring.internal",
                 tls_cert=str(tmp_path / "t.pem"))
    docs = {d["kind"]: d for d in yaml.safe_load_all((tmp_path / "svc.yaml").read_text())}
    assert docs["Ingress"]["spec"]["rules"][0]["host"] == "scoring.internal"


def _server_settings(folder: Path, name: str) -> dict[str, Any]:
    """The server settings in a dry run's Deployment for ``name``."""
    doc = next(d for d in yaml.safe_load_all((folder / f"{name}.yaml").read_text()) if d["kind"] == "Deployment")
    env = {e["name"]: e for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
    return json.loads(env["MLOPS_SERVER_SETTINGS"]["value"])  # type: ignore[no-any-return]


def test_coalescing_is_on_by_default_and_off_with_no_coalesce(image: Image, tmp_path: Path) -> None:
    from jupyter_mlops import cli

    mlops.deploy("merged", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path))
    assert cli.main(["deploy", "alone", "--image", image.ref, "--target", "kubernetes", "--dry-run",
                     "--output-dir", str(tmp_path), "--no-coalesce"]) == 0
    assert _server_settings(tmp_path, "merged")["coalesce"] is True and _server_settings(tmp_path, "alone")["coalesce"] is False


def test_busy_polling_is_on_by_default_and_set_with_busy_poll_us(image: Image, tmp_path: Path) -> None:
    from jupyter_mlops import cli

    mlops.deploy("polling", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path))
    assert cli.main(["deploy", "sleeping", "--image", image.ref, "--target", "kubernetes", "--dry-run",
                     "--output-dir", str(tmp_path), "--busy-poll-us", "0"]) == 0  # 0 is a value, not "not given"
    assert _server_settings(tmp_path, "polling")["busy_poll_us"] == 250 and _server_settings(tmp_path, "sleeping")["busy_poll_us"] == 0
    with pytest.raises(mlops.UsageError, match=r"^Invalid busy_poll_us -5: microseconds, a whole number, at least 0\.$"):
        mlops.deploy("negative", image, target="kubernetes", dry_run=True, output_dir=str(tmp_path), busy_poll_us=-5)
