"""DeploymentPanel: one deployment, live. State that refreshes itself, the event timeline, the log
tail, a test console, copyable curl and Python snippets (the key hidden until asked), key
regeneration, update to another image with its readiness gate, undeploy."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import traitlets

from .. import api, client
from ..deployments.records import Deployment
from ..display import fmt_time
from ..errors import NotFoundError, UsageError
from . import html as h
from .panel import Panel, action

MASK = "••••••••"
EVENTS = 12
LOG_LINES = 30


def example_body(signature: dict[str, Any] | None, baseline: dict[str, Any] | None) -> str:
    """A request body to start from: one row of zeros shaped like the model's first input."""
    width = None
    if signature and signature.get("inputs"):
        shape = signature["inputs"][0].get("shape") or []
        width = shape[-1] if len(shape) >= 2 and isinstance(shape[-1], int) else None
    if width is None and baseline:
        width = len(baseline.get("features", []))
    row = [0.0] * (width or 1)
    return json.dumps({"data": [row]})


class DeploymentPanel(Panel):
    """One deployment, refreshed every ``poll_interval`` seconds while it is on screen."""

    poll_interval = 2.0

    state = traitlets.Unicode("", help="healthy, unhealthy, failed, transitioning; 'gone' once undeployed")
    snippet = traitlets.Unicode("curl", help="curl or python")
    confirm = traitlets.Unicode("", help="'undeploy' while the undeploy waits for a confirmation.")

    def __init__(self, name: str, *, workspace: Any = None, poll: bool = True, **kwargs: Any) -> None:
        super().__init__(workspace=workspace, poll=poll, **kwargs)
        self.name = name
        self.deployment: Deployment | None = None
        self.logs = ""
        self.images: list[str] = []  # images it could move to
        self.body_text = ""  # the test console's request body
        self.answer: dict[str, Any] | None = None  # {"status", "latency_ms", "body"}
        self.gate: dict[str, Any] | None = None  # the running or last update's readiness gate
        self._going = threading.Lock()
        self.deployment = api.get_deployment(name, workspace=workspace)  # NotFoundError for a wrong name
        self._load_choices()
        self._ready()

    # --- loading -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.state == "gone":
            return
        try:
            dep = api.get_deployment(self.name, workspace=self.workspace)
            logs = dep.logs(LOG_LINES)
        except NotFoundError:  # removed elsewhere; or by our own undeploy, whose message then stays
            self._gone(f"Deployment {self.name!r} no longer exists.", unless_gone=True)
            return
        with self._going:
            if self.state == "gone":  # undeployed while we asked: what we heard is out of date
                return
            self.deployment, self.state, self.logs = dep, dep.state, logs

    def _load_choices(self) -> None:
        dep = self.deployment
        if dep is None:
            return
        image_name = dep.image.split(":")[0]
        refs = [i.ref for i in api.list_images(image_name, limit=50, workspace=self.workspace)]
        for model in dep.models:
            refs += [i.ref for i in api.list_images(model=model.split(":")[0], limit=50, workspace=self.workspace)]
        self.images = [r for r in dict.fromkeys(refs) if r != dep.image]
        if not self.body_text:
            first = dep.models[0] if dep.models else None
            signature = api.get_model(first, workspace=self.workspace).signature if first else None
            baseline = api.get_baseline(first, workspace=self.workspace) if first else None
            self.body_text = example_body(signature, baseline)

    def _gone(self, message: str, unless_gone: bool = False) -> None:
        with self._going:  # the poller's refresh and a background undeploy can both get here
            if unless_gone and self.state == "gone":
                return
            self.state, self.deployment = "gone", None
            self.notice = message
        self.stop()

    def _need(self) -> Deployment:
        if self.deployment is None:
            raise UsageError(f"Deployment {self.name!r} is gone.")
        return self.deployment

    # --- actions -------------------------------------------------------------------------------------
    @action()
    def do_refresh(self, arg: Any, form: dict[str, Any]) -> None:
        self.refresh()

    @action("scoring", background=True)
    def do_send(self, arg: Any, form: dict[str, Any]) -> None:
        dep = self._need()
        self.body_text = str(form.get("body", self.body_text))
        try:
            body = json.loads(self.body_text)
        except ValueError as exc:
            raise UsageError(f"The request body is not JSON: {exc}.") from None
        if not dep.scoring_uri:
            raise UsageError(f"Deployment {self.name!r} ({dep.target}) has no scoring URI here.")
        key = api.get_keys(self.name, workspace=self.workspace)["primary"] if dep.auth else None
        cafile = dep.config.get("tls_ca") or dep.config.get("tls_cert")
        start = time.perf_counter()
        status, reply = client.request(dep.scoring_uri, body, key, cafile, timeout=30)
        self.answer = {"status": status, "latency_ms": (time.perf_counter() - start) * 1000, "body": reply}

    @action()
    def do_snippet(self, arg: Any, form: dict[str, Any]) -> None:
        self.snippet = "python" if arg == "python" else "curl"

    @action()
    def do_copy(self, arg: Any, form: dict[str, Any]) -> None:
        """Send the snippet, key included, to the view's clipboard (never into the panel's state)."""
        self.body_text = str(form.get("body", self.body_text))
        self.send({"copy": self.snippet_text(reveal=True)})
        self.notice = f"Copied the {self.snippet} snippet, with the primary key."

    @action()
    def do_regen(self, arg: Any, form: dict[str, Any]) -> None:
        slot = "secondary" if arg == "secondary" else "primary"
        api.regen_key(self.name, slot, workspace=self.workspace)
        self.refresh()
        self.notice = f"New {slot} key: the service accepts it within a second; the old one stops working."

    @action("updating", background=True)
    def do_update(self, arg: Any, form: dict[str, Any]) -> None:
        dep = self._need()
        target = str(form.get("update_image") or arg or "")
        if not target:
            raise UsageError("Choose the image to update to.")
        self.gate = {"from": dep.image, "to": target, "started": time.monotonic(), "state": "waiting"}
        try:
            new = api.update_deployment(self.name, target, workspace=self.workspace)
        except Exception as exc:
            self.gate.update(state="failed", reason=str(exc), log=getattr(exc, "detail", "") or "",
                             took=time.monotonic() - self.gate["started"])
            self.refresh()
            raise
        self.gate.update(state="done", took=time.monotonic() - self.gate["started"])
        self.refresh()
        self._load_choices()
        self.notice = f"{self.name} now serves {new.image} on the same URI."

    @action()
    def do_undeploy(self, arg: Any, form: dict[str, Any]) -> None:
        self._need()
        self.confirm = "undeploy"

    @action()
    def do_cancel(self, arg: Any, form: dict[str, Any]) -> None:
        self.confirm = ""

    @action("undeploying", background=True)
    def do_confirm_undeploy(self, arg: Any, form: dict[str, Any]) -> None:
        self.confirm = ""
        api.undeploy(self.name, workspace=self.workspace)
        self._gone(f"Undeployed {self.name}.")

    # --- snippets ------------------------------------------------------------------------------------
    def snippet_text(self, reveal: bool = False, kind: str | None = None) -> str:
        dep = self._need()
        kind = kind or self.snippet
        key = ""
        if dep.auth:
            key = api.get_keys(self.name, workspace=self.workspace)["primary"] if reveal else MASK
        uri = dep.scoring_uri or ""
        if kind == "python":
            auth = f', headers={{"Authorization": "Bearer {key}"}}' if dep.auth else ""
            return (f"import requests\n\nbody = {self.body_text}\n"
                    f"reply = requests.post({uri!r}, json=body{auth}, timeout=30)\nprint(reply.status_code, reply.json())")
        auth = f" \\\n  -H 'Authorization: Bearer {key}'" if dep.auth else ""
        return f"curl -sS -X POST {uri} \\\n  -H 'Content-Type: application/json'{auth} \\\n  -d '{self.body_text}'"

    # --- drawing -------------------------------------------------------------------------------------
    def text(self) -> str:
        dep = self.deployment
        if dep is None:
            return f"DeploymentPanel {self.name}: {self.state or 'unknown'}"
        return f"DeploymentPanel {dep.name}: {dep.state}, image {dep.image}, {dep.target}, {dep.scoring_uri}"

    def body(self) -> str:
        dep = self.deployment
        if dep is None:
            return f"<h3>{h.dot('gone')} Deployment {h.esc(self.name)}</h3>"
        head = (f"<h3>{h.dot(dep.state)} Deployment {h.esc(dep.name)} <span class=\"muted\">{h.esc(dep.state)}</span>"
                f'<span class="live-only">{h.button("Refresh", "refresh")}</span></h3>')
        facts = h.kv_table([
            ("image", h.esc(dep.image)), ("models", h.esc(", ".join(dep.models))), ("target", h.esc(dep.target)),
            ("scoring URI", h.esc(dep.scoring_uri or "")), ("swagger", h.esc(dep.swagger_uri or "")),
            ("auth", "keys" if dep.auth else "none"), ("updated", h.esc(fmt_time(dep.updated_at))),
        ])
        return (head + facts + self._gate_html() + self._update_html() + self._console_html() + self._snippet_html()
                + self._events_html(dep) + "<h4>Log tail</h4>" + h.pre(self.logs or "(empty)", scroll="logs")
                + self._danger_html())

    def _events_html(self, dep: Deployment) -> str:
        rows = [[h.esc(fmt_time(e.time)[11:19]), h.chip(e.kind, "failed" if "fail" in e.kind else ""), h.esc(e.message)]
                for e in reversed(dep.events[-EVENTS:])]
        return "<h4>Events</h4>" + h.table(["time (UTC)", "event", "message"], rows)

    def _console_html(self) -> str:
        out = ('<div class="live-only"><h4>Test</h4>' + h.textarea("body", self.body_text, rows=4)
               + h.button("Send", "send", kind="primary") + "</div>")
        if self.answer:
            a = self.answer
            reply = json.dumps(a["body"]) if not isinstance(a["body"], str) else a["body"]
            out += (f'<div class="row"><span class="chip {"cached" if a["status"] < 400 else "failed"}">HTTP {a["status"]}</span>'
                    f' in {a["latency_ms"]:.1f} ms</div>' + h.pre(reply[:4000]))
        return out

    def _snippet_html(self) -> str:
        dep = self.deployment
        assert dep is not None
        tabs = "".join(h.button(k, "snippet", k, kind="primary" if k == self.snippet else "") for k in ("curl", "python"))
        # The key never enters the panel's state (saved with the notebook): only the clipboard gets it.
        return (f'<div class="live-only"><h4>Call it</h4><div class="row">{tabs}'
                f'{h.button("Copy with key" if dep.auth else "Copy", "copy")}</div>'
                + h.pre(self.snippet_text()) + "</div>")

    def _update_html(self) -> str:
        if not self.images:
            return ""
        return ('<div class="row live-only"><h4>Update</h4> to ' + h.select("update_image", self.images)
                + h.button("Update", "update", kind="primary", disabled=bool(self.busy)) + "</div>")

    def _gate_html(self) -> str:
        g = self.gate
        if g is None:
            return ""
        took = g.get("took", time.monotonic() - g["started"])
        wait_state = {"waiting": "active", "done": "done", "failed": "failed"}[g["state"]]
        steps = [("done", f"start {g['to']} beside {g['from']}"),
                 (wait_state, f"wait until {g['to']} reports ready ({took:.1f} s); {g['from']} keeps serving"),
                 ("done" if g["state"] == "done" else "todo", f"switch to {g['to']}, drain and stop {g['from']}")]
        items = "".join(f'<li class="{c}">{h.esc(t)}</li>' for c, t in steps)
        out = f'<h4>Update {h.esc(g["from"])} → {h.esc(g["to"])}</h4><ul class="steps gate">{items}</ul>'
        if g["state"] == "failed":
            out += f'<div class="error">{h.esc(g["reason"].splitlines()[0])}</div>' + (h.pre(g["log"]) if g["log"] else "")
        return out

    def _danger_html(self) -> str:
        dep = self.deployment
        assert dep is not None
        keys = (h.button("Regenerate primary key", "regen", "primary") + h.button("Regenerate secondary key", "regen", "secondary")
                if dep.auth else "")
        if self.confirm == "undeploy":
            return (f'<div class="row error">Undeploy {h.esc(dep.name)}? It stops serving. '
                    + h.button("Undeploy", "confirm_undeploy", kind="danger") + h.button("Cancel", "cancel") + "</div>")
        return f'<div class="row live-only">{keys}{h.button("Undeploy", "undeploy", kind="danger")}</div>'
