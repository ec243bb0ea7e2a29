"""Push a built image to a container registry with the Docker SDK, streaming progress.

Credentials are Docker's own (``docker login`` writes them to ``~/.docker/config.json``, which the SDK
reads); nothing here sees or logs them. Docker pushes to registries on 127.0.0.0/8 over plain HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import PushError, UsageError
from .builder import docker_client
from .records import Image

_REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.\-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9]+([._\-/][a-z0-9]+)*)?")
_DONE = ("Pushed", "Layer already exists", "Mounted from")


def parse_registry(text: object) -> str:
    """``host[:port][/namespace]``, as Docker writes it in image references."""
    if not isinstance(text, str) or "://" in text or not _REGISTRY.fullmatch(text.rstrip("/")):
        raise UsageError(f"Invalid registry {text!r}: write host[:port][/namespace], e.g. 127.0.0.1:5000 or "
                         "registry.example.com/ml (no scheme).")
    return text.rstrip("/")


@dataclass(frozen=True)
class Pushed:
    repository: str
    tag: str
    digest: str


def push(image: Image, registry: str, progress: bool = True, echo: Callable[[str], None] | None = None) -> Pushed:
    """Tag the image as ``REGISTRY/<its repository>:<version>`` and push it; returns the registry's digest."""
    if not image.docker_tag:
        raise UsageError(f"Image {image.ref} has no Docker image (state {image.state!r}); build it where Docker runs.")
    repository, tag = f"{registry}/{image.docker_tag.rsplit(':', 1)[0]}", str(image.version)
    client = docker_client()
    try:
        client.images.get(image.docker_tag).tag(repository, tag)
        digest = _stream(client.api.push(repository, tag=tag, stream=True, decode=True), _Progress(progress, echo))
    except Exception as exc:
        raise PushError(f"Pushing {image.ref} to {registry} failed: {_first_line(exc)}") from None
    if digest is None:
        raise PushError(f"Pushing {image.ref} to {registry} ended without the registry's digest.")
    return Pushed(repository, tag, digest)


def _stream(chunks: Any, bar: _Progress) -> str | None:
    digest = None
    try:
        for chunk in chunks:
            if "error" in chunk:
                raise PushError(_first_line(chunk["error"]))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            bar.update(chunk)
    finally:
        bar.close()
    return digest


class _Progress:
    """Bytes pushed over all layers as a bar; each layer's outcome as a line to ``echo``."""

    def __init__(self, show: bool, echo: Callable[[str], None] | None) -> None:
        self.show, self.echo = show, echo
        self.bar: Any = None  # a tqdm bar once there is something to show
        self.layers: dict[str, tuple[int, int]] = {}  # id -> (current, total)

    def update(self, chunk: dict[str, Any]) -> None:
        layer, status, detail = chunk.get("id"), chunk.get("status", ""), chunk.get("progressDetail") or {}
        if layer and detail.get("total"):
            self.layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        if layer and status.startswith(_DONE):
            total = self.layers.get(layer, (0, 0))[1]
            self.layers[layer] = (total, total)
            if self.echo:
                self.echo(f"{layer}: {status}")
        self._draw()

    def _draw(self) -> None:
        if not self.show or not self.layers:
            return
        current, total = (sum(v) for v in zip(*self.layers.values()))
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="pushing", unit="B", unit_scale=True, leave=False)
        self.bar.total, self.bar.n = total, current
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _first_line(error: object) -> str:
    text = str(getattr(error, "explanation", None) or error).strip()
    return (text.splitlines() or ["unknown error"])[0][:300]
