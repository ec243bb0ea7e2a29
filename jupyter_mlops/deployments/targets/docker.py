"""``docker``: a container on this host, its metadata also in container labels.

Containers use the host's network, so an update runs old and new side by side on one scoring URI,
exactly as the process target does: the new container takes over the old one's listening socket,
offered in the old version's status folder, which it mounts (serving/handoff.py).
Keys, TLS files and readiness status are mounted folders: a regenerated key needs no rebuild.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import DeploymentError
from ...images.builder import docker_client
from ...images.context import APP_ROOT
from ..settings import DockerSettings
from .base import DeployContext, Target, stage_tls
from .readiness import ready_state, wait_ready

SECRETS, TLS, STATUS = f"{APP_ROOT}/secrets", f"{APP_ROOT}/tls", f"{APP_ROOT}/status"
SPOOL, ARTIFACTS = f"{APP_ROOT}/spool", "/var/jupyter-mlops/artifacts"
PREVIOUS = f"{APP_ROOT}/previous"  # the status folder of the version an update replaces


class DockerTarget(Target):
    name = "docker"
    settings = DockerSettings

    def create(self, ctx: DeployContext) -> dict[str, Any]:
        cfg, image = ctx.config, ctx.image
        if not image.docker_tag:
            raise DeploymentError(f"Image {image.ref} has no Docker image (state {image.state!r}).")
        vdir = ctx.new_version_dir()
        (vdir / "status").mkdir(mode=0o777)
        (vdir / "status").chmod(0o777)
        volumes = {str(vdir / "status"): {"bind": STATUS, "mode": "rw"}}
        if cfg.auth:
            volumes[str(ctx.secrets_dir)] = {"bind": SECRETS, "mode": "ro"}
        tls = None
        if cfg.tls_cert:
            tls = stage_tls(cfg, vdir / "tls", TLS)
            volumes[str(vdir / "tls")] = {"bind": TLS, "mode": "ro"}
        store = ctx.workspace.artifacts_url
        if cfg.collect:
            if "://" not in store:  # a local artifact folder: the container writes into it through a mount
                Path(store).mkdir(parents=True, exist_ok=True)
                volumes[store] = {"bind": ARTIFACTS, "mode": "rw"}
                store = ARTIFACTS
            (ctx.home / "spool").mkdir(parents=True, exist_ok=True)
            volumes[str(ctx.home / "spool")] = {"bind": SPOOL, "mode": "rw"}
        if ctx.previous:
            volumes[str(Path(ctx.previous["dir"]) / "status")] = {"bind": PREVIOUS, "mode": "rw"}
        settings = ctx.server_settings(host=cfg.host, port=cfg.port, keys_file=f"{SECRETS}/keys.json", tls=tls,
                                       status_dir=STATUS, previous_status_dir=PREVIOUS if ctx.previous else None,
                                       collect_to=(store, SPOOL))
        labels = {"org.jupyter-mlops.deployment": ctx.name, "org.jupyter-mlops.image": image.ref,
                  "org.jupyter-mlops.models": ",".join(image.models), "org.jupyter-mlops.port": str(cfg.port)}
        client = docker_client()
        container = client.containers.run(
            image.docker_tag, detach=True, network_mode="host", name=f"mlops-{ctx.name}-{vdir.name}".lower(),
            environment={"MLOPS_SERVER_SETTINGS": json.dumps(settings), **ctx.store_env()}, volumes=volumes,
            labels=labels,
            **_limits(cfg.cpu, cfg.memory),
        )
        handle = {"container": container.id, "dir": str(vdir)}

        def alive() -> bool:
            container.reload()
            return container.status in ("created", "running")

        try:
            ctx.started(handle)
            wait_ready(vdir / "status", alive, lambda: self.logs(handle, 20), cfg.ready_timeout)
        except BaseException:  # a failure, or Ctrl-C during the wait: nothing keeps running
            self.delete(handle)
            raise
        return handle

    def delete(self, handle: dict[str, Any]) -> None:
        import docker

        try:
            container = docker_client().containers.get(handle["container"])
        except docker.errors.NotFound:
            return
        container.stop(timeout=30)  # SIGTERM: the server drains, then exits
        container.remove(force=True)

    def status(self, ctx: DeployContext, handle: dict[str, Any]) -> str:
        import docker

        try:
            container = docker_client().containers.get(handle["container"])
        except docker.errors.NotFound:
            return "failed"
        if container.status != "running":
            return "failed"
        # Not Docker's health flag: the same probe from inside, and wrong in images built before
        # their health check read the server's real port.
        return ready_state(ctx)

    def logs(self, handle: dict[str, Any], lines: int = 50) -> str:
        import docker

        try:
            container = docker_client().containers.get(handle["container"])
        except docker.errors.NotFound:
            return ""
        return container.logs(tail=lines).decode("utf-8", "replace")


def _limits(cpu: str | None, memory: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cpu:
        out["nano_cpus"] = int(float(str(cpu).rstrip("m")) * (1e6 if str(cpu).endswith("m") else 1e9))
    if memory:
        out["mem_limit"] = _docker_memory(str(memory))
    return out


def _docker_memory(text: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for k8s, docker_unit in units.items():
        if text.endswith(k8s):
            return text[: -len(k8s)] + docker_unit
    return text
