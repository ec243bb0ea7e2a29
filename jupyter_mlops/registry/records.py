"""Result objects for models: a useful ``repr`` and an HTML table in notebooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..display import fmt_kv, fmt_size, fmt_time, html_table


@dataclass(frozen=True)
class Model:
    """One registered model version."""

    name: str
    version: int
    framework: str
    created_at: float
    size: int
    sha256: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    signature: dict[str, Any] | None = field(default=None, repr=False)
    is_folder: bool = False
    id: int = field(default=0, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, version={self.version}, framework={self.framework!r}, "
            f"size={fmt_size(self.size)!r}, tags={self.tags!r})"
        )

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "framework": self.framework,
            "tags": fmt_kv(self.tags),
            "properties": fmt_kv(self.properties),
            "size": fmt_size(self.size),
            "created": fmt_time(self.created_at),
            "description": self.description or "",
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("id")
        d["files"] = [list(f) for f in self.files]
        return d

    def _repr_html_(self) -> str:
        rows = [self.summary()]
        html = html_table(rows, title=f"Model {self.ref}")
        if self.signature:
            sig_rows = [
                {"role": role[:-1], "name": t["name"], "dtype": t["dtype"], "shape": t["shape"]}
                for role in ("inputs", "outputs")
                for t in self.signature.get(role, [])
            ]
            html += html_table(sig_rows, title="Signature")
        return html


class ModelList(list):  # type: ignore[type-arg]
    """A page of models, newest first; ``has_more`` says whether another page exists."""

    def __init__(self, models: list[Model], has_more: bool = False, offset: int = 0) -> None:
        super().__init__(models)
        self.has_more = has_more
        self.offset = offset

    def __repr__(self) -> str:
        more = ", more..." if self.has_more else ""
        return f"ModelList([{', '.join(m.ref for m in self)}]{more})"

    def _repr_html_(self) -> str:
        footer = f"more after {self.offset + len(self)}: pass offset={self.offset + len(self)}" if self.has_more else None
        return html_table([m.summary() for m in self], title=f"{len(self)} model(s)", footer=footer)

    def to_dataframe(self):  # type: ignore[no-untyped-def]
        import pandas as pd

        return pd.DataFrame([m.summary() for m in self])
