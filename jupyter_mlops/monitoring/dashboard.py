"""The monitoring dashboard: plotly figures over collected data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .drift import PSI_THRESHOLD


class Dashboard:
    """Traffic, latency, errors, predictions and drift for one deployment.

    Shows itself in notebooks (the plotly figure); ``to_html(path)`` writes a standalone file."""

    def __init__(self, deployment: str, frame: Any, drift: Any, figure: Any, threshold: float) -> None:
        self.deployment = deployment
        self.data = frame
        self.drift = drift
        self.figure = figure
        self.threshold = threshold

    @property
    def drifted_features(self) -> list[str]:
        """Each drifted feature once, whichever model versions it drifted for (``drift`` says which)."""
        if self.drift is None or self.drift.empty:
            return []
        return list(dict.fromkeys(self.drift.loc[self.drift.drifted, "feature"]))

    def to_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.write_html(str(path), include_plotlyjs=True, full_html=True)  # works offline, as a CI artifact
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import plotly.io as pio

        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(self.figure.to_dict())
        # text/html draws offline too (nbconvert, papermill outputs, a CI artifact)
        return {**bundle, "text/html": figure_html(self.figure), "text/plain": repr(self)}

    @property
    def requests(self) -> int:
        if self.data is None:
            return 0
        return int(self.data["request_id"].nunique()) if "request_id" in self.data else len(self.data)

    def summary(self) -> dict[str, object]:
        return {"deployment": self.deployment, "requests": self.requests,
                "rows": 0 if self.data is None else len(self.data), "drifted": self.drifted_features}

    to_dict = summary

    def __repr__(self) -> str:
        return f"Dashboard(deployment={self.deployment!r}, requests={self.requests}, drifted={self.drifted_features!r})"


def figure_html(figure: Any) -> str:
    """A figure as an HTML fragment that draws without a network or a kernel: plotly.js is inlined
    (about 4.8 MB) and evaluated once per page, however many fragments the page holds."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    loader = f"<script>if (!window.Plotly) {{ {get_plotlyjs()} }}</script>"
    return loader + pio.to_html(figure, include_plotlyjs=False, full_html=False, config={"responsive": True})


BINS = (("10s", "10 s"), ("min", "minute"), ("5min", "5 minutes"), ("15min", "15 minutes"), ("h", "hour"), ("D", "day"))


def bin_width(freq: str) -> Any:
    """A bin's length, as a Timedelta (to pandas, "min" alone is none: it wants "1min")."""
    import pandas as pd

    return pd.to_timedelta(pd.tseries.frequencies.to_offset(freq))


def bin_size(frame: Any) -> tuple[str, str]:
    """A bin that gives the time axis at least ~10 points: 10 s for a short test, days for a month."""
    import pandas as pd

    span = frame["time"].max() - frame["time"].min() if len(frame) else pd.Timedelta(0)
    for freq, label in BINS:
        if span / bin_width(freq) <= 120:
            return freq, label
    return BINS[-1]


def per_minute(frame: Any, freq: str = "min") -> Any:
    import pandas as pd

    requests = frame.drop_duplicates("request_id").copy()
    requests["minute"] = requests["time"].dt.floor(freq)
    by_status = requests.pivot_table(index="minute", columns="status", values="request_id", aggfunc="count",
                                     fill_value=0)
    latency = requests.groupby("minute")["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    errors = requests.assign(err=requests["status"] >= 400).groupby("minute")["err"].mean() * 100
    return by_status, latency, pd.Series(errors, name="error_rate")


def prediction_column(frame: Any, outputs: list[str]) -> tuple[str, Any] | None:
    """The column to show as 'predictions': the last class probability if there is one, else the
    first numeric output."""
    ranked = sorted(outputs, key=lambda c: 0 if "prob" in str(c).lower() else 1)
    for col in ranked:
        values = frame[col].dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, list) and first and isinstance(first[-1], (int, float)):
            return f"{col}[-1]", values.map(lambda v: v[-1])
        if isinstance(first, (int, float)):
            return col, values
    return None


TIME_PANELS = ((1, 1), (1, 2), (2, 1))


def drift_note(frame: Any, drift: Any) -> str:
    """Why the drift panel is empty (``drift`` is None when no served model version has a baseline)."""
    if frame is None or frame.empty or "model" not in frame:
        return "No drift yet: no requests in this window."
    if drift is not None:
        return "No drift yet: no successful request in this window carries the baseline's features."
    served = frame[["model", "model_version"]].dropna().drop_duplicates()
    refs = ", ".join(f"{m}:{v}" for m, v in served.itertuples(index=False)) or "the model"
    return (f"No drift: {refs} has no baseline. Register it with baseline=training data "
            "(or mlops.set_baseline) to compare inputs with it.")


def _note(fig: Any, text: str, row: int, col: int) -> None:
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="x domain", yref="y domain", showarrow=False,
                       font={"size": 14, "color": "#666"}, row=row, col=col)


