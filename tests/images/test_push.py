"""Images pushed to a real registry (Debian's docker-registry on 127.0.0.1) and pulled back by digest; the
kubernetes and edge targets deploy from the push."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest
import yaml

import jupyter_mlops as mlops
from jupyter_mlops.local_server import free_port
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg
from ..services import ContainerRegistry

pytestmark = [pytest.mark.docker, pytest.mark.slow]
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _registry_digest(registry: ContainerRegistry, repository: str, tag: str) -> str:
    path = repository.split("/", 1)[1]
    r = httpx.get(f"http://{registry.address}/v2/{path}/manifests/{tag}", headers={"Accept": MANIFEST})
    assert r.status_code == 200, r.text
    return r.headers["Docker-Content-Digest"]


def test_push_then_pull_gives_the_same_digest_and_edge_and_kubernetes_deploy_from_it(
        docker_workspace: Workspace, container_registry: ContainerRegistry, tmp_path: Path) -> None:
    name = f"pushed-{uuid.uuid4().hex[:8]}"
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    image = mlops.build_image(name, "lr:1", progress=False)
    client = docker.from_env()
    lines: list[str] = []
    try:
        pushed = mlops.push_image(image, container_registry.address, progress=False, echo=lines.append)
        assert pushed.reference == f"{container_registry.address}/jupyter-mlops/{name}:1"
        assert pushed.digest == _registry_digest(container_registry, pushed.repository, "1")
        assert any(line.endswith(": Pushed") for line in lines)
        assert [p.digest for p in mlops.get_image(f"{name}:1").pushes] == [pushed.digest]

        client.images.remove(pushed.reference)  # only the registry's copy is left to pull
        pulled = client.images.pull(pushed.pinned)
        assert pulled.id == image.digest and pushed.pinned in pulled.attrs["RepoDigests"]

        mlops.deploy("k8s", image, target="kubernetes", registry=container_registry.address, dry_run=True,
                     output_dir=str(tmp_path / "k8s"))
        docs = list(yaml.safe_load_all((tmp_path / "k8s" / "k8s.yaml").read_text()))
        pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == pushed.pinned

        bundle = tmp_path / "edge"
        mlops.deploy("edge", image, target="edge", registry=container_registry.address, output_dir=str(bundle),
                     auth=False)
        assert not (bundle / "image.tar").exists() and f"docker pull {pushed.pinned}" in (bundle / "run.sh").read_text()
        client.images.remove(pushed.pinned)
        port = free_port()
        subprocess.run(["sh", str(bundle / "run.sh")], env={"HOST": "127.0.0.1", "PORT": str(port), "PATH": "/usr/bin:/bin"},
                       check=True, capture_output=True, timeout=300)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.post(f"http://127.0.0.1:{port}/score", json={"data": [[0.1] * 20]}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the edge bundle's container never answered")
        assert client.containers.get("mlops-edge").image.id == image.digest

        closed = f"127.0.0.1:{free_port()}"
        with pytest.raises(mlops.PushError, match=rf"^Pushing {name}:1 to {closed} failed: .*connection refused"):
            mlops.push_image(image, closed, progress=False)
        with pytest.raises(mlops.UsageError, match=r"^Invalid registry 'http://127.0.0.1:5000': write host\[:port\]"):
            mlops.push_image(image, "http://127.0.0.1:5000")
    finally:
        subprocess.run(["docker", "rm", "-f", "mlops-edge"], capture_output=True)
        for dep in ("k8s", "edge"):
            if any(d.name == dep for d in mlops.list_deployments()):
                mlops.undeploy(dep)
        for img in client.images.list(name=f"{container_registry.address}/jupyter-mlops/{name}"):
            client.images.remove(img.id, force=True)
        mlops.delete_image(name, 1)  # and its local tag: a name made for this run
