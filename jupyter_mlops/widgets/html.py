"""The few HTML pieces panels are drawn with. Everything shown is escaped here, once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

CSS = (Path(__file__).parent / "panel.css").read_text()


def esc(value: object) -> str:
    return escape("" if value is None else str(value))


def _attrs(**attrs: object) -> str:
    """``data_action="x"`` -> ` data-action="x"`; None and False leave the attribute out."""
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


def button(label: str, action: str, arg: object = None, kind: str = "", disabled: bool = False,
           title: str | None = None) -> str:
    return (f"<button{_attrs(class_=kind or None, data_action=action, data_arg=arg, disabled=disabled, title=title)}>"
            f"{esc(label)}</button>")


def text_input(name: str, value: str = "", placeholder: str = "", oninput: str | None = None,
               onenter: str | None = None, size: int | None = None) -> str:
    attrs = _attrs(name=name, value=value, placeholder=placeholder, data_oninput=oninput, data_onenter=onenter, size=size)
    return f'<input type="text"{attrs}>'


def textarea(name: str, value: str, rows: int = 5) -> str:
    return f'<textarea{_attrs(name=name, rows=rows, spellcheck="false")}>{esc(value)}</textarea>'


def select(name: str, options: Iterable[tuple[str, str] | str], value: str | None = None,
           onchange: str | None = None, multiple: bool = False, selected: Sequence[str] = ()) -> str:
    items = []
    for option in options:
        key, label = option if isinstance(option, tuple) else (option, option)
        chosen = key == value or key in selected
        items.append(f"<option{_attrs(value=key, selected=chosen)}>{esc(label)}</option>")
    return f"<select{_attrs(name=name, data_onchange=onchange, multiple=multiple)}>{''.join(items)}</select>"


def dot(state: str) -> str:
    return f'<span class="dot {esc(state)}" title="{esc(state)}"></span>'


def chip(text: str, kind: str = "", action: str | None = None, arg: object = None) -> str:
    return f'<span{_attrs(class_=f"chip {kind}".strip(), data_action=action, data_arg=arg)}>{esc(text)}</span>'


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], actions: Iterable[tuple[str, object] | None] = (),
          selected: int | None = None) -> str:
    """Cells are HTML already (escape with :func:`esc`); ``actions[i]`` makes row ``i`` clickable."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    acts = list(actions)
    for i, row in enumerate(rows):
        act = acts[i] if i < len(acts) else None
        attrs = _attrs(data_action=act[0] if act else None, data_arg=act[1] if act else None,
                       class_="selected" if i == selected else None)
        body.append(f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(columns)}" class="muted">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kv_table(pairs: Iterable[tuple[str, str]]) -> str:
    """Two columns, values given as HTML."""
    return '<table class="kv">' + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in pairs) + "</table>"


def pre(text: str, scroll: str | None = None) -> str:
    return f"<pre{_attrs(data_scroll=scroll)}>{esc(text)}</pre>"


def messages(error: str, notice: str, busy: str) -> str:
    out = []
    if busy:
        out.append(f'<div class="busy">{esc(busy)}</div>')
    if error:
        out.append(f'<div class="error">{esc(error)}</div>')
    if notice:
        out.append(f'<div class="notice">{esc(notice)}</div>')
    return "".join(out)


def snapshot(body: str) -> str:
    """A panel as it stands, for notebook files read without a kernel: styled, controls hidden."""
    return f'<div class="mlops-panel mlops-snapshot"><style>{CSS}</style>{body}</div>'
