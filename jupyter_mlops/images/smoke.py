"""Smoke-test an image: run it on a free 127.0.0.1 port, wait until ready, score once, remove it."""

from __future__ import annotations

from typing import Any

from .. import client
from ..errors import DeploymentError
from ..local_server import free_port, wait_ready
from .builder import docker_client
from .context import PORT
from .records import Image


def run_container(image: Image, port: int, env: dict[str, str] | None = None, name: str | None = None,
                  labels: dict[str, str] | None = None, volumes: dict[str, Any] | None = None) -> Any:
    if not image.docker_tag:
        raise DeploymentError(
            f"Image {image.ref} has no Docker image (state {image.state!r}); build it where Docker runs.")
    return docker_client().containers.run(
        image.docker_tag, detach=True, ports={f"{PORT}/tcp": ("127.0.0.1", port)}, environment=env or {},
        name=name, labels=labels or {}, volumes=volumes or {},
    )


def wait_container_ready(container: Any, url: str, timeout: float = 120.0, cafile: str | None = None) -> None:
    def alive() -> bool:
        container.reload()
        return container.status not in ("exited", "dead")

    wait_ready(url, alive, lambda: container.logs(tail=20).decode("utf-8", "replace"), timeout, cafile)


def smoke_test(image: Image, data: Any, timeout: float = 120.0) -> Any:
    port = free_port()
    container = run_container(image, port, env={"MLOPS_WORKERS": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_container_ready(container, url, timeout)
        return client.score(f"{url}/score", data)
    finally:
        container.remove(force=True)
