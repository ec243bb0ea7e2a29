"""Result objects for models: a useful ``repr`` and an HTML table in notebooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..display import RecordList, fmt_kv, fmt_size, fmt_time, html_table


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
    aliases: list[str] = field(default_factory=list)  # NAME@ALIAS that name this version now
    provenance: dict[str, Any] | None = field(default=None, repr=False)
    id: int = field(default=0, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, version={self.version}, framework={self.framework!r}, "
            f"size={fmt_size(self.size)!r}, tags={self.tags!r}{self._aliases_repr()})"
        )

    def _aliases_repr(self) -> str:
        return f", aliases={self.aliases!r}" if self.aliases else ""

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "aliases": ", ".join(f"@{a}" for a in self.aliases),
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
        if self.provenance:
            html += html_table([{"": k, "value": v} for k, v in self.provenance_lines()], title="Provenance")
        return html

    def provenance_lines(self) -> list[tuple[str, str]]:
        """Where it came from as (what, value) lines, for a table or a terminal."""
        return _provenance_lines(self.provenance or {})


def _provenance_lines(provenance: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if provenance.get("source") or provenance.get("kind"):
        kind = provenance.get("kind")
        out.append(("source", " ".join(str(p) for p in (provenance.get("source"), kind and f"({kind})") if p)))
    git = provenance.get("git")
    if git:
        state = "dirty: tracked files had changes" if git.get("dirty") else "clean"
        out.append(("git", f"{git.get('commit', '')}" + (f" on {git['branch']}" if git.get("branch") else "")
                    + f" ({state})"))
    if provenance.get("papermill") is not None:
        out.append(("papermill parameters", fmt_kv({k: str(v) for k, v in provenance["papermill"].items()})))
    if provenance.get("ci"):
        out.append(("CI run", provenance["ci"].get("run_url", "")))
    if provenance.get("python"):
        out.append(("python", provenance["python"]))
    if provenance.get("packages"):
        out.append(("packages", ", ".join(f"{k} {v}" for k, v in provenance["packages"].items())))
    known = {"source", "kind", "git", "papermill", "ci", "python", "packages"}
    out += [(k, str(v)) for k, v in provenance.items() if k not in known]
    return out


class ModelList(RecordList[Model]):
    """A page of model versions, newest first."""

    noun = "model"
