"""Key auth: ``Authorization: Bearer <key>``, compared in constant time against every key.

Keys come from the environment or a keys file (JSON ``{"primary": ..., "secondary": ...}``), or a
folder with one key per file (a Kubernetes Secret mounted as a volume); either is re-read when it
changes, so a regenerated key works without a restart.

Expiring tokens (an endpoint with token auth): the same file or folder may hold a ``token_secret``
entry, which is never a key itself; a bearer that is a JWT (HS256) signed with it and not past its
``exp`` is let in. Standard JWTs, so PyJWT and other libraries make and read them; made and checked
here with the standard library so the server's image needs no more dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

TOKEN_SECRET = "token_secret"


class KeyChecker:
    RECHECK_S = 1.0

    def __init__(self, keys: list[str], keys_file: str | None = None) -> None:
        self._static = [k.encode() for k in keys]
        self._file = Path(keys_file) if keys_file else None
        self._file_keys: list[bytes] = []
        self._token_secret: bytes | None = None
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
                    self._use({p.name: p.read_text().strip() for p in files})
                    self._mtime = mtime
                return
            mtime = self._file.stat().st_mtime
            if mtime != self._mtime:
                self._use({str(k): str(v) for k, v in json.loads(self._file.read_text()).items()})
                self._mtime = mtime
        except (OSError, ValueError):
            pass  # keep the last good keys; a half-written file is retried next second

    def _use(self, entries: dict[str, str]) -> None:
        secret = entries.pop(TOKEN_SECRET, "")
        self._token_secret = secret.encode() if secret else None
        self._file_keys = [v.encode() for v in entries.values() if v]

    def allows(self, authorization: str | None) -> bool:
        now = time.monotonic()
        if self._file is not None and now - self._checked > self.RECHECK_S:
            self._checked = now
            self._reload()
        if not authorization or not authorization.startswith("Bearer "):
            return False
        given = authorization[7:].strip().encode()
        if self._token_secret is not None and given.count(b".") == 2:
            return token_valid(given, self._token_secret)
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


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


_HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def make_token(secret: str, claims: dict[str, Any]) -> str:
    """A JWT (HS256) of ``claims`` (which should carry ``exp``, seconds since the epoch)."""
    signing = _HEADER + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    return (signing + b"." + _b64(hmac.new(secret.encode(), signing, hashlib.sha256).digest())).decode()


def token_valid(token: bytes, secret: bytes, now: float | None = None) -> bool:
    """A JWT signed with ``secret`` by HS256 (no other algorithm is accepted), with an ``exp`` in
    the future. The signature is compared in constant time before anything else is trusted."""
    try:
        header, payload, signature = token.split(b".")
        expected = hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
        if not hmac.compare_digest(_unb64(signature), expected):
            return False
        if json.loads(_unb64(header)).get("alg") != "HS256":
            return False
        exp = json.loads(_unb64(payload)).get("exp")
    except (ValueError, AttributeError, TypeError):
        return False
    return isinstance(exp, (int, float)) and exp > (time.time() if now is None else now)
