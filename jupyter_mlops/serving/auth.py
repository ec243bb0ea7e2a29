"""Key auth: ``Authorization: Bearer <key>``, compared in constant time against every key.

Keys come from the environment or a keys file (JSON ``{"primary": ..., "secondary": ...}``), or a
folder with one key per file (a Kubernetes Secret mounted as a volume); either is re-read when it
changes, so a regenerated key works without a restart.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from pathlib import Path


class KeyChecker:
    RECHECK_S = 1.0

    def __init__(self, keys: list[str], keys_file: str | None = None) -> None:
        self._static = [k.encode() for k in keys]
        self._file = Path(keys_file) if keys_file else None
        self._file_keys: list[bytes] = []
        self._mtime = -1.0
        self._checked = 0.0
        self._reload()

    def _reload(self) -> None:
        if self._file is None:
            return
        try:
            if self._file.is_dir():
                files = [p for p in self._file.iterdir() if not p.name.startswith(".") and p.is_file()]
                mtime = max((p.stat().st_mtime for p in files), default=0.0)
                if mtime != self._mtime:
                    self._file_keys = [k.encode() for k in (p.read_text().strip() for p in files) if k]
                    self._mtime = mtime
                return
            mtime = self._file.stat().st_mtime
            if mtime != self._mtime:
                data = json.loads(self._file.read_text())
                self._file_keys = [str(v).encode() for v in data.values() if v]
                self._mtime = mtime
        except (OSError, ValueError):
            pass  # keep the last good keys; a half-written file is retried next second

    def allows(self, authorization: str | None) -> bool:
        now = time.monotonic()
        if self._file is not None and now - self._checked > self.RECHECK_S:
            self._checked = now
            self._reload()
        if not authorization or not authorization.startswith("Bearer "):
            return False
        given = authorization[7:].strip().encode()
        ok = False
        for key in (*self._static, *self._file_keys):
            ok |= hmac.compare_digest(given, key)  # no early exit: time does not depend on which key
        return ok


def write_keys_file(path: str | os.PathLike[str], keys: dict[str, str]) -> None:
    """Write keys readable by the owner only, atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keys, f)
    os.replace(tmp, path)
