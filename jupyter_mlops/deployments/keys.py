"""Deployment keys: generated at deploy, kept in a 0600 file the server watches, shown on request.

A deployment behind an endpoint has no keys of its own: it reads its endpoint's file, which holds
the endpoint's keys, or (token auth) the secret that signs its tokens. Clients, direct or through
the endpoint's proxy, present the same credentials either way.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from ..errors import UsageError
from ..serving.auth import TOKEN_SECRET, make_token, write_keys_file
from ..workspace import Workspace

SLOTS = ("primary", "secondary")


def new_key() -> str:
    return secrets.token_urlsafe(32)


def endpoint_secrets_dir(ws: Workspace, endpoint: str) -> Path:
    """Where an endpoint's keys file lives; the deployments behind it mount or read it."""
    return ws.state_dir / "endpoints" / endpoint / "secrets"


def create(secrets_dir: Path, tokens: bool = False) -> dict[str, str]:
    """New keys (or, with ``tokens``, only a token-signing secret) in ``secrets_dir``."""
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    entries = {TOKEN_SECRET: secrets.token_urlsafe(48)} if tokens else {slot: new_key() for slot in SLOTS}
    write_keys_file(secrets_dir / "keys.json", entries)
    return entries


def _entries(secrets_dir: Path) -> dict[str, str]:
    try:
        return dict(json.loads((secrets_dir / "keys.json").read_text()))
    except FileNotFoundError:
        return {}


def read(secrets_dir: Path) -> dict[str, str]:
    """The keys a client may use (never the token-signing secret)."""
    return {k: v for k, v in _entries(secrets_dir).items() if k != TOKEN_SECRET}


def server_secrets(secrets_dir: Path) -> dict[str, str]:
    """Everything the server needs to check credentials: keys and the token-signing secret."""
    return _entries(secrets_dir)


def token(secrets_dir: Path, audience: str, expires_in: float) -> tuple[str, float]:
    """A token signed with the endpoint's secret, valid ``expires_in`` seconds: (token, expiry)."""
    secret = _entries(secrets_dir).get(TOKEN_SECRET)
    if not secret:
        raise UsageError(f"Endpoint {audience!r} does not use token auth.")
    now = time.time()
    expires = now + expires_in
    return make_token(secret, {"aud": audience, "iat": int(now), "exp": expires}), expires


def credential(secrets_dir: Path, audience: str) -> str | None:
    """What our own clients send: the primary key, or a short-lived token under token auth."""
    entries = _entries(secrets_dir)
    if entries.get("primary"):
        return entries["primary"]
    return token(secrets_dir, audience, 300)[0] if entries.get(TOKEN_SECRET) else None


def regenerate(secrets_dir: Path, slot: str) -> dict[str, str]:
    if slot not in SLOTS:
        raise UsageError(f"Invalid key {slot!r}: use primary or secondary.")
    entries = _entries(secrets_dir)
    entries[slot] = new_key()
    write_keys_file(secrets_dir / "keys.json", entries)
    return read(secrets_dir)
