"""Result objects for images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..display import RecordList, fmt_kv, fmt_size, fmt_time, html_table


@dataclass(frozen=True)
class Push:
    """An image pushed to a container registry: what a cluster or a device pulls."""

    image: str  # NAME:VERSION of the image record
    registry: str  # host[:port][/namespace]
    repository: str  # registry/jupyter-mlops/<name>
    tag: str
    digest: str  # the manifest digest the registry answered
    pushed_at: float

    @property
    def reference(self) -> str:
        """``repository:tag``: moves if the tag is pushed again."""
        return f"{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        """``repository@digest``: always this image."""
        return f"{self.repository}@{self.digest}"

    def __repr__(self) -> str:
        return f"Push(image={self.image!r}, reference={self.reference!r}, digest={self.digest!r})"

    def summary(self) -> dict[str, object]:
        return {"image": self.image, "reference": self.reference, "digest": self.digest,
                "pushed": fmt_time(self.pushed_at)}

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "registry": self.registry, "repository": self.repository, "tag": self.tag,
                "digest": self.digest, "reference": self.reference, "pinned": self.pinned, "pushed_at": self.pushed_at}

    def _repr_html_(self) -> str:
        return html_table([self.summary()], title=f"Pushed {self.image}")


@dataclass(frozen=True)
class Image:
    """One registered image version. ``state``: building, succeeded, failed, or context (no Docker)."""

    name: str
    version: int
    state: str
    models: list[str]
    created_at: float
    base_image: str | None = None
    docker_tag: str | None = None
    digest: str | None = None
    size: int | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict, repr=False)
    build_log: str | None = field(default=None, repr=False)
    pushes: list[Push] = field(default_factory=list, repr=False)  # oldest first
    id: int = field(default=0, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join((self.build_log or "").splitlines()[-lines:])

    def __repr__(self) -> str:
        return (f"Image(name={self.name!r}, version={self.version}, state={self.state!r}, "
                f"models={self.models!r}, docker_tag={self.docker_tag!r}, size={fmt_size(self.size)!r})")

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name, "version": self.version, "state": self.state, "models": ", ".join(self.models),
            "tags": fmt_kv(self.tags), "docker tag": self.docker_tag or "", "size": fmt_size(self.size),
            "pushed to": ", ".join(sorted({p.registry for p in self.pushes})), "created": fmt_time(self.created_at),
        }

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("id", "build_log", "pushes")}
        d["pushes"] = [p.to_dict() for p in self.pushes]
        return d

    def _repr_html_(self) -> str:
        html = html_table([self.summary()], title=f"Image {self.ref}")
        if self.state == "failed":
            html += f"<pre>{_escape(self.log_tail())}</pre>"
        return html


def _escape(text: str) -> str:
    import html

    return html.escape(text)


class ImageList(RecordList[Image]):
    """A page of image versions, newest first."""

    noun = "image"
