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

from ...errors import DeploymentError
from ...images.builder import docker_client
from ...images.context import APP_ROOT, PORT
from ...store.progress import progress_bar
from .base import DeployContext, Target, stage_tls

RUN_SH = """#!/bin/sh
# Start {name} on this device: loads the image (no registry needed), then runs it.
# HOST and PORT choose where it listens (default 0.0.0.0:{port}).
set -e
cd "$(dirname "$0")"
docker load -i image.tar
docker rm -f {container} >/dev/null 2>&1 || true
docker run -d --name {container} --restart unless-stopped \\
  -p "${{HOST:-0.0.0.0}}:${{PORT:-{port}}}:{port}" \\
  -e MLOPS_SERVER_SETTINGS='{settings}' \\
{mounts}  {tag}
echo "{name} is starting on ${{HOST:-0.0.0.0}}:${{PORT:-{port}}} (scoring URI: {scheme}://HOST:PORT/score)"
"""

COMPOSE = """services:
  {container}:
    image: {tag}
    restart: unless-stopped
    ports: ["{port}:{port}"]
    environment:
      MLOPS_SERVER_SETTINGS: '{settings}'
{volumes}"""

README = """# {name}: offline scoring service bundle

Image {image} (models: {models}), made by jupyter-mlops.

    sh run.sh                          # docker load + docker run, listening on 0.0.0.0:{port}
    HOST=127.0.0.1 PORT=8080 sh run.sh # elsewhere
    docker compose up -d               # or with compose, after `docker load -i image.tar`

Score: POST {scheme}://DEVICE:{port}/score with {{"data": [[...]]}}{auth_note}.
Health: GET /  Ready: GET /ready  Metrics: GET /metrics  API: GET /swagger.json
"""


class EdgeTarget(Target):
    name = "edge"

    def create(self, ctx: DeployContext) -> dict[str, Any]:
        image, cfg = ctx.image, ctx.config
        if not image.docker_tag:
            raise DeploymentError(f"Image {image.ref} has no Docker image to bundle.")
        out = Path(cfg.output_dir or ctx.home / "bundle")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        self._save_image(image.docker_tag, out / "image.tar")
        settings: dict[str, Any] = {"host": "0.0.0.0", "port": PORT, "workers": cfg.workers, "deployment": ctx.name,
                                    "auth": cfg.auth}
        mounts = []
        if cfg.auth:
            (out / "secrets").mkdir(mode=0o700)
            shutil.copyfile(ctx.secrets_dir / "keys.json", out / "secrets" / "keys.json")
            (out / "secrets" / "keys.json").chmod(0o600)
            settings["keys_file"] = f"{APP_ROOT}/secrets/keys.json"
            mounts.append(("secrets", f"{APP_ROOT}/secrets"))
        if cfg.tls_cert:
            settings.update(stage_tls(cfg, out / "tls", f"{APP_ROOT}/tls"))
            mounts.append(("tls", f"{APP_ROOT}/tls"))
        fmt = {"name": ctx.name, "container": f"mlops-{ctx.name}".lower(), "tag": image.docker_tag, "port": PORT,
               "settings": json.dumps(settings), "scheme": cfg.scheme, "image": image.ref,
               "models": ", ".join(image.models), "auth_note": " and Authorization: Bearer <key from secrets/keys.json>" if cfg.auth else ""}
        (out / "run.sh").write_text(RUN_SH.format(
            mounts="".join(f'  -v "$PWD/{src}:{dst}:ro" \\\n' for src, dst in mounts), **fmt))
        (out / "run.sh").chmod(0o755)
        volumes = ("    volumes:\n" + "".join(f"      - ./{src}:{dst}:ro\n" for src, dst in mounts)) if mounts else ""
        (out / "compose.yaml").write_text(COMPOSE.format(volumes=volumes, **fmt))
        (out / "README.md").write_text(README.format(**fmt))
        return {"bundle": str(out)}

    def update(self, ctx: DeployContext, old: dict[str, Any]) -> dict[str, Any]:
        """A new bundle replaces the old one in place; the base's create-then-delete would remove it."""
        new = self.create(ctx)
        if old.get("bundle") != new["bundle"]:
            self.delete(old)
        return new

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
