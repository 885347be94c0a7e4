"""Pure plotly figure builders: plain data in (DataFrames, dicts, metric lines), a `go.Figure` out.

No gradio here, so the CLI, notebooks and tests can use the same figures. Every visible text (titles, axis names,
legend names) is a parameter with an English default, so the UI can pass its translated strings.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from promptlab.scoring.metrics import BY_NAME

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777")
MAJORITY_COLOR = "#6b7280"


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    """One look for every figure: white background, legend under the plot, tight margins."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
        hovermode="x unified",
    )
    return fig


def empty(message: str = "No data yet", height: int = 300) -> go.Figure:
    """A blank figure carrying a centred message (what a plot shows before there is anything to draw)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 14, "color": MAJORITY_COLOR},
                       xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height)


def label_distribution(counts: Mapping[str, Mapping[str, int]], title: str = "Label distribution",
                       count_label: str = "rows", empty_label: str = "No data yet") -> go.Figure:
    """Grouped bars of label -> count, one group per split ({split: {label: count}}), each bar with its share."""
    counts = {split: c for split, c in counts.items() if c}
    if not counts:
        return empty(empty_label)
    fig = go.Figure()
    for i, (split, by_label) in enumerate(counts.items()):
        total = sum(by_label.values()) or 1
        fig.add_trace(go.Bar(
            name=str(split), x=[str(k) for k in by_label], y=list(by_label.values()),
            marker_color=PALETTE[i % len(PALETTE)], textposition="auto",
            text=[f"{v} ({v / total:.0%})" for v in by_label.values()],
        ))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=count_label)
    fig = _layout(fig, title, 320)
    fig.update_layout(hovermode="closest")
    return fig


def metric_bars(metrics: pd.DataFrame, columns: Sequence[str], *, majority: float | None = None,
                title: str = "Scores", majority_label: str = "majority class",
                labels: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars: one group per row of `metrics` (a prompt), one bar per metric column.

    `metrics` has a `name` column and the metric columns; a `<metric>_std` column, when present, gives the error
    bar (the spread across few-shot seeds). A dashed line marks the majority-class accuracy. `labels` names the
    columns in the legend (a metric's display name); a column without one is named as it is.
    """
    fig = go.Figure()
    names = [str(n) for n in metrics["name"]] if "name" in metrics else [str(i) for i in metrics.index]
    for i, column in enumerate(c for c in columns if c in metrics):
        values = pd.to_numeric(metrics[column], errors="coerce")
        std_column = f"{column}_std"
        error = None
        if std_column in metrics:
            std = pd.to_numeric(metrics[std_column], errors="coerce").fillna(0).tolist()
            if any(s > 0 for s in std):
                error = {"type": "data", "array": std, "visible": True}
        fig.add_trace(go.Bar(
            name=(labels or {}).get(column, column), x=names, y=values.tolist(), error_y=error,
            marker_color=PALETTE[i % len(PALETTE)],
            text=[_fmt(v) for v in values], textposition="outside", cliponaxis=False, textangle=0,
        ))
    if majority is not None and not _missing(majority):
        # The line is a shape (it spans the whole width); an empty trace names it in the legend, away from bars.
        fig.add_hline(y=majority, line_dash="dash", line_color=MAJORITY_COLOR)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{majority_label} {majority:.2f}",
                                 line={"dash": "dash", "color": MAJORITY_COLOR}))
    # Value labels that do not fit above their bar are hidden (never run together); long prompt names wrap.
    fig.update_layout(barmode="group", uniformtext={"minsize": 9, "mode": "hide"})
    fig.update_xaxes(tickvals=names, ticktext=[wrap(n) for n in names], automargin=True)
    fig.update_yaxes(range=[0, 1.1])
    fig = _layout(fig, title, 380 + 14 * max((wrap(n).count("<br>") for n in names), default=0))
    fig.update_layout(hovermode="closest")
    return fig


def wrap(text: str, width: int = 18) -> str:
    """A long axis label broken into lines of about `width` characters at its spaces (never inside a word: a
    reader joining the lines reads it as written), so it is shown whole instead of cut off. Plotly reads tags in
    labels: the lines are escaped (a label escaped already is wrapped as the text it shows, not inside an entity).

    >>> wrap("sst2-review-sentiment (draft) and more")
    'sst2-review-sentiment<br>(draft) and more'
    """
    plain = html.unescape(str(text))
    lines = textwrap.wrap(plain, width, break_long_words=False, break_on_hyphens=False) or [plain]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def confusion_matrices(matrices: Mapping[str, pd.DataFrame | None], *, title: str = "Confusion matrices",
                       gold_label: str = "gold", predicted_label: str = "predicted",
                       empty_label: str = "No data yet") -> go.Figure:
    """One heatmap per prompt, side by side (rows: gold label, columns: predicted label)."""
    matrices = {name: m for name, m in matrices.items() if m is not None and not m.empty}
    if not matrices:
        return empty(empty_label)
    cols = min(len(matrices), 3)
    rows = math.ceil(len(matrices) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(matrices), horizontal_spacing=0.12,
                        vertical_spacing=0.2)
    for i, matrix in enumerate(matrices.values()):
        fig.add_trace(go.Heatmap(
            z=matrix.values.tolist(), x=[str(c) for c in matrix.columns], y=[str(r) for r in matrix.index],
            text=matrix.values.tolist(), texttemplate="%{text}", colorscale="Blues", showscale=False,
            hovertemplate=gold_label + " %{y} → " + predicted_label + " %{x}: %{z}<extra></extra>",
        ), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(title_text=predicted_label, side="bottom")
    fig.update_yaxes(title_text=gold_label, autorange="reversed")
    fig = _layout(fig, title, 320 * rows)
    fig.update_layout(hovermode="closest")
    return fig


def loss_curves(metrics: Iterable[Mapping], *, title: str = "Loss", step_label: str = "step",
                train_label: str = "train loss", val_label: str = "val loss") -> go.Figure:
    """Train loss (every logged step) and validation loss (every evaluation) against the step."""
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m and "step" in m]
    val = [(m["step"], m["val_loss"]) for m in metrics if "val_loss" in m and "step" in m]
    fig = go.Figure()
    if train:
        fig.add_trace(go.Scatter(x=[s for s, _ in train], y=[v for _, v in train], name=train_label,
                                 mode="lines", line={"color": PALETTE[0]}))
    if val:
        fig.add_trace(go.Scatter(x=[s for s, _ in val], y=[v for _, v in val], name=val_label,
                                 mode="lines+markers", line={"color": PALETTE[1]}))
    fig.update_xaxes(title_text=step_label, rangemode="tozero")
    return _layout(fig, title)


