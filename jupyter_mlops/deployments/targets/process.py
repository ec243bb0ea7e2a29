"""``process``: the server as a local subprocess. Needs no Docker; the embedded default target.

Runs in this Python environment (the image's requirements must be installed here). Updates start
the new version on the same port and stop the old only once the new is ready; the new version
takes over the old one's listening socket (serving/handoff.py), so no connection queued on it is
lost when the old one stops. Without it (an old version that offers none), SO_REUSEPORT shares the port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...appdir import write_app_dir
from ...local_server import log_tail, pid_alive, start_process, stop_process
from ..settings import ProcessSettings
from .base import DeployContext, Target
from .readiness import ready_state, wait_ready


class ProcessTarget(Target):
    name = "process"
    settings = ProcessSettings
    runs_built_images = False

    def create(self, ctx: DeployContext) -> dict[str, Any]:
        cfg = ctx.config
        vdir = ctx.new_version_dir()
        script = ctx.script_file(vdir / "script")
        write_app_dir(ctx.workspace, ctx.models(), vdir / "app", script, **ctx.server_settings(
            host=cfg.host, port=cfg.port, keys_file=str(ctx.secrets_dir / "keys.json"),
            tls=(cfg.tls_cert, cfg.tls_key or cfg.tls_cert), status_dir=str(vdir / "status"),
            previous_status_dir=str(Path(ctx.previous["dir"]) / "status") if ctx.previous else None,
            collect_to=(ctx.workspace.artifacts_url, str(ctx.home / "spool")),
        ))
        log = vdir / "server.log"
        proc = start_process(vdir / "app", log, env=ctx.store_env())
        handle = {"pid": proc.pid, "dir": str(vdir), "log": str(log)}
        try:
            ctx.started(handle)
            wait_ready(vdir / "status", lambda: pid_alive(proc.pid), lambda: log_tail(log), cfg.ready_timeout)
        except BaseException:  # a failure, or Ctrl-C during the wait: nothing keeps running
            stop_process(proc.pid, timeout=5)
            raise
        return handle

    def delete(self, handle: dict[str, Any]) -> None:
        stop_process(handle["pid"])

    def status(self, ctx: DeployContext, handle: dict[str, Any]) -> str:
        return ready_state(ctx) if pid_alive(handle["pid"]) else "failed"

    def logs(self, handle: dict[str, Any], lines: int = 50) -> str:
        return log_tail(Path(handle["log"]), lines)