def build_figure(deployment: str, frame: Any, drift: Any, threshold: float = PSI_THRESHOLD) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    has_data = frame is not None and not frame.empty and "status" in frame
    freq, label = bin_size(frame) if has_data else ("min", "minute")
    fig = make_subplots(
        rows=3, cols=2, specs=[[{}, {}], [{}, {}], [{"colspan": 2}, None]], vertical_spacing=0.12,
        subplot_titles=(f"Requests per {label} by status", f"Latency (ms) per {label}", "Error rate (%)",
                        "Predictions", "Input drift (PSI) against the baseline"),
    )
    if has_data:
        by_status, latency, errors = per_minute(frame, freq)
        width_ms = bin_width(freq).total_seconds() * 1000 * 0.9  # a lone bar would be 1 ms wide otherwise
        for status in by_status.columns:
            fig.add_trace(go.Bar(x=by_status.index, y=by_status[status], name=f"status {status}", width=width_ms,
                                 offset=0), row=1, col=1)
        for q, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            if q in latency.columns:
                fig.add_trace(go.Scatter(x=latency.index, y=latency[q], mode="lines+markers", name=label), row=1, col=2)
        fig.add_trace(go.Scatter(x=errors.index, y=errors.values, mode="lines+markers", name="error rate"),
                      row=2, col=1)
        pred = prediction_column(frame[frame["status"] == 200], frame.attrs.get("outputs", []))
        if pred is not None:
            fig.add_trace(go.Histogram(x=pred[1], name=pred[0], nbinsx=30), row=2, col=2)
        # whole bins either side: one bin of traffic alone would zoom the axes to sub-millisecond ticks
        span = [by_status.index.min() - bin_width(freq), by_status.index.max() + bin_width(freq)]
        for row, col in TIME_PANELS:
            fig.update_xaxes(range=span, row=row, col=col)
    else:
        _note(fig, "No requests collected in this window yet.", row=1, col=1)
    if drift is not None and not drift.empty:
        colors = ["crimson" if d else "steelblue" for d in drift["drifted"]]
        # several model versions served in the window: one bar each, never stacked into one
        x = drift["feature"] if drift["model"].nunique() < 2 else drift["feature"] + " (" + drift["model"] + ")"
        fig.add_trace(go.Bar(x=x, y=drift["psi"], marker_color=colors, name="PSI"), row=3, col=1)
        fig.add_hline(y=threshold, line_dash="dash", line_color="crimson", row=3, col=1,
                      annotation_text=f"threshold {threshold:g}")
    else:
        _note(fig, drift_note(frame if has_data else None, drift), row=3, col=1)
    fig.update_layout(title=f"Deployment {deployment}", barmode="stack", height=900, template="plotly_white")
    return fig


def build_comparison(endpoint: str, frames: dict[str, Any]) -> Any:
    """An endpoint's deployments side by side (blue against green): one trace per deployment for
    requests, p99 latency and error rate over time, and their predictions overlaid."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    present = {name: f for name, f in frames.items() if f is not None and not f.empty and "status" in f}
    freq, label = bin_size(pd_concat(list(present.values()))) if present else ("min", "minute")
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.15, subplot_titles=(
        f"Requests per {label}", f"Latency p99 (ms) per {label}", "Error rate (%)", "Predictions"))
    palette = ["royalblue", "seagreen", "darkorange", "crimson", "purple", "gray"]
    for i, (name, frame) in enumerate(sorted(present.items())):
        color = name if name in ("blue", "green") else palette[i % len(palette)]  # one color per deployment
        style = {"legendgroup": name, "marker": {"color": color}}
        by_status, latency, errors = per_minute(frame, freq)
        fig.add_trace(go.Scatter(x=by_status.index, y=by_status.sum(axis=1), mode="lines+markers", name=name,
                                 **style), row=1, col=1)
        if 0.99 in latency.columns:
            fig.add_trace(go.Scatter(x=latency.index, y=latency[0.99], mode="lines+markers", name=f"{name} p99",
                                     **style), row=1, col=2)
        fig.add_trace(go.Scatter(x=errors.index, y=errors.values, mode="lines+markers", name=f"{name} errors",
                                 **style), row=2, col=1)
        pred = prediction_column(frame[frame["status"] == 200], frame.attrs.get("outputs", []))
        if pred is not None:
            fig.add_trace(go.Histogram(x=pred[1], name=f"{name} {pred[0]}", nbinsx=30, opacity=0.55,
                                       histnorm="probability", **style), row=2, col=2)
    fig.update_layout(title=f"Endpoint {endpoint}: {' vs '.join(sorted(present)) or 'no data yet'}",
                      barmode="overlay", height=750, template="plotly_white")
    return fig


def pd_concat(frames: list[Any]) -> Any:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)
