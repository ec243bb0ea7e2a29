"""Result objects for endpoints. They never hold keys or tokens: ``get_endpoint_keys`` and
``get_token`` show those on request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..display import RecordList, fmt_time, html_table


@dataclass(frozen=True)
class EndpointEvent:
    time: float
    kind: str
    message: str
    data: dict[str, Any] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"[{fmt_time(self.time)}] {self.kind}: {self.message}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    target: str
    auth: str  # key, token or none
    state: str
    scoring_uri: str | None
    traffic: dict[str, int]  # every deployment behind it, with its share of live traffic
    mirror: dict[str, int] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # name -> image, state
    rollout: dict[str, Any] | None = field(default=None, repr=False)
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    created_at: float = field(default=0.0, repr=False)
    updated_at: float = field(default=0.0, repr=False)
    events: list[EndpointEvent] = field(default_factory=list, repr=False)
    _service: Any = field(default=None, repr=False, compare=False)

    @property
    def swagger_uri(self) -> str | None:
        return self.scoring_uri.rsplit("/", 1)[0] + "/swagger.json" if self.scoring_uri else None

    def score(self, data: Any, deployment: str | None = None, timeout: float = 30.0) -> Any:
        """Score through the endpoint with its key (or a fresh token); ``deployment`` sends the
        ``azureml-model-deployment`` header, which reaches that deployment whatever the split."""
        return self._service.score(self.name, data, deployment, timeout)

    def refresh(self) -> Endpoint:
        fresh: Endpoint = self._service.get(self.name)
        return fresh

    def summary(self) -> dict[str, object]:
        return {"name": self.name, "state": self.state, "target": self.target, "auth": self.auth,
                "traffic": _shares(self.traffic), "mirror": _shares(self.mirror) or "-",
                "scoring URI": self.scoring_uri or "", "updated": fmt_time(self.updated_at)}

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("_service", "events")}
        d["swagger_uri"] = self.swagger_uri
        d["events"] = [{"time": e.time, "kind": e.kind, "message": e.message, "data": e.data} for e in self.events]
        return d

    def _repr_html_(self) -> str:
        html = html_table([self.summary()], title=f"Endpoint {self.name}")
        rows = [{"deployment": name, "traffic %": self.traffic.get(name, 0), "mirror %": self.mirror.get(name, 0),
                 "image": info.get("image", ""), "state": info.get("state", "")}
                for name, info in sorted(self.deployments.items())]
        if rows:
            html += html_table(rows, title="Deployments")
        if self.events:
            html += html_table([{"time": fmt_time(e.time), "event": e.kind, "message": e.message}
                                for e in self.events[-8:]], title="Recent events")
        return html


def _shares(shares: dict[str, int]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in sorted(shares.items()) if pct)


@dataclass(frozen=True)
class Token:
    """An expiring token for an endpoint with token auth: send ``Authorization: Bearer <token>``."""

    access_token: str = field(repr=False)
    expires_at: float
    endpoint: str
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        return f"Token(endpoint={self.endpoint!r}, expires={fmt_time(self.expires_at)})"

    def to_dict(self) -> dict[str, Any]:
        return {"accessToken": self.access_token, "expiryTimeUtc": self.expires_at, "tokenType": self.token_type}


class EndpointList(RecordList[Endpoint]):
    """Endpoints, newest first."""

    noun = "endpoint"

    def label(self, record: Endpoint) -> str:
        return f"{record.name} ({record.state})"
