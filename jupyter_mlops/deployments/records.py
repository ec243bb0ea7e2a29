"""Result objects for deployments. They never hold keys: ``get_keys`` shows them on request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..display import RecordList, fmt_kv, fmt_time, html_table


@dataclass(frozen=True)
class Event:
    time: float
    kind: str
    message: str

    def __repr__(self) -> str:
        return f"[{fmt_time(self.time)}] {self.kind}: {self.message}"


@dataclass(frozen=True)
class Deployment:
    name: str
    image: str
    target: str
    state: str
    scoring_uri: str | None
    models: list[str]
    auth: bool
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default=0.0, repr=False)
    updated_at: float = field(default=0.0, repr=False)
    events: list[Event] = field(default_factory=list, repr=False)
    _service: Any = field(default=None, repr=False, compare=False)

    @property
    def swagger_uri(self) -> str | None:
        return self.scoring_uri.rsplit("/", 1)[0] + "/swagger.json" if self.scoring_uri else None

    def score(self, data: Any, timeout: float = 30.0) -> Any:
        """Score with the deployment's key. ``data`` is the data itself (sent as ``{"data": data}``)
        or a full ``/score`` request body: a dict with a "data" key, or its JSON text."""
        return self._service.score(self.name, data, timeout)

    def logs(self, lines: int = 50) -> str:
        return self._service.logs(self.name, lines)

    def refresh(self) -> Deployment:
        return self._service.get(self.name)

    def summary(self) -> dict[str, object]:
        return {"name": self.name, "state": self.state, "target": self.target, "image": self.image,
                "models": ", ".join(self.models), "scoring URI": self.scoring_uri or "", "tags": fmt_kv(self.tags),
                "updated": fmt_time(self.updated_at)}

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("_service", "events")}
        d["swagger_uri"] = self.swagger_uri
        d["events"] = [{"time": e.time, "kind": e.kind, "message": e.message} for e in self.events]
        return d

    def _repr_html_(self) -> str:
        html = html_table([self.summary()], title=f"Deployment {self.name}")
        if self.events:
            html += html_table([{"time": fmt_time(e.time), "event": e.kind, "message": e.message}
                                for e in self.events[-5:]], title="Recent events")
        return html


class DeploymentList(RecordList[Deployment]):
    """A page of deployments, newest first, with their recorded state."""

    noun = "deployment"

    def label(self, record: Deployment) -> str:
        return f"{record.name} ({record.state})"
