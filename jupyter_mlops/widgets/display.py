"""Showing a panel in a notebook: its static snapshot as one output, its live view as the next.

nbconvert draws one MIME type per output and prefers the widget view whenever the notebook stores
widget state, which papermill does by default; offline, that view draws nothing. So a panel is
shown as two outputs: the ``text/html`` snapshot, which every reader draws (nbconvert, papermill
outputs, a notebook reopened without its kernel), and the widget view, whose script hides the
snapshot above it as soon as it draws in a live front end.
"""

from __future__ import annotations

from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def view_bundle(widget: Any) -> dict[str, Any]:
    """The widget view alone (its own ``text/plain`` is left empty: the snapshot says it)."""
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    return {WIDGET_VIEW: data[WIDGET_VIEW], "text/plain": ""}


def snapshot_bundle(html: str, text: str, marker: str | None = None) -> dict[str, str]:
    """``marker``: the ``snapshot_id`` of the panel whose live view hides this snapshot."""
    if marker:
        html = f'<div data-mlops-snapshot="{marker}">{html}</div>'
    return {"text/html": html, "text/plain": text}


def show(widget: Any, marker: str, html: str, text: str) -> tuple[Any, Any]:
    """Display the snapshot then the live view; returns both display handles (for updates)."""
    from IPython.display import display

    snapshot = display(snapshot_bundle(html, text, marker), raw=True, display_id=True)
    view = display(view_bundle(widget), raw=True, display_id=True)
    return snapshot, view
