"""The docker target with auth and TLS, key regeneration, and an update; the edge bundle."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from pathlib import Path

import docker
import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.local_server import free_port
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg
from .sockets import listening_addresses, listening_inodes

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROW = [[0.3] * 20]


@pytest.fixture
def image(docker_workspace: Workspace, tmp_path: Path) -> mlops.Image:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    return mlops.build_image("lr-svc", model, progress=False)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[str, str]:
    import trustme

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return str(tmp_path / "server.pem"), str(tmp_path / "ca.pem")


def test_docker_target_with_auth_tls_and_key_regeneration(image: mlops.Image, tls: tuple[str, str]) -> None:
    cert, ca = tls
    dep = mlops.deploy("secure-svc", image, target="docker", tls_cert=cert, tls_key=cert, tls_ca=ca)
    try:
        assert dep.state == "healthy" and dep.scoring_uri.startswith("https://127.0.0.1:")
        container = docker.from_env().containers.list(filters={"label": "org.jupyter-mlops.deployment=secure-svc"})
        assert len(container) == 1 and container[0].labels["org.jupyter-mlops.image"] == "lr-svc:1"
        verify = ssl.create_default_context(cafile=ca)

        def status(key: str | None) -> int:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            return httpx.post(dep.scoring_uri, json={"data": ROW}, headers=headers, verify=verify).status_code

        keys = mlops.get_keys("secure-svc")
        assert (status(None), status("wrong"), status(keys["primary"]), status(keys["secondary"])) == (401, 401, 200, 200)
        assert "label" in dep.score(ROW)
        mlops.regen_key("secure-svc", "primary")
        new = mlops.get_keys("secure-svc")
        assert new["secondary"] == keys["secondary"] and new["primary"] != keys["primary"]
        deadline = time.monotonic() + 5  # the server re-reads its keys file within a second
        while status(keys["primary"]) != 401 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (status(keys["primary"]), status(new["primary"]), status(new["secondary"])) == (401, 200, 200)
        shown = repr(dep) + dep._repr_html_() + dep.logs() + str(mlops.get_deployment("secure-svc").events)
        assert not any(k in shown for k in (*keys.values(), *new.values()))
        assert "PRIVATE KEY" not in shown
    finally:
        mlops.undeploy("secure-svc")
    assert docker.from_env().containers.list(all=True, filters={"label": "org.jupyter-mlops.deployment=secure-svc"}) == []


def test_a_docker_deployment_is_healthy_after_40_s_and_listens_on_loopback_only(
        image: mlops.Image, tls: tuple[str, str]) -> None:
    """The image says MLOPS_HOST=0.0.0.0 and its health check once probed a fixed port over HTTP:
    Docker marked every deployment unhealthy after ~30 s. The probe must find the port and the
    scheme (TLS, self-signed for the probe) the server really uses; the deployment's host wins."""
    cert, ca = tls
    dep = mlops.deploy("watched", image, target="docker", auth=False, tls_cert=cert, tls_key=cert, tls_ca=ca)
    try:
        started = time.monotonic()
        (container,) = docker.from_env().containers.list(filters={"label": "org.jupyter-mlops.deployment=watched"})
        time.sleep(max(0.0, 40 - (time.monotonic() - started)))  # three health checks, past the start period
        container.reload()
        assert container.attrs["State"]["Health"]["Status"] == "healthy", container.attrs["State"]["Health"]["Log"][-1:]
        assert mlops.get_deployment("watched").state == "healthy"
        assert listening_addresses(dep.config["port"]) == {"127.0.0.1"}
        assert "label" in dep.score(ROW)
    finally:
        mlops.undeploy("watched")


def test_docker_update_keeps_the_scoring_uri(image: mlops.Image, docker_workspace: Workspace) -> None:
    second = mlops.build_image("lr-svc", "lr:1", progress=False)
    dep = mlops.deploy("rolling", image, target="docker", auth=False)
    try:
        socket_before = listening_inodes(dep.config["port"])
        updated = mlops.update_deployment("rolling", second)
        assert (updated.image, updated.scoring_uri, updated.state) == ("lr-svc:2", dep.scoring_uri, "healthy")
        # The new container took over the old one's listening socket: none queued on it was reset
        assert len(socket_before) == 1 and listening_inodes(dep.config["port"]) == socket_before
        assert "on the socket of the version before" in updated.logs()
        assert "label" in updated.score(ROW)
        running = docker.from_env().containers.list(filters={"label": "org.jupyter-mlops.deployment=rolling"})
        assert [c.labels["org.jupyter-mlops.image"] for c in running] == ["lr-svc:2"]
    finally:
        mlops.undeploy("rolling")


def test_edge_bundle_loads_into_docker_serves_and_collects(image: mlops.Image, docker_workspace: Workspace,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    dep = mlops.deploy("edge-svc", image, target="edge", output_dir=str(out), collect=True)
    assert dep.state == "healthy" and dep.scoring_uri is None
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "artifacts", "compose.yaml", "image.tar", "run.sh", "secrets", "spool"]
    client = docker.from_env()
    client.images.remove(image.docker_tag)  # the device has no copy: run.sh must load it from the tarball
    port = free_port()
    try:
        subprocess.run(["sh", str(out / "run.sh")], env={"HOST": "127.0.0.1", "PORT": str(port), "PATH": "/usr/bin:/bin:/usr/sbin"},
                       check=True, capture_output=True, timeout=300)
        key = mlops.get_keys("edge-svc")["primary"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        ids = set()
        for _ in range(3):
            r = httpx.post(f"http://127.0.0.1:{port}/score", json={"data": ROW}, headers={"authorization": f"Bearer {key}"})
            assert r.status_code == 200 and "label" in r.json()
            ids.add(r.headers["x-request-id"])
        # The device collects into the bundle's artifacts/ folder; copied into a workspace, it reads as usual.
        collected = out / "artifacts" / "collected"
        deadline = time.monotonic() + 30
        while not list(collected.rglob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.3)
        subprocess.run(["docker", "stop", "-t", "10", "mlops-edge-svc"], capture_output=True, timeout=60)
        shutil.copytree(collected, Path(docker_workspace.artifacts_url) / "collected", dirs_exist_ok=True)
        frame = mlops.collected_data("edge-svc")
        assert set(frame["request_id"]) == ids and (frame["model"] == "lr").all()
    finally:
        subprocess.run(["docker", "rm", "-f", "mlops-edge-svc"], capture_output=True)
        mlops.undeploy("edge-svc")


def test_docker_deployment_collects_into_the_workspace_store(image: mlops.Image) -> None:
    dep = mlops.deploy("collecting", image, target="docker", auth=False, collect=True)
    try:
        ids = {httpx.post(dep.scoring_uri, json={"data": ROW}).headers["x-request-id"] for _ in range(5)}
        deadline = time.monotonic() + 30
        while len(frame := mlops.collected_data("collecting")) < 5 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert set(frame["request_id"]) == ids and (frame["model"] == "lr").all()
    finally:
        mlops.undeploy("collecting")


def test_updating_an_edge_deployment_leaves_the_new_bundle(image: mlops.Image, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    mlops.deploy("edge-upd", image, target="edge", output_dir=str(out))
    try:
        second = mlops.build_image("lr-svc", "lr:1", progress=False)
        dep = mlops.update_deployment("edge-upd", second)
        assert dep.image == "lr-svc:2" and dep.state == "healthy"
        assert (out / "image.tar").is_file() and "jupyter-mlops/lr-svc:2" in (out / "run.sh").read_text()
    finally:
        mlops.undeploy("edge-upd")
