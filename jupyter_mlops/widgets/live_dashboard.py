"""LiveDashboard: the monitoring dashboard as a plotly FigureWidget that updates in place every few
seconds, with a time-window and a feature picker.

One FigureWidget holds the five charts (requests by status, latency p50/p95/p99, error rate,
predictions, per-feature drift): each FigureWidget carries plotly's 5 MB front-end bundle, so one
rather than five. Each refresh parses only the collected objects that are new since the last
(stored objects never change); when no record came or left, that is all it does. Otherwise it
redraws the traces in place.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ipywidgets
import traitlets

from .. import api
from ..display import fmt_time
from ..monitoring.dashboard import Dashboard, build_figure, figure_html
from ..monitoring.data import parse_since, read_records
from ..monitoring.service import dashboard as read_dashboard
from . import html as h
from .display import show
from .panel import Panel, action, with_snapshot

FIGURE_WIDTH = 960
WINDOWS = (("5m", "5 minutes"), ("15m", "15 minutes"), ("1h", "1 hour"), ("6h", "6 hours"), ("1d", "1 day"),
           ("7d", "7 days"))


def sync_figure(widget: Any, figure: Any) -> None:
    """Make ``widget`` (a FigureWidget) show ``figure``, updating traces in place when the set of
    traces is unchanged (the view then moves its points rather than redrawing from scratch)."""

    def shape(fig: Any) -> list[tuple[Any, ...]]:
        return [(t.type, t.name, t.xaxis, t.yaxis) for t in fig.data]

    if shape(widget) != shape(figure):
        widget.data = ()
        widget.add_traces(list(figure.data))
    with widget.batch_update():
        for old, new in zip(widget.data, figure.data):
            old.update({k: v for k, v in new.to_plotly_json().items() if k != "type"}, overwrite=True)
        widget.layout.update(figure.layout.to_plotly_json(), overwrite=True)


class DashboardControls(Panel):
    """The dashboard's header and pickers; it owns the refresh and the figure below it."""

    since = traitlets.Unicode("1h", help="The time window: 15m, 1h, 1d ...")
    picked = traitlets.List(traitlets.Unicode(), help="Features shown in the drift chart; empty: all.")

    def __init__(self, deployment: str, since: str = "1h", threshold: float = 0.2, interval: float = 5.0, *,
                 workspace: Any = None, poll: bool = True, **kwargs: Any) -> None:
        import plotly.graph_objects as go

        super().__init__(workspace=workspace, poll=poll, **kwargs)
        self.poll_interval = interval
        self.deployment, self.threshold = deployment, threshold
        self.since = since
        self.cache: dict[str, Any] = {}  # collected objects parsed so far, by name
        self.board: Dashboard | None = None
        self.figure = go.FigureWidget()
        self.updated_at: float | None = None
        self.refresh_s = 0.0  # how long the last refresh took
        self._seen: tuple[Any, ...] = ()  # what the figure was drawn from: window, records, first and last time
        self._ready()

    def refresh(self) -> None:
        start = time.perf_counter()
        ws = api.get_workspace(self.workspace)
        records = read_records(ws, self.deployment, parse_since(self.since), cache=self.cache)
        seen = (self.since, len(records), records[0]["time"], records[-1]["time"]) if records else (self.since, 0)
        if seen != self._seen or self.board is None:  # nothing new, nothing gone: the figure stands
            self.board = read_dashboard(ws, self.deployment, self.since, self.threshold, cache=self.cache)
            self._draw_figure()
            self._seen = seen
        self.updated_at = time.time()
        self.refresh_s = time.perf_counter() - start

    def _draw_figure(self) -> None:
        board = self.board
        assert board is not None
        drift = board.drift
        figure = board.figure
        if drift is not None and not drift.empty and self.picked:
            figure = build_figure(self.deployment, board.data, drift[drift["feature"].isin(self.picked)], self.threshold)
        # a widget drawn before it is on the page would take plotly's default 700 px
        figure.update_layout(width=FIGURE_WIDTH)
        sync_figure(self.figure, figure)

    @property
    def features(self) -> list[str]:
        drift = self.board.drift if self.board is not None else None
        return [] if drift is None or drift.empty else list(dict.fromkeys(drift["feature"]))

    @property
    def requests(self) -> int:
        frame = self.board.data if self.board is not None else None
        if frame is None or frame.empty:
            return 0
        return int(frame["request_id"].nunique()) if "request_id" in frame else len(frame)

    @action()
    def do_window(self, arg: Any, form: dict[str, Any]) -> None:
        self.since = str(form.get("window") or arg or "1h")
        self.refresh()

    @action()
    def do_features(self, arg: Any, form: dict[str, Any]) -> None:
        chosen = form.get("features") or []
        self.picked = [str(f) for f in chosen] if isinstance(chosen, list) else [str(chosen)]
        self._draw_figure()

    @action()
    def do_all_features(self, arg: Any, form: dict[str, Any]) -> None:
        self.picked = []
        self._draw_figure()

    def text(self) -> str:
        drifted = self.board.drifted_features if self.board is not None else []
        return (f"LiveDashboard {self.deployment}: {self.requests} requests in the last {self.since}, "
                f"drifted: {', '.join(drifted) or 'none'}")

    def body(self) -> str:
        when = fmt_time(self.updated_at)[11:19] if self.updated_at else "-"
        drifted = self.board.drifted_features if self.board is not None else []
        every = f" · every {self.poll_interval:g} s" if self.poller is not None and not self.poller.stopped else ""
        status = (f'{self.requests} requests in the last {h.esc(self.since)} · updated {h.esc(when)} UTC'
                  f'<span class="live-only">{h.esc(every)}</span>')
        chips = "".join(h.chip(f, "failed") for f in drifted) or '<span class="muted">none</span>'
        pickers = ""
        if not self.offline:
            pickers = ('<div class="row live-only">window ' + h.select("window", WINDOWS, self.since, onchange="window")
                       + (" features " + h.select("features", self.features, onchange="features", multiple=True,
                                                  selected=self.picked)
                          + h.button("All features", "all_features") if self.features else "") + "</div>")
        return (f"<h3>Live dashboard: {h.esc(self.deployment)}</h3><div class=\"row muted\">{status}</div>"
                + pickers + f'<div class="row">drifted features: {chips}</div>')


