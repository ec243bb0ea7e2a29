"""Rollouts: a new version beside the current one, traffic moved step by step, each step gated on
live evidence; promoted when every gate holds, back to 0 % when one fails.

The plan is a mirror step (the new version answers a share of live traffic in the shadow: its answers
are dropped, so a bad version costs clients nothing) and then live shares, e.g. 10, 50, 100. Its state
(the plan, where it is, who runs it, an abort request) is the endpoint's ``rollout`` record, so another
process can follow it, abort it, or resume it once the one that ran it is gone. Every step's figures
and every decision are endpoint events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..deployments import owner
from ..display import fmt_time, html_table
from ..errors import ConflictError, UsageError
from ..images.records import Image
from ..names import ref_of
from ..registry.models import ModelRegistry
from . import gates as evidence
from .gates import Gates
from .service import EndpointService

FLUSH_S = 1.5  # the servers write what they collected about every second: wait that long past a window
POLL_S = 0.2
MAX_WINDOWS = 3  # a step waits up to this many intervals for enough requests


@dataclass
class RolloutResult:
    endpoint: str
    status: str  # promoted, rolled-back, aborted, running
    new: str
    current: str
    image: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def __repr__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"Rollout({self.endpoint}: {self.image} as {self.new} beside {self.current}: {self.status}{why})"

    def summary(self) -> dict[str, object]:
        return {"endpoint": self.endpoint, "image": self.image, "new": self.new, "current": self.current,
                "status": self.status, "steps": len(self.steps), "reason": self.reason or ""}

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "status": self.status, "new": self.new, "current": self.current,
                "image": self.image, "steps": self.steps, "reason": self.reason}

    def _repr_html_(self) -> str:
        rows = [{"step": s["step"], "passed": s["passed"], **{g["gate"]: _cell(g) for g in s.get("gates", [])}}
                for s in self.steps]
        return html_table([{"endpoint": self.endpoint, "image": self.image, "new": self.new, "current": self.current,
                            "status": self.status, "reason": self.reason or ""}], title="Rollout") + \
            (html_table(rows, title="Steps") if rows else "")


def _cell(gate: dict[str, Any]) -> str:
    mark = "ok" if gate["passed"] else "FAIL"
    current = f"{gate['current']} vs " if "current" in gate else ""
    return f"{current}{gate['new']} (limit {gate['limit']}) {mark}"


def plan_of(steps: list[int], mirror: int) -> list[dict[str, int]]:
    if not steps or any(isinstance(s, bool) or not isinstance(s, int) or not 0 < s <= 100 for s in steps):
        raise UsageError(f"Invalid steps {steps!r}: whole percentages in (0, 100], e.g. [10, 50, 100].")
    if sorted(steps) != list(steps) or len(set(steps)) != len(steps):
        raise UsageError(f"Invalid steps {steps!r}: increasing, e.g. [10, 50, 100].")
    if not 0 <= mirror <= 50:
        raise UsageError(f"Invalid mirror {mirror!r}: a share from 0 (no shadow step) to 50.")
    plan = [{"mirror": mirror}] if mirror else []
    plan += [{"traffic": s} for s in steps]
    if steps[-1] != 100:
        plan.append({"traffic": 100})
    return plan


def parse_interval(value: float | int | str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        units = {"s": 1, "m": 60, "h": 3600}
        try:
            seconds = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
        except (ValueError, KeyError):
            raise UsageError(f"Invalid interval {value!r}: seconds, or a number and s, m or h (e.g. 1m).") from None
    if seconds <= 0:
        raise UsageError(f"Invalid interval {value!r}: more than 0 seconds.")
    return seconds


class Rollout:
    def __init__(self, service: EndpointService, endpoint: str, echo: Callable[[str], None] | None = None) -> None:
        self.svc = service
        self.endpoint = endpoint
        self.echo = echo or (lambda line: None)

    # --- start, resume, abort -------------------------------------------------------------------
    def start(self, image: Image | str, steps: list[int], interval: float | str, gates: Gates | dict[str, Any] | None,
              mirror: int, deployment: str | None) -> RolloutResult:
        ep = self.svc.get(self.endpoint)
        if (ep.rollout or {}).get("status") == "running":
            raise ConflictError(f"Endpoint {self.endpoint!r} has a rollout running: follow, resume or abort it.")
        current = [d for d, p in ep.traffic.items() if p == 100]
        if not current:
            raise UsageError(f"A rollout starts from one deployment taking all the traffic of {self.endpoint!r}; "
                             f"it has {ep.traffic or 'none'}.")
        plan, seconds, limits = plan_of(list(steps), mirror), parse_interval(interval), Gates.of(gates)
        cur = self.svc.deployments.get(current[0], refresh=False)
        if not cur.config.get("collect"):
            raise UsageError(f"Rollouts compare what both versions collected: deploy {cur.name!r} with collect=True.")
        new = deployment or self._free_name(ep.traffic, cur.name)
        if isinstance(image, Image):
            img = image
        else:
            ref = ref_of(image, "image")
            img = self.svc.deployments.images.get(ref.name, ref.version)
        state = {"id": uuid.uuid4().hex[:12], "status": "running", "image": img.ref, "new": new, "current": cur.name,
                 "plan": plan, "position": 0, "interval_s": seconds, "gates": limits.to_dict(), "abort": False,
                 "owner": owner.current(), "started_at": time.time(), "steps": []}
        self.svc.set_rollout(self.endpoint, state)
        self._record(state, "rollout-started", f"{img.ref} as {new} beside {cur.name}; steps "
                     f"{', '.join(_step_name(s) for s in plan)}; interval {seconds:g} s")
        kept = ("workers", "ready_timeout", "drain_s", "coalesce", "busy_poll_us")
        settings = {k: cur.config[k] for k in kept if k in cur.config}
        try:
            self.svc.deploy(new, img, self.endpoint, cur.target, None, collect=True, sample_rate=1.0, **settings)
        except Exception as exc:
            return self._finish(state, "rolled-back", f"the new version did not deploy: {exc}")
        return self._run(state)

    def resume(self) -> RolloutResult:
        state = self._state()
        if state.get("status") != "running":
            raise UsageError(f"Endpoint {self.endpoint!r} has no rollout to resume{_last(state)}.")
        if not owner.gone(state.get("owner")) and state["owner"]["pid"] != owner.current()["pid"]:
            raise ConflictError(f"The rollout of {self.endpoint!r} is running in {owner.describe(state['owner'])}.")
        state["owner"] = owner.current()
        self.svc.set_rollout(self.endpoint, state)
        self._record(state, "rollout-resumed", f"at step {state['position'] + 1} of {len(state['plan'])}")
        return self._run(state)

    def abort(self) -> None:
        """Stop a rollout: the process running it rolls back within a moment; one whose process is
        gone is rolled back here."""
        state = self._state()
        if state.get("status") != "running":
            raise UsageError(f"Endpoint {self.endpoint!r} has no rollout running{_last(state)}.")
        if owner.gone(state.get("owner")):
            self._finish(state, "aborted", "aborted; the process that ran it was gone")
            return
        state["abort"] = True
        self.svc.set_rollout(self.endpoint, state)
        deadline = time.monotonic() + 60
        while self._state().get("status") == "running" and time.monotonic() < deadline:
            time.sleep(POLL_S)

    # --- the loop -------------------------------------------------------------------------------
    def _run(self, state: dict[str, Any]) -> RolloutResult:
        plan = state["plan"]
        reference: evidence.Evidence | None = None
        try:
            while state["position"] < len(plan):
                step = plan[state["position"]]
                passed, figures, reference = self._step(state, step, reference)
                if passed is None:
                    return self._finish(state, "aborted", "aborted on request")
                state["steps"].append(figures)
                if not passed:
                    failed = ", ".join(g["gate"] for g in figures["gates"] if not g["passed"])
                    return self._finish(state, "rolled-back", f"step {_step_name(step)} failed: {failed}")
                state["position"] += 1
                self.svc.set_rollout(self.endpoint, state)
        except KeyboardInterrupt:
            self.echo(f"interrupted: the rollout of {self.endpoint} stays where it is; resume it or abort it.")
            raise
        return self._finish(state, "promoted", None)

    def _step(self, state: dict[str, Any], step: dict[str, int],
              reference: evidence.Evidence | None) -> tuple[bool | None, dict[str, Any], evidence.Evidence | None]:
        new, cur = state["new"], state["current"]
        if "mirror" in step:
            self.svc.set_traffic(self.endpoint, {cur: 100, new: 0}, mirror={new: step["mirror"]})
        else:
            self.svc.set_traffic(self.endpoint, {cur: 100 - step["traffic"], new: step["traffic"]}, mirror={})
        name = f"{state['position'] + 1}/{len(state['plan'])} {_step_name(step)}"
        self.echo(f"step {name}: waiting {state['interval_s']:g} s for evidence")
        limits = Gates(**state["gates"])
        start = time.time()
        for window in range(1, MAX_WINDOWS + 1):
            if not self._wait(start + window * state["interval_s"] + FLUSH_S):
                return None, {}, reference
            end = time.time() - FLUSH_S
            ev_new = evidence.evidence(self.svc.ws, new, start, end)
            if ev_new.requests >= limits.min_requests:
                break
            if window < MAX_WINDOWS:
                self.echo(f"step {name}: {ev_new.requests} requests so far, waiting for {limits.min_requests}")
        ev_cur = evidence.evidence(self.svc.ws, cur, start, end)
        if ev_cur.requests < limits.min_requests and reference is not None:
            ev_cur = reference  # at 100 % the current one has no traffic: compare with what it last showed
        results = evidence.check(limits, ev_cur, ev_new, self._baseline(new))
        passed = all(g["passed"] for g in results)
        figures = {"step": _step_name(step), "window": [start, end], "passed": passed, "gates": results,
                   "new": ev_new.figures(), "current": ev_cur.figures()}
        self._record(state, "rollout-step", f"{name}: {_line(results)} -> {'pass' if passed else 'FAIL'}", figures)
        return passed, figures, ev_cur

    def _wait(self, until: float) -> bool:
        """Sleep until ``until``; False as soon as an abort is asked for."""
        while time.time() < until:
            if self._state().get("abort"):
                return False
            time.sleep(min(POLL_S, max(0.0, until - time.time())))
        return True

    def _finish(self, state: dict[str, Any], status: str, reason: str | None) -> RolloutResult:
        new, cur = state["new"], state["current"]
        if status == "promoted":
            self.svc.set_traffic(self.endpoint, {new: 100, cur: 0}, mirror={})
            self.svc.undeploy(cur)
            message = f"{new} ({state['image']}) takes all traffic; {cur} removed"
        else:
            behind = self.svc.get(self.endpoint).traffic
            if cur in behind:
                self.svc.set_traffic(self.endpoint, {cur: 100, **({new: 0} if new in behind else {})}, mirror={})
            message = f"{new} back to 0 %, {cur} takes all traffic: {reason}"
        state.update(status=status, reason=reason, finished_at=time.time(), abort=False)
        self.svc.set_rollout(self.endpoint, state)
        self._record(state, f"rollout-{status}", message)
        return RolloutResult(self.endpoint, status, new, cur, state["image"], state["steps"], reason)

    # --- helpers ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return dict(self.svc.get(self.endpoint).rollout or {})

    def _record(self, state: dict[str, Any], kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.svc.event(self.endpoint, kind, message, {"rollout": state["id"], **(data or {})})
        self.echo(f"{kind}: {message}")

    def _free_name(self, behind: dict[str, int], current: str) -> str:
        """blue or green, whichever is free; a leftover at 0 % from an earlier rollout is replaced."""
        for name in ("green", "blue"):
            if name == current:
                continue
            if name in behind and not behind[name]:
                self.svc.undeploy(name)
            if name not in behind or not behind[name]:
                return name
        raise UsageError(f"Name the new deployment of {self.endpoint!r} (deployment=...).")

    def _baseline(self, deployment: str) -> dict[str, Any] | None:
        dep = self.svc.deployments.get(deployment, refresh=False)
        if not dep.models:
            return None
        ref = ref_of(dep.models[0])
        return ModelRegistry(self.svc.ws).baseline(ref.name, ref.version) if ref.version else None


def follow(service: EndpointService, endpoint: str, echo: Callable[[str], None],
           timeout: float = 24 * 3600) -> dict[str, Any]:
    """Print a running rollout's events as they are recorded (from another process), until it ends."""
    seen = len(service.get(endpoint).events)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ep = service.get(endpoint)
        for e in ep.events[seen:]:
            echo(f"[{fmt_time(e.time)}] {e.kind}: {e.message}")
        seen = len(ep.events)
        if (ep.rollout or {}).get("status") != "running":
            return dict(ep.rollout or {})
        time.sleep(0.5)
    return dict(service.get(endpoint).rollout or {})


def _last(state: dict[str, Any]) -> str:
    return f" (the last one was {state['status']})" if state.get("status") else ""


def _step_name(step: dict[str, int]) -> str:
    return f"mirror {step['mirror']}%" if "mirror" in step else f"{step['traffic']}%"


def _line(results: list[dict[str, Any]]) -> str:
    parts = []
    for g in results:
        current = f"{g['current']} vs " if "current" in g else ""
        parts.append(f"{g['gate']} {current}{g['new']}{'' if g['passed'] else ' (over ' + str(g['limit']) + ')'}")
    return "; ".join(parts)
