"""Deployment keys: generated at deploy, kept in a 0600 file the server watches, shown on request."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from ..errors import UsageError
from ..serving.auth import write_keys_file

SLOTS = ("primary", "secondary")


def new_key() -> str:
    return secrets.token_urlsafe(32)


def create(secrets_dir: Path) -> dict[str, str]:
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = {slot: new_key() for slot in SLOTS}
    write_keys_file(secrets_dir / "keys.json", keys)
    return keys


def read(secrets_dir: Path) -> dict[str, str]:
    try:
        return dict(json.loads((secrets_dir / "keys.json").read_text()))
    except FileNotFoundError:
        return {}


def regenerate(secrets_dir: Path, slot: str) -> dict[str, str]:
    if slot not in SLOTS:
        raise UsageError(f"Invalid key {slot!r}: use primary or secondary.")
    keys = read(secrets_dir)
    keys[slot] = new_key()
    write_keys_file(secrets_dir / "keys.json", keys)
    return keys
