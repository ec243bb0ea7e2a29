"""``edge``: an offline bundle for a device with Docker and no registry access.

The bundle holds the saved image (``image.tar``), ``run.sh`` (``docker load`` then ``docker run``),
``compose.yaml``, the keys, the TLS files if any, and a README. Nothing runs here: its state is
healthy while the bundle is complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ...artifacts.progress import progress_bar
from ...errors import DeploymentError
from ...images.builder import docker_client
from ...images.context import APP_ROOT, PORT
from ..settings import EdgeSettings
from .base import DeployContext, Target, stage_tls
from .docker import ARTIFACTS, SPOOL

RUN_SH = """#!/bin/sh
# Start {name} on this device: loads the image (no registry needed), then runs it.
# HOST and PORT choose where it listens (default 0.0.0.0:{host_port}).
set -e
cd "$(dirname "$0")"
docker load -i image.tar
docker rm -f {container} >/dev/null 2>&1 || true
docker run -d --name {container} --restart unless-stopped \\
  -p "${{HOST:-0.0.0.0}}:${{PORT:-{host_port}}}:{port}" \\
  -e MLOPS_SERVER_SETTINGS='{settings}' {env_file}\\
{mounts}  {tag}
echo "{name} is starting on ${{HOST:-0.0.0.0}}:${{PORT:-{host_port}}} (scoring URI: {scheme}://HOST:PORT/score)"
"""

COMPOSE = """services:
  {container}:
    image: {tag}
    restart: unless-stopped
    ports: ["{host_port}:{port}"]
    environment:
      MLOPS_SERVER_SETTINGS: '{settings}'
{volumes}"""

README = """# {name}: offline scoring service bundle

Image {image} (models: {models}), made by jupyter-mlops.

    sh run.sh                          # docker load + docker run, listening on 0.0.0.0:{host_port}
    HOST=127.0.0.1 PORT=8080 sh run.sh # elsewhere
    docker compose up -d               # or with compose, after `docker load -i image.tar`

Score: POST {scheme}://DEVICE:{host_port}/score with {{"data": [[...]]}}{auth_note}.
Health: GET /  Ready: GET /ready  Metrics: GET /metrics  API: GET /swagger.json
"""


class EdgeTarget(Target):
    name = "edge"
    settings = EdgeSettings

    def create(self, ctx: DeployContext) -> dict[str, Any]:
        image, cfg = ctx.image, ctx.config
        if not image.docker_tag:
            raise DeploymentError(f"Image {image.ref} has no Docker image to bundle.")
        out = Path(cfg.output_dir or ctx.home / "bundle")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        self._save_image(image.docker_tag, out / "image.tar")
        mounts: list[tuple[str, str, str]] = []  # (bundle folder, where the container sees it, ro or rw)
        if cfg.auth:
            (out / "secrets").mkdir(mode=0o700)
            shutil.copyfile(ctx.secrets_dir / "keys.json", out / "secrets" / "keys.json")
            (out / "secrets" / "keys.json").chmod(0o600)
            mounts.append(("secrets", f"{APP_ROOT}/secrets", "ro"))
        tls = None
        if cfg.tls_cert:
            tls = stage_tls(cfg, out / "tls", f"{APP_ROOT}/tls")
            mounts.append(("tls", f"{APP_ROOT}/tls", "ro"))
        env_file = ""
        collect_to = None
        if cfg.collect:
            collect_to = self._collect_place(ctx, out, mounts)
            env_file = "--env-file store.env " if (out / "store.env").exists() else ""
        settings = ctx.server_settings(host="0.0.0.0", port=PORT, keys_file=f"{APP_ROOT}/secrets/keys.json", tls=tls,
                                       collect_to=collect_to)
        fmt = {"name": ctx.name, "container": f"mlops-{ctx.name}".lower(), "tag": image.docker_tag, "port": PORT,
               "host_port": cfg.port, "settings": json.dumps(settings), "scheme": cfg.scheme, "image": image.ref,
               "models": ", ".join(image.models), "env_file": env_file,
               "auth_note": " and Authorization: Bearer <key from secrets/keys.json>" if cfg.auth else ""}
        (out / "run.sh").write_text(RUN_SH.format(
            mounts="".join(f'  -v "$PWD/{src}:{dst}:{mode}" \\\n' for src, dst, mode in mounts), **fmt))
        (out / "run.sh").chmod(0o755)
        volumes = "    volumes:\n" + "".join(f"      - ./{src}:{dst}:{mode}\n" for src, dst, mode in mounts)
        env = "    env_file: [store.env]\n" if env_file else ""
        (out / "compose.yaml").write_text(COMPOSE.format(volumes=(volumes if mounts else "") + env, **fmt))
        (out / "README.md").write_text(README.format(**fmt))
        return {"bundle": str(out)}

    def update(self, ctx: DeployContext, old: dict[str, Any]) -> dict[str, Any]:
        """A new bundle replaces the old one in place; the base's create-then-delete would remove it."""
        new = self.create(ctx)
        if old.get("bundle") != new["bundle"]:
            self.delete(old)
        return new

    @staticmethod
    def _collect_place(ctx: DeployContext, out: Path, mounts: list[tuple[str, str, str]]) -> tuple[str, str]:
        """Where the device's server collects to: the workspace's Azure Blob store when it has one (the
        connection string in ``store.env``, 0600), else the bundle's ``artifacts/`` folder."""
        (out / "spool").mkdir(mode=0o777)
        (out / "spool").chmod(0o777)
        mounts.append(("spool", SPOOL, "rw"))
        cs = ctx.azure_connection_string()
        if cs is not None:
            (out / "store.env").write_text(f"AZURE_STORAGE_CONNECTION_STRING={cs}\n")
            (out / "store.env").chmod(0o600)
            return ctx.workspace.artifacts_url, SPOOL
        (out / "artifacts").mkdir(mode=0o777)
        (out / "artifacts").chmod(0o777)
        mounts.append(("artifacts", ARTIFACTS, "rw"))
        return ARTIFACTS, SPOOL

    @staticmethod
    def _save_image(tag: str, dest: Path) -> None:
        img = docker_client().images.get(tag)
        size = int(img.attrs.get("Size", 0))
        with dest.open("wb") as f, progress_bar(size, f"saving {tag}", None) as bar:
            for chunk in img.save(named=True):
                f.write(chunk)
                bar.update(len(chunk))

    def delete(self, handle: dict[str, Any]) -> None:
        shutil.rmtree(handle.get("bundle", ""), ignore_errors=True)

    def status(self, ctx: DeployContext, handle: dict[str, Any]) -> str:
        bundle = Path(handle.get("bundle", ""))
        return "healthy" if (bundle / "image.tar").is_file() and (bundle / "run.sh").is_file() else "failed"

    def logs(self, handle: dict[str, Any], lines: int = 50) -> str:
        return f"edge bundle in {handle.get('bundle')}: runs on the device, logs are there (docker logs)."

    def scoring_uri(self, ctx: DeployContext) -> str | None:
        return None