def accuracy_curves(metrics: Iterable[Mapping], baselines: Mapping | None = None, *, metric: str = "acc",
                    total_steps: int | None = None, title: str = "Validation accuracy", step_label: str = "step",
                    soft_label: str = "soft prompt", zero_shot_label: str = "zero-shot",
                    few_shot_label: str = "few-shot", majority_label: str = "majority class",
                    metric_label: str | None = None) -> go.Figure:
    """The soft prompt's validation metric per step, beside the manual prompts' scores.

    `baselines` is a run's baselines dict: `majority`, `zero_shot_<metric>`, `few_shot_<metric>`, and
    `templates` ({name: {"zero_shot": {metric: ..}, "few_shot": {metric: ..}}}). Each becomes a horizontal reference
    line across the whole step axis (drawn as a trace, not a shape, so it is named in the legend and can be toggled).
    """
    metrics = list(metrics)
    evals = [(m["step"], m[metric]) for m in metrics
             if m.get("split", "val") == "val" and metric in m and "step" in m and not _missing(m[metric])]
    last_step = max([total_steps or 0] + [s for s, _ in evals] + [1])
    fig = go.Figure()
    for name, value, dash, color in reference_lines(baselines or {}, metric, zero_shot_label, few_shot_label,
                                                    majority_label):
        fig.add_trace(go.Scatter(x=[0, last_step], y=[value, value], name=f"{name} {value:.2f}", mode="lines",
                                 line={"dash": dash, "color": color, "width": 1.5}, hoverinfo="name"))
    fig.add_trace(go.Scatter(x=[s for s, _ in evals], y=[v for _, v in evals], name=soft_label,
                             mode="lines+markers", line={"color": PALETTE[0], "width": 3}))
    fig.update_xaxes(title_text=step_label, range=[0, last_step])
    fig.update_yaxes(title_text=metric_label or metric, range=[0, 1.05])
    return _layout(fig, title)


def reference_lines(baselines: Mapping, metric: str = "acc", zero_label: str = "zero-shot",
                    few_label: str = "few-shot", majority_label: str = "majority class"):
    """(name, value, dash, colour) for each manual template's zero- and few-shot score, then the majority class.

    Per-template scores come from `templates`; a baselines dict without them falls back to its top-level
    `zero_shot_<metric>` / `few_shot_<metric>`.
    """
    lines = []
    templates = baselines.get("templates") or {}
    if not templates:
        templates = {"": {"zero_shot": {metric: baselines.get(f"zero_shot_{metric}")},
                          "few_shot": {metric: baselines.get(f"few_shot_{metric}")}}}
    prefix_names = len(templates) > 1
    for i, (name, scores) in enumerate(templates.items()):
        color = PALETTE[(i + 1) % len(PALETTE)]
        prefix = f"{name} " if name and prefix_names else ""
        for key, label, dash in (("zero_shot", zero_label, "dash"), ("few_shot", few_label, "dot")):
            value = ((scores or {}).get(key) or {}).get(metric)
            if not _missing(value):
                lines.append((prefix + label, float(value), dash, color))
    majority = baselines.get("majority")
    if metric in BY_NAME and BY_NAME[metric].majority_line and not _missing(majority):
        lines.append((majority_label, float(majority), "solid", MAJORITY_COLOR))
    return lines


def run_overlay(runs: Mapping[str, Iterable[Mapping]], *, metric: str = "acc", title: str = "Runs",
                step_label: str = "step", loss_label: str = "val loss", metric_label: str | None = None) -> go.Figure:
    """Several runs on one figure: the validation metric (left) and the validation loss (right) per step. Axes
    start at step 0 and the metric stays in [0, 1], also when a run has one point so far."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[metric_label or metric, loss_label], horizontal_spacing=0.1)
    last = 1
    for i, (name, lines) in enumerate(runs.items()):
        lines = list(lines)
        color = PALETTE[i % len(PALETTE)]
        for col, key in ((1, metric), (2, "val_loss")):
            points = [(m["step"], m[key]) for m in lines if key in m and "step" in m and not _missing(m[key])]
            last = max([last] + [s for s, _ in points])
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=name,
                                     legendgroup=name, showlegend=col == 1, mode="lines+markers",
                                     line={"color": color}), row=1, col=col)
    fig.update_xaxes(title_text=step_label, range=[0, last])
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    return _layout(fig, title, 380)


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _fmt(value) -> str:
    return "" if _missing(value) else f"{float(value):.2f}"
