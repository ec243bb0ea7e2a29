"""Small HTML renderers shared by the result objects (escaped, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TypeVar


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def fmt_kv(kv: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kv.items())


def html_table(rows: Iterable[Mapping[str, object]], title: str | None = None, footer: str | None = None) -> str:
    rows = list(rows)
    parts = ['<div class="jupyter-mlops">']
    if title:
        parts.append(f"<strong>{html.escape(title)}</strong>")
    if not rows:
        parts.append("<p><em>none</em></p></div>")
        return "".join(parts)
    columns = list(rows[0].keys())
    parts.append("<table><thead><tr>")
    parts.extend(f"<th>{html.escape(str(c))}</th>" for c in columns)
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>")
        parts.extend(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if footer:
        parts.append(f"<p><em>{html.escape(footer)}</em></p>")
    parts.append("</div>")
    return "".join(parts)


def text_table(rows: Iterable[Mapping[str, object]]) -> str:
    rows = list(rows)
    if not rows:
        return "(none)"
    columns = list(rows[0].keys())
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


T = TypeVar("T")


class RecordList(list[T]):
    """A page of records (models, images, deployments), newest first; ``has_more`` says whether
    another page follows at ``offset + len(page)``."""

    noun = "record"

    def __init__(self, records: Iterable[T] = (), has_more: bool = False, offset: int = 0) -> None:
        super().__init__(records)
        self.has_more = has_more
        self.offset = offset

    def label(self, record: T) -> str:
        return str(getattr(record, "ref", record))

    def __repr__(self) -> str:
        more = ", more..." if self.has_more else ""
        return f"{type(self).__name__}([{', '.join(self.label(r) for r in self)}]{more})"

    def _repr_html_(self) -> str:
        nxt = self.offset + len(self)
        footer = f"more after {nxt}: pass offset={nxt}" if self.has_more else None
        rows = [r.summary() for r in self]  # type: ignore[attr-defined]
        return html_table(rows, title=f"{len(self)} {self.noun}(s)", footer=footer)
