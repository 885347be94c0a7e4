"""A run's dashboard pieces, shared by the Tune and Runs tabs: its curves beside the manual prompts' scores, a
status line, the soft prompt's nearest tokens, and downloads. Reads the run folder only."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict

import pandas as pd

from promptlab import plots
from promptlab.prompts.files import parse_template
from promptlab.runs.card import worse_than_start
from promptlab.runs.export import export_adapter_zip, export_bundle
from promptlab.runs.queue import ACTIVE, DAMAGED
from promptlab.scoring.metrics import primary
from promptlab.ui import private_files
from promptlab.ui.format import duration, fmt, html_text, plot_text, t_metric
from promptlab.ui.i18n import has, say, t


def metric_of(run, lines: list[dict]) -> str:
    """The metric a run is judged by: its baselines say (a metric's name is a word), else its template's mode
    (known before any evaluation)."""
    named = run.baselines.get("metric")
    if isinstance(named, str) and re.fullmatch(r"\w{1,40}", named):
        return named
    try:
        return primary(parse_template(run.spec.get("template") or "", "the run's template").mode)
    except ValueError:
        return primary("rank" if any("acc" in m for m in lines) else "generate")


def curves(run, lines: list[dict], lang: str):
    """(validation metric per step beside the manual prompts' scores, train and validation loss) figures."""
    accuracy = plots.accuracy_curves(
        lines, _plot_baselines(run.baselines), metric=metric_of(run, lines),
        metric_label=t_metric(metric_of(run, lines), lang), total_steps=run.total_steps,
        title=t("tune.accuracy", lang), step_label=t("plot.step", lang), soft_label=t("plot.soft", lang),
        zero_shot_label=t("plot.zero", lang), few_shot_label=t("plot.few", lang),
        majority_label=t("plot.majority", lang))
    loss = plots.loss_curves(lines, title=t("tune.loss", lang), step_label=t("plot.step", lang),
                             train_label=t("plot.train_loss", lang), val_label=t("plot.val_loss", lang))
    return accuracy, loss


def _plot_baselines(baselines: dict) -> dict:
    """The run's baselines with its templates' names escaped for plotly (they name the reference lines)."""
    templates = baselines.get("templates")
    if not isinstance(templates, dict):
        return baselines
    return {**baselines, "templates": {plot_text(name): scores for name, scores in templates.items()}}


def status_html(run, metric: str, lang: str, lines: list[dict] = ()) -> str:
    """Status, a progress bar, ETA, the best score so far, how long it ran, where a resume continued, and, once
    it ended, which evaluation the downloads hold (and whether the run ended worse than it started). Read from files
    a run wrote (its error quotes data and exceptions): every part is escaped, as gr.HTML renders what it is
    given."""
    share = run.step / run.total_steps if run.total_steps else 0.0
    parts = [t("tune.stopping", lang) if run.stopping else t(f"status.{run.status}", lang),
             t("tune.step", lang, step=run.step, total=run.total_steps, share=f"{share:.0%}")]
    if run.status in ACTIVE and run.eta_seconds and not run.stopping:
        parts.append(t("tune.eta", lang, eta=duration(run.eta_seconds, lang)))
    if run.best.get(metric) is not None:
        parts.append(t("tune.best", lang, metric=t_metric(metric, lang), value=fmt(run.best[metric]),
                       step=run.best.get("step")))
    if run.active_seconds:
        parts.append(t("tune.ran", lang, time=duration(run.active_seconds, lang)))
    if run.resumed_from is not None:
        parts.append(t("tune.resumed_from", lang, step=run.resumed_from) if run.resumed_from else
                     t("tune.restarted", lang))
    if run.status in ACTIVE and not run.baselines:
        parts.append(t("tune.measuring", lang))
    elif run.baselines.get("reused") and run.status in ACTIVE:
        parts.append(t("tune.baselines_reused", lang))
    status, *rest = (html_text(part) for part in parts)
    notes = [html_text(note) for note in outcome(run, metric, lines, lang)]
    notes_html = "".join(f"<div class='pl-note'>{note}</div>" for note in notes)
    error = f"<div class='pl-error'>{html_text(say(run.error, lang))}</div>" if run.error else ""
    width = min(max(share, 0.0), 1.0) * 100
    return (f"<div class='pl-status'>{' · '.join([f'<b>{status}</b>', *rest])}<div class='pl-bar'>"
            f"<div style='width:{width:.1f}%'></div></div>{notes_html}{error}</div>")


def outcome(run, metric: str, lines: list[dict], lang: str) -> list[str]:
    """What an ended run's downloads hold: the best evaluation's step, and, when the run ended below where it
    started, that it did (so the user knows the adapter is not the last state)."""
    if run.status in ACTIVE or not run.best:
        return []
    evals = [m for m in lines if m.get("split", "val") == "val" and isinstance(m.get(metric), (int, float))]
    start = next((m for m in evals if m.get("step") == 0), None)
    notes = []
    if start is not None and evals and worse_than_start(metric, start[metric], evals[-1][metric]):
        notes.append(t("tune.worse", lang, metric=t_metric(metric, lang), start=fmt(start[metric]),
                       last=fmt(evals[-1][metric]), step=evals[-1].get("step")))
    notes.append(t("tune.exported", lang, step=run.best.get("step")))
    return notes


def run_label(run, lang: str) -> str:
    """A run as legends and lists name it: the name the user gave it, else its template, method and start time."""
    if run.name:
        return run.name
    method = t(f"method.{run.method}", lang) if has(f"method.{run.method}") else run.method
    return f"{run.template} · {method} · {time.strftime('%m-%d %H:%M', time.localtime(run.created))}"


def run_labels(runs, lang: str) -> dict[str, str]:
    """run id -> label, every label distinct (a repeated one gets the end of its run id)."""
    labels: dict[str, str] = {}
    for run in runs:
        label = run_label(run, lang)
        if label in labels.values():
            label = f"{label} [{run.run_id[-4:]}]"
        labels[run.run_id] = label
    return labels


def nearest_table(lines: list[dict], lang: str) -> pd.DataFrame | None:
    """The soft prompt's latest nearest vocabulary tokens, one row per virtual token, with its drift from init."""
    probes = [m for m in lines if m.get("kind") == "nearest_tokens" and m.get("tokens")]
    if not probes:
        return None
    last = probes[-1]
    drift = last.get("drift") or []
    return pd.DataFrame({
        t("tune.col_token", lang): [f"v{i}" for i in range(len(last["tokens"]))],
        t("tune.col_nearest", lang): [" · ".join(repr(tok)[1:-1] for tok in row) for row in last["tokens"]],
        t("tune.col_drift", lang): [round(d, 3) for d in drift] + [None] * (len(last["tokens"]) - len(drift)),
    })


_files: OrderedDict[tuple, tuple[str, str]] = OrderedDict()  # (run id, finished) -> (adapter zip, bundle zip)
_files_lock = threading.Lock()  # handlers run in several threads


def downloads(run, owner: str | None = None) -> tuple[str | None, str | None]:
    """Zips of the adapter and the run bundle of a run that has ended with an adapter (done, or cancelled, failed
    or interrupted after its first evaluation; `owner`'s, on a public app), in the app's private folder (made on
    first ask, then reused while the run and its name and note stay as they were). Plain files only: a link planted
    in the run folder is left out, never followed."""
    if run.status in ACTIVE or run.status == DAMAGED:
        return None, None
    key = (run.run_id, run.finished, run.name, run.note)
    with _files_lock:
        paths = _files.get(key)
    if paths is None or not all(os.path.isfile(path) for path in paths):
        try:
            adapter = export_adapter_zip(run.run_id, private_files.new_path(f"{run.run_id}-adapter", ".zip"),
                                         owner=owner)
            bundle = export_bundle(run.run_id, private_files.new_path(f"{run.run_id}-bundle", ".zip"), owner=owner)
        except (ValueError, OSError):  # no adapter (or a folder being deleted): nothing to offer
            return None, None
        paths = (str(adapter), str(bundle))
        with _files_lock:
            _files[key] = paths
            while len(_files) > private_files.MAX_KEPT // 2:  # two files per run
                _files.popitem(last=False)
    return paths
