"""The base of every panel: an anywidget whose view draws the ``html`` trait that Python renders.

Panel logic lives in plain methods and traits, so it runs headless: a click in the view arrives as
the comm message ``{"action": NAME, "arg": ..., "form": {...}}`` and calls ``do_NAME(arg, form)``.
Actions marked ``background=True`` (deploy, update, build, ...) run on a thread so the kernel stays
free and the panel shows their progress; :meth:`Panel.wait` waits for them. An ``MlopsError`` from
the API is shown inline in the panel (a refusal names what uses the object), never raised at the
user. Every panel carries a ``text/html`` snapshot of itself in its MIME bundle for papermill and
nbconvert, where no kernel draws the live view.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets

from ..errors import MlopsError
from . import html as h
from .display import show
from .polling import Poller

_HERE = Path(__file__).parent
Handler = Callable[..., None]
H = TypeVar("H", bound=Handler)


def action(label: str | None = None, *, background: bool = False) -> Callable[[H], H]:
    """Mark ``do_NAME(self, arg, form)`` as a user action; ``label`` is shown while it runs."""

    def mark(fn: H) -> H:
        fn._panel_action = (label, background)  # type: ignore[attr-defined]
        return fn

    return mark


def with_snapshot(bundle: Any, html: str, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A widget's MIME bundle plus ``text/html`` (what papermill and nbconvert show) and ``text/plain``."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    return {**data, "text/html": html, "text/plain": text}, metadata


class Panel(anywidget.AnyWidget):
    """A panel: ``body()`` draws it, ``refresh()`` reloads it (every ``poll_interval`` seconds while
    on screen), ``do_NAME`` methods marked with :func:`action` are what its buttons do."""

    _esm = _HERE / "panel.js"
    _css = _HERE / "panel.css"

    html = traitlets.Unicode("").tag(sync=True)
    snapshot_id = traitlets.Unicode(help="Marks this panel's snapshot output, which its live view hides.").tag(sync=True)
    error = traitlets.Unicode("", help="The last action's refusal or failure, one line, shown inline.")
    notice = traitlets.Unicode("", help="The last action's outcome.")
    busy = traitlets.Unicode("", help="What runs in the background now; empty when idle.")
    # the front end counts the views on screen (ipywidgets' experimental view tracking)
    _view_count = traitlets.Int(0, allow_none=True).tag(sync=True)

    poll_interval: float | None = None  # seconds between refreshes; None: no polling

    def __init__(self, *, workspace: Any = None, poll: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.form: dict[str, Any] = {}  # the values of the view's inputs, as last sent
        self._job: threading.Thread | None = None
        self._job_started = 0.0
        self._seen_view = False
        self._render_lock = threading.RLock()
        self.offline = False
        self._poll_wanted = poll
        self.poller: Poller | None = None
        self.on_msg(self._on_msg)
        self.observe(self._on_views, names="_view_count")

    def _ready(self) -> None:
        """Subclasses call this last in ``__init__``: load, draw, start refreshing."""
        self.refresh()
        self.redraw()
        self.observe(lambda _change: self.redraw(), names=["error", "notice", "busy"])
        if self._poll_wanted and self.poll_interval:
            self.poller = Poller(self.poll_interval, self._poll, self._on_screen).start()

    # --- what subclasses write --------------------------------------------------------------------
    def body(self) -> str:
        """The panel's HTML (controls included; the snapshot hides them)."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Reload what the panel shows from the API (the poller calls this)."""

    def text(self) -> str:
        """A one-paragraph plain-text summary (``text/plain``)."""
        return type(self).__name__

    # --- drawing ------------------------------------------------------------------------------------
    def redraw(self) -> None:
        with self._render_lock:
            self.html = self.body() + h.messages(self.error, self.notice, self.busy)

    def snapshot(self) -> str:
        """The panel as it stands, as static HTML: no controls, no secrets (``offline`` is True
        while ``body`` draws it)."""
        with self._render_lock:
            self.offline = True
            try:
                return h.snapshot(self.body() + h.messages(self.error, self.notice, ""))
            finally:
                self.offline = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_snapshot(super()._repr_mimebundle_(**kwargs), self.snapshot(), self.text())

    def _ipython_display_(self) -> None:
        show(self, self.snapshot_id, self.snapshot(), self.text())

    @traitlets.default("snapshot_id")
    def _new_snapshot_id(self) -> str:
        return uuid.uuid4().hex

    def __repr__(self) -> str:
        return self.text()

    # --- actions ------------------------------------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and "action" in content:
            self.dispatch(str(content["action"]), content.get("arg"), content.get("form") or {})

    def dispatch(self, name: str, arg: Any = None, form: dict[str, Any] | None = None) -> None:
        """Run action ``name`` as a click in the view would."""
        handler = getattr(self, f"do_{name}", None)
        marker = getattr(handler, "_panel_action", None)
        if marker is None:
            self.error = f"Unknown action {name!r}."
            return
        self.form.update(form or {})
        label, background = marker
        assert handler is not None
        if not background:
            self._run(handler, arg, label)
            return
        if self._job is not None and self._job.is_alive():
            self.error = f"Wait: {self.busy or 'an action'} is still running."
            return
        self._job = threading.Thread(target=self._run, args=(handler, arg, label), daemon=True,
                                     name=f"mlops-panel-{name}")
        self._job_started = time.monotonic()
        self.busy = label or name
        self._job.start()

    def _run(self, handler: Handler, arg: Any, label: str | None) -> None:
        self.error, self.notice = "", ""
        try:
            handler(arg, self.form)
        except MlopsError as exc:
            self.error = str(exc)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if threading.current_thread() is self._job:
                self.busy = ""
            self.redraw()

    def elapsed(self) -> float:
        """Seconds the running background action has taken so far."""
        return time.monotonic() - self._job_started if self.busy else 0.0

    def wait(self, timeout: float = 120.0) -> None:
        """Wait until the background action (if any) is done."""
        if self._job is not None:
            self._job.join(timeout)
            if self._job.is_alive():
                raise TimeoutError(f"{self.busy} still running after {timeout:g} s")

    # --- polling --------------------------------------------------------------------------------------
    def _poll(self) -> None:
        try:
            self.refresh()
        except MlopsError as exc:
            self.error = str(exc)
        except Exception as exc:
            self.error = f"Refresh failed: {type(exc).__name__}: {exc}"
        self.redraw()

    def _on_screen(self) -> bool:
        return not (self._seen_view and not self._view_count)

    def _on_views(self, change: dict[str, Any]) -> None:
        if change["new"] and not change["old"] and self.poller is not None:
            self.poller.wake()  # (back) on screen: refresh now
        self._seen_view = self._seen_view or bool(change["new"])

    @traitlets.observe("comm")
    def _watch_comm(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:  # the front end closed the comm (the kernel is going away)
            change["new"].on_close(lambda _msg: self.stop())

    def stop(self) -> None:
        """Stop refreshing (closing the panel does this too)."""
        if self.poller is not None:
            self.poller.stop()

    def close(self) -> None:
        self.stop()
        super().close()
