"""DeploymentList: every deployment with a state dot, refreshed; click one to open its panel below."""

from __future__ import annotations

from typing import Any

import ipywidgets
import traitlets

from .. import api
from ..display import fmt_kv, fmt_time
from . import html as h
from .deployment_panel import DeploymentPanel
from .display import show
from .panel import Panel, action, with_snapshot


class DeploymentTable(Panel):
    """The list itself (a panel); :class:`DeploymentList` puts the opened deployment under it."""

    poll_interval = 5.0
    opened = traitlets.Unicode("", help="The deployment whose panel is open below the list.")

    def __init__(self, model: str | None = None, image: str | None = None, tags: Any = None, *,
                 workspace: Any = None, poll: bool = True, **kwargs: Any) -> None:
        super().__init__(workspace=workspace, poll=poll, **kwargs)
        self.filters = {"model": model, "image": image, "tags": tags}
        self.deployments: list[Any] = []
        self._ready()

    def refresh(self) -> None:
        self.deployments = list(api.list_deployments(**self.filters, workspace=self.workspace))

    @action()
    def do_open(self, arg: Any, form: dict[str, Any]) -> None:
        self.opened = "" if arg == self.opened else str(arg)

    @action()
    def do_refresh(self, arg: Any, form: dict[str, Any]) -> None:
        self.refresh()

    def text(self) -> str:
        return "DeploymentList: " + (", ".join(f"{d.name} ({d.state})" for d in self.deployments) or "none")

    def body(self) -> str:
        rows = [[h.dot(d.state), f"<strong>{h.esc(d.name)}</strong>", h.esc(d.state), h.esc(d.image), h.esc(d.target),
                 h.esc(d.scoring_uri or ""), h.esc(fmt_kv(d.tags)), h.esc(fmt_time(d.updated_at))] for d in self.deployments]
        acts = [("open", d.name) for d in self.deployments]
        selected = next((i for i, d in enumerate(self.deployments) if d.name == self.opened), None)
        counts: dict[str, int] = {}
        for d in self.deployments:
            counts[d.state] = counts.get(d.state, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        return (f'<h3>Deployments <span class="muted">{h.esc(summary)}</span>'
                f'<span class="live-only">{h.button("Refresh", "refresh")}</span></h3>'
                + h.table(["", "name", "state", "image", "target", "scoring URI", "tags", "updated"], rows, acts, selected)
                + '<div class="muted live-only">Click a deployment to open its panel.</div>')


class DeploymentList(ipywidgets.VBox):
    """All deployments (filtered by ``model``, ``image``, ``tags`` like ``list_deployments``) with
    state dots; clicking one opens its :class:`DeploymentPanel` below."""

    def __init__(self, model: str | None = None, image: str | None = None, tags: Any = None, *,
                 workspace: Any = None, poll: bool = True) -> None:
        self.table = DeploymentTable(model, image, tags, workspace=workspace, poll=poll)
        self.panel: DeploymentPanel | None = None
        self._workspace, self._poll = workspace, poll
        super().__init__([self.table])
        self.table.observe(self._open, names="opened")

    def _open(self, change: dict[str, Any]) -> None:
        if self.panel is not None:
            self.panel.close()
            self.panel = None
        if change["new"]:
            self.panel = DeploymentPanel(change["new"], workspace=self._workspace, poll=self._poll)
        self.children = [self.table] + ([self.panel] if self.panel else [])

    def close(self) -> None:
        for child in (self.table, self.panel):
            if child is not None:
                child.close()
        super().close()

    def snapshot(self) -> str:
        return self.table.snapshot() + (self.panel.snapshot() if self.panel else "")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_snapshot(super()._repr_mimebundle_(**kwargs), self.snapshot(), self.table.text())

    def _ipython_display_(self) -> None:
        show(self, self.table.snapshot_id, self.snapshot(), self.table.text())

    def __repr__(self) -> str:
        return self.table.text()
