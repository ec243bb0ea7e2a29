"""Readiness: wait for a new version to report ready through its status files (not through the
shared port, which the old version may still answer); probe a running deployment's ``/ready``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ... import client
from ...errors import DeploymentError
from .base import DeployContext


def wait_ready(status_dir: Path, alive: Callable[[], bool], log_tail: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(status_dir.glob("worker-*.json")) if status_dir.is_dir() else []:
            try:
                status = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if status.get("state") == "ready":
                return
            if status.get("state") == "failed":
                raise DeploymentError(f"init() failed: {status.get('failure')}", detail=log_tail())
        if not alive():
            raise DeploymentError("The server exited before it was ready.", detail=log_tail())
        time.sleep(0.1)
    raise DeploymentError(f"Not ready after {timeout:g} s.", detail=log_tail())


def ready_state(ctx: DeployContext) -> str:
    """``healthy`` when the deployment's own address answers ``/ready`` with 200, as a client sees it."""
    try:
        status, _ = client.request(f"{ctx.base_url}/ready", cafile=ctx.config.tls_ca or ctx.config.tls_cert, timeout=3)
    except OSError:
        return "unhealthy"
    return "healthy" if status == 200 else "unhealthy"