class LiveDashboard(ipywidgets.VBox):
    """``mlops.dashboard(name, live=True)``: the header with its pickers, and the figure below it."""

    def __init__(self, deployment: str, since: str = "1h", threshold: float = 0.2, interval: float = 5.0, *,
                 workspace: Any = None, poll: bool = True) -> None:
        self.controls = DashboardControls(deployment, since, threshold, interval, workspace=workspace, poll=poll)
        super().__init__([self.controls, self.controls.figure])

    @property
    def figure(self) -> Any:
        return self.controls.figure

    @property
    def board(self) -> Dashboard | None:
        """The latest static dashboard (its ``data``, ``drift``, ``drifted_features``)."""
        return self.controls.board

    @property
    def drifted_features(self) -> list[str]:
        return self.board.drifted_features if self.board is not None else []

    def refresh(self) -> None:
        self.controls.refresh()
        self.controls.redraw()

    def stop(self) -> None:
        self.controls.stop()

    def close(self) -> None:
        self.controls.close()
        self.figure.close()
        super().close()

    def to_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{self.snapshot()}</body></html>")
        return path

    def snapshot(self) -> str:
        return self.controls.snapshot() + figure_html(self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_snapshot(super()._repr_mimebundle_(**kwargs), self.snapshot(), self.controls.text())

    def _ipython_display_(self) -> None:
        show(self, self.controls.snapshot_id, self.snapshot(), self.controls.text())

    def __repr__(self) -> str:
        return self.controls.text()
