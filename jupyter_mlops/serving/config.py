"""The server's settings: a JSON file written next to the models, overridden by environment variables.

Keys never go into the file or onto a command line: they come from ``$MLOPS_AUTH_KEYS``
(comma-separated) or a keys file that the server re-reads when it changes (key regeneration
without a restart).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_ENV = "MLOPS_SERVER_CONFIG"
KEYS_ENV = "MLOPS_AUTH_KEYS"


@dataclass
class ServerConfig:
    app_dir: str = "."
    models: list[dict[str, Any]] = field(default_factory=list)  # {"name", "version", "framework", "path"}
    script: str | None = None  # relative to app_dir
    host: str = "127.0.0.1"
    port: int = 5001
    workers: int = 0  # 0: one per core
    auth: bool = False
    keys_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    max_batch_size: int = 0  # 0: batching off
    max_batch_delay_ms: float = 2.0
    coalesce: bool = True  # requests read in the same turn of the loop share a run (coalescing.py)
    busy_poll_us: int = 250  # after answering a lone client, poll this long before sleeping (polling.py); 0: off
    max_body_bytes: int = 32 * 1024 * 1024
    scoring_timeout_s: float = 60.0
    intra_op_threads: int = 0  # 0: 1 per worker when several workers share the cores
    deployment: str | None = None
    log_level: str = "info"
    # Deployments: load before listening (a new version on a shared port takes no traffic until it
    # can answer), report readiness as files in status_dir, and on SIGTERM drain for drain_s seconds.
    # Inference data collection (see collector.py): to collect_store (an artifact store URL).
    collect: bool = False
    collect_sample_rate: float = 1.0
    collect_store: str | None = None
    collect_spool_dir: str | None = None
    collect_max_spool_bytes: int = 256 * 1024 * 1024
    collect_flush_s: float = 1.0
    listen_when_ready: bool = False
    status_dir: str | None = None
    drain_s: float = 0.0
    # Updates: offer the listening socket to the next version at this Unix socket path; take the
    # previous version's from that one instead of binding (handoff.py)
    listener_offer: str | None = None
    listener_from: str | None = None
    # Connection limits, per worker (enforced in protocol.py): a longer header gets 431; a header not whole
    # within header_timeout_s, or a body that sends nothing for body_timeout_s, gets 408; a connection
    # idle for keep_alive_timeout_s is closed; past max_connections the oldest idle one is closed to
    # make room, or the new one gets 503 when none is idle.
    header_max_bytes: int = 32 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_timeout_s: float = 30.0
    max_connections: int = 1024
    # The supervisor restarts a worker that dies; after this many crashes in a row (no minute without
    # one between them) it stops the server with exit status 1.
    max_worker_restarts: int = 5
    auth_keys: list[str] = field(default_factory=list, repr=False)  # never written to the file

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> ServerConfig:
        path = path or os.environ.get(CONFIG_ENV)
        data: dict[str, Any] = {}
        if path:
            data = json.loads(Path(path).read_text())
            data["app_dir"] = str(Path(path).resolve().parent)  # the file travels with its folder
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known and k != "auth_keys"})
        config.apply_env(os.environ)
        return config

    def apply_env(self, env: Any) -> None:
        """``MLOPS_HOST``, ``MLOPS_PORT``, ``MLOPS_WORKERS`` and ``MLOPS_LOG_LEVEL`` (an image's
        defaults), then ``MLOPS_SERVER_SETTINGS`` (a JSON object of fields: what the deployment
        says, so it wins), then ``MLOPS_AUTH_KEYS``: how a container is told where it runs without
        rebuilding its image."""
        for name, cast in (("host", str), ("port", int), ("workers", int), ("log_level", str)):
            value = env.get(f"MLOPS_{name.upper()}")
            if value:
                setattr(self, name, cast(value))
        if env.get("MLOPS_SERVER_SETTINGS"):
            known = {f.name for f in fields(self)} - {"auth_keys", "app_dir", "models", "script"}
            for key, value in json.loads(env["MLOPS_SERVER_SETTINGS"]).items():
                if key in known:
                    setattr(self, key, value)
        if env.get(KEYS_ENV):
            self.auth_keys = [k for k in env[KEYS_ENV].split(",") if k]
            self.auth = True

    def save(self, path: str | os.PathLike[str]) -> None:
        data = asdict(self)
        data.pop("auth_keys")
        data.pop("app_dir")  # wherever server.json lies is the app folder (host, image, bundle)
        Path(path).write_text(json.dumps(data, indent=2))

    @property
    def app_path(self) -> Path:
        return Path(self.app_dir)

    def resolved_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def __repr__(self) -> str:
        refs = [f"{m['name']}:{m['version']}" for m in self.models]
        return f"ServerConfig(models={refs}, port={self.port}, auth={self.auth})"
