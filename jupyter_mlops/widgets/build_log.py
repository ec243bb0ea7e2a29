"""BuildLog: what ``build_image`` shows in a notebook. The Docker steps stream with their cache hits;
then a summary stays (duration, size, layers reused, the log on demand); a failure shows the log tail."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import traitlets

from ..display import fmt_size
from ..errors import MlopsError
from ..images.records import Image
from . import html as h
from .display import show, snapshot_bundle
from .panel import Panel

TAIL = 14  # lines of live output shown while building
KEEP = 400  # lines in the log shown on demand (the image record keeps the whole log)
REDRAW_S = 0.25  # at most four redraws a second for lines between steps


class BuildLog(Panel):
    """Follows one image build. ``phase``: starting, context (resolving the wheelhouse), building,
    then succeeded, context (no Docker: the build context only) or failed."""

    phase = traitlets.Unicode("starting")
    steps: Any = traitlets.List(help="[{'n', 'total', 'instruction', 'cached'}] as Docker reports them")

    def __init__(self, name: str, *, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(workspace=workspace, poll=False, **kwargs)
        self.name = name
        self.lines: list[str] = []
        self.image: Image | None = None
        self.failure = ""
        self.failure_log = ""
        self.started = time.monotonic()
        self.duration: float | None = None
        self._drawn_at = 0.0
        self._display: Any = None
        self._ready()

    @classmethod
    def in_notebook(cls, name: str) -> BuildLog | None:
        """A BuildLog shown in the running notebook, or None outside a notebook kernel."""
        if "ipykernel" not in sys.modules:
            return None
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return None
        panel = cls(name)
        panel._display = show(panel, panel.snapshot_id, panel.snapshot(), panel.text())
        return panel

    def follow(self, build: Callable[..., Image]) -> Image:
        """Run ``build(progress=self, echo=self.line)`` and show how it went; raises as it does."""
        try:
            image = build(progress=self, echo=self.line)
        except MlopsError as exc:
            self._end(failure=str(exc), log=exc.detail or "")
            raise
        except BaseException as exc:
            self._end(failure=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, log="")
            raise
        self._end(image=image)
        return image

    # --- the builder's progress protocol (images.builder.BuildProgress) -----------------------------------
    def line(self, text: str) -> None:
        self.lines.append(text)
        if self.phase == "starting":
            self.phase = "context"
        self._draw_soon()

    def step(self, n: int, total: int, text: str) -> None:
        self.phase = "building"
        self.steps = [*self.steps, {"n": n, "total": total, "instruction": text, "cached": False}]
        self.redraw()  # every step is drawn; plain lines at most every REDRAW_S

    def cached(self, n: int) -> None:
        self.steps = [dict(s, cached=True) if s["n"] == n else s for s in self.steps]

    def done(self, result: Any) -> None:
        """Docker finished; the summary waits for the registered image (:meth:`follow`)."""

    def failed(self, error: MlopsError) -> None:
        """Docker failed; :meth:`follow` shows it once the registry has recorded it."""

    # --- state -------------------------------------------------------------------------------------------
    def _end(self, image: Image | None = None, failure: str = "", log: str = "") -> None:
        self.duration = time.monotonic() - self.started
        self.image, self.failure = image, failure
        self.failure_log = log or "\n".join(self.lines[-25:])
        self.phase = image.state if image is not None else "failed"
        self.redraw()
        if self._display is not None:  # the summary replaces the live view, for every reader
            snapshot, view = self._display
            snapshot.update({"text/plain": ""}, raw=True)
            view.update(snapshot_bundle(self.snapshot(), self.text()), raw=True)

    def _draw_soon(self) -> None:
        now = time.monotonic()
        if now - self._drawn_at >= REDRAW_S:
            self._drawn_at = now
            self.redraw()

    @property
    def reused(self) -> int:
        return sum(1 for s in self.steps if s["cached"])

    # --- drawing -----------------------------------------------------------------------------------------
    def text(self) -> str:
        if self.phase == "failed":
            return f"BuildLog {self.name}: failed after {self.duration:.1f} s: {self.failure}"
        if self.image is not None:
            return f"BuildLog {self.image.ref}: {self.image.state} in {self.duration:.1f} s, {self._reuse_text()}"
        return f"BuildLog {self.name}: {self.phase}, {len(self.lines)} log lines"

    def _reuse_text(self) -> str:
        return f"{self.reused} of {len(self.steps)} steps reused from cache" if self.steps else "no Docker steps"

    def body(self) -> str:
        if self.image is not None:
            return self._summary()
        if self.phase == "failed":
            return (f"<h3>{h.dot('failed')} Build of image {h.esc(self.name)} failed after {self.duration:.1f} s</h3>"
                    f'<div class="error">{h.esc(self.failure)}</div>' + h.pre(self.failure_log)
                    + self._steps_html() + self._full_log())
        elapsed = time.monotonic() - self.started
        title = {"starting": "starting", "context": "writing the build context"}.get(self.phase, "building")
        current = self.steps[-1] if self.steps else None
        bar = ""
        if current:
            bar = (f'<div class="row"><progress value="{current["n"]}" max="{current["total"]}"></progress>'
                   f' step {current["n"]}/{current["total"]}: {h.esc(current["instruction"][:90])}</div>')
        return (f"<h3>{h.dot('building')} Image {h.esc(self.name)}: {title} ({elapsed:.0f} s)</h3>" + bar
                + self._steps_html() + h.pre("\n".join(self.lines[-TAIL:]) or "waiting for output…", scroll="log"))

    def _steps_html(self) -> str:
        if not self.steps:
            return ""
        items = "".join(f"<li>{h.esc(s['n'])}/{h.esc(s['total'])} {h.esc(s['instruction'][:110])} "
                        f"{h.chip('cached', 'cached') if s['cached'] else ''}</li>" for s in self.steps)
        return f'<ul class="steps">{items}</ul>'

    def _summary(self) -> str:
        image = self.image
        assert image is not None
        if image.state == "context":
            head = f"<h3>{h.dot('succeeded')} Build context of {h.esc(image.ref)} written in {self.duration:.1f} s (no Docker)</h3>"
        else:
            head = f"<h3>{h.dot(image.state)} Built {h.esc(image.ref)} in {self.duration:.1f} s</h3>"
        facts = h.kv_table([
            ("image", h.esc(image.ref)), ("models", h.esc(", ".join(image.models))),
            ("size", h.esc(fmt_size(image.size) or "-")), ("layers reused", h.esc(self._reuse_text())),
            ("docker tag", h.esc(image.docker_tag or "-")), ("digest", h.esc((image.digest or "-")[:19])),
        ])
        return head + facts + self._full_log()

    def _full_log(self) -> str:
        shown = self.lines[-KEEP:]
        more = f", last {KEEP}" if len(self.lines) > KEEP else ""
        return (f"<details><summary>Build log ({len(self.lines)} lines{more})</summary>"
                f"{h.pre(chr(10).join(shown))}</details>")
