"""Build a context with the Docker SDK, streaming the log as progress; failures say why in one line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import BuildError

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")


@dataclass
class BuildResult:
    image_id: str
    size: int
    log: str
    steps: list[dict[str, Any]] = field(default_factory=list)  # {"n", "instruction", "cached"}

    @property
    def cached_steps(self) -> int:
        return sum(1 for s in self.steps if s["cached"])


def docker_client():
    """A client for the local engine, or a one-line error saying none answers."""
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160]
        raise BuildError(f"No Docker engine answers ({reason}); start dockerd or use the process target.") from None
    return client


class BuildProgress(Protocol):
    """What follows a build as it runs (the notebook's BuildLog panel, or the progress bar below)."""

    def step(self, n: int, total: int, text: str) -> None: ...
    def line(self, text: str) -> None: ...
    def cached(self, n: int) -> None: ...
    def done(self, result: BuildResult) -> None: ...
    def failed(self, error: BuildError) -> None: ...


class _Progress:
    """Build steps as a progress bar (tqdm: text in a terminal), step lines to ``echo``."""

    def __init__(self, show: bool, echo: Callable[[str], None] | None) -> None:
        self.show, self.echo = show, echo
        self.bar: Any = None

    def line(self, text: str) -> None:
        pass

    def cached(self, n: int) -> None:
        pass

    def done(self, result: BuildResult) -> None:
        self.close()

    def failed(self, error: BuildError) -> None:
        self.close()

    def step(self, n: int, total: int, text: str) -> None:
        if self.echo:
            self.echo(f"Step {n}/{total} : {text}")
        if not self.show:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="building", unit="step", leave=False)
        bar = self.bar
        bar.n = n - 1
        bar.set_postfix_str(text[:50])
        bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.n = self.bar.total
            self.bar.refresh()
            self.bar.close()


def build(context: Path, tag: str, labels: dict[str, str], progress: bool | BuildProgress = True,
          echo: Callable[[str], None] | None = None, nocache: bool = False) -> BuildResult:
    """``progress``: True for a progress bar, False for none, or a :class:`BuildProgress` that
    gets every log line (``echo`` then gets nothing from here)."""
    bar = _Progress(progress, echo) if isinstance(progress, bool) else progress
    try:
        result = _build(context, tag, labels, bar, nocache)
    except BuildError as exc:
        bar.failed(exc)
        raise
    except BaseException:
        bar.failed(BuildError("The build was interrupted."))
        raise
    bar.done(result)
    return result


def _build(context: Path, tag: str, labels: dict[str, str], bar: BuildProgress, nocache: bool) -> BuildResult:
    client = docker_client()
    lines: list[str] = []
    steps: list[dict[str, Any]] = []
    image_id = None
    try:
        for chunk in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True,
                                      labels=labels, pull=False, nocache=nocache):
            if "error" in chunk:
                lines.append(chunk["error"].rstrip())
                raise BuildError(_cause(chunk["error"], lines), detail="\n".join(lines[-25:]))
            text = chunk.get("stream", "")
            if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            for line in text.splitlines():
                line = line.rstrip()
                if not line:
                    continue
                lines.append(line)
                bar.line(line)
                m = _STEP.match(line)
                if m:
                    steps.append({"n": int(m.group(1)), "instruction": m.group(3), "cached": False})
                    bar.step(int(m.group(1)), int(m.group(2)), m.group(3))
                elif "Using cache" in line and steps:
                    steps[-1]["cached"] = True
                    bar.cached(steps[-1]["n"])
    except BuildError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200]
        raise BuildError(f"Docker build failed: {reason}", detail="\n".join(lines[-25:])) from None
    image = client.images.get(image_id or tag)
    return BuildResult(image_id=image.id, size=int(image.attrs.get("Size", 0)), log="\n".join(lines), steps=steps)


def _cause(error: str, lines: list[str]) -> str:
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    hint = next((ln for ln in reversed(lines) if ln.lstrip().startswith("ERROR:")), None)
    if hint:
        return f"Docker build failed: {hint.strip().removeprefix('ERROR: ')}"
    return f"Docker build failed: {first[:300]}"
