"""Runs tab: every tuning run on disk, its curves, several runs overlaid, and resume / delete / download.

The runs folder is the database (see `promptlab.runs`): this tab re-reads it on a slow timer and on demand.
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.runs import store
from promptlab.runs.queue import RESUMABLE
from promptlab.tuning.config import METHODS
from promptlab.ui import run_view, state
from promptlab.ui.format import duration, fmt, guarded, md_code, md_text, plot_text, t_metric
from promptlab.ui.i18n import t
from promptlab.ui.page import Page, RunsHandles

REFRESH_SECONDS = 5.0


def build(page: Page) -> RunsHandles:
    L = page.labels
    L(gr.Markdown, value_key="runs.intro")
    table = L(gr.Dataframe, label_key="runs.table", interactive=False, max_height=360, wrap=False,
              elem_id="runs-table")
    with gr.Row(equal_height=True):
        picked = L(gr.Dropdown, label_key="runs.pick", info_key="runs.pick_info", choices=[], multiselect=True,
                   scale=4, elem_id="runs-pick")
        refresh = L(gr.Button, value_key="runs.refresh", scale=1)
    with gr.Row():
        resume = L(gr.Button, value_key="runs.resume", elem_id="runs-resume", interactive=False)
        to_compare = L(gr.Button, value_key="runs.to_compare", variant="primary", elem_id="runs-to-compare")
        delete = L(gr.Button, value_key="runs.delete", variant="stop", elem_id="runs-delete")
        confirm = L(gr.Button, value_key="runs.confirm_delete", variant="stop", visible=False,
                    elem_id="runs-confirm-delete")
        bundle = L(gr.DownloadButton, label_key="tune.download_bundle", value=None, visible=False)
    overlay = L(gr.Plot, label_key="runs.overlay", show_label=False, elem_id="runs-overlay")
    with gr.Row():
        accuracy = L(gr.Plot, label_key="tune.accuracy", show_label=False, elem_id="runs-accuracy")
        loss = L(gr.Plot, label_key="tune.loss", show_label=False)
    with L(gr.Accordion, label_key="runs.details", open=False):
        details = gr.Markdown(elem_id="runs-details", latex_delimiters=[])  # "$$" in a run's texts is text
        log = L(gr.Code, label_key="runs.log", language="shell", interactive=False, lines=10, max_lines=20)
    timer = gr.Timer(REFRESH_SECONDS)

    listed = [table, picked]
    shown = [overlay, accuracy, loss, details, log, bundle]
    for trigger in (refresh.click, timer.tick, page.runs_changed.change, page.lang.change):
        trigger(list_table, [picked, page.lang], listed, show_progress="hidden")
    picked.change(show_runs, [picked, page.lang], shown, show_progress="hidden")
    picked.change(actions_for, picked, resume, show_progress="hidden")
    page.lang.change(show_runs, [picked, page.lang], shown, show_progress="hidden")
    resume.click(resume_runs, [picked, page.lang], page.runs_changed)
    delete.click(lambda: gr.update(visible=True), None, confirm)
    confirm.click(delete_runs, [picked, page.lang], [page.runs_changed, picked]).then(
        lambda: gr.update(visible=False), None, confirm)
    return RunsHandles(picked=picked, to_compare=to_compare, listed=listed)


def list_table(picked, lang: str, request: gr.Request = None):
    runs = store.list_runs(owner=state.owner_of(request))
    ids = {r.run_id for r in runs}
    choices = [(f"{r.run_id} · {t(f'status.{r.status}', lang)}", r.run_id) for r in runs]
    return runs_frame(runs, lang), gr.update(choices=choices, value=[p for p in (picked or []) if p in ids])


def runs_frame(runs, lang: str) -> pd.DataFrame:
    """One row per run: what it trained, how it went, how long it took."""
    records = []
    for r in runs:
        metric = r.baselines.get("metric") or "acc"
        best = r.best.get(metric)
        records.append({
            t("runs.col_run", lang): r.run_id,
            t("runs.col_status", lang): t(f"status.{r.status}", lang),
            t("runs.col_template", lang): r.template,
            t("runs.col_task", lang): r.task,
            t("runs.col_method", lang): t(f"method.{r.method}", lang) if r.method in METHODS else r.method,
            t("runs.col_progress", lang): f"{r.step}/{r.total_steps}",
            t("runs.col_best", lang): f"{metric} {fmt(best)}" if best is not None else "–",
            t("runs.col_baseline", lang): fmt(r.baselines.get(f"zero_shot_{metric}")),
            t("runs.col_duration", lang): duration(_duration(r)),
            t("runs.col_created", lang): time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
        })
    return pd.DataFrame(records) if records else pd.DataFrame({t("runs.col_run", lang): []})


def _duration(run) -> float | None:
    if not run.started:
        return None
    return (run.finished or time.time()) - run.started


@guarded("runs.open_failed")
def show_runs(picked, lang: str, request: gr.Request = None):
    """Overlay every picked run; the first one's curves (with its baselines), details and log in full."""
    if not picked:
        empty = plots.empty(t("runs.none_picked", lang))
        return empty, empty, empty, "", "", gr.update(visible=False)
    owner = state.owner_of(request)
    lines = {run_id: store.read_metrics(run_id, owner=owner) for run_id in picked}
    first = store.get_run(picked[0], owner=owner)
    metric = run_view.metric_of(first, lines[first.run_id])
    overlay = plots.run_overlay({plot_text(run_id): m for run_id, m in lines.items()}, metric=metric,
                                metric_label=t_metric(metric, lang),
                                title=t("runs.overlay", lang), step_label=t("plot.step", lang),
                                loss_label=t("plot.val_loss", lang))
    accuracy, loss = run_view.curves(first, lines[first.run_id], lang)
    files = run_view.downloads(first, owner)
    return (overlay, accuracy, loss, details_markdown(first, lang), store.read_log(first.run_id, tail=80, owner=owner),
            gr.update(value=files[1], visible=files[1] is not None))


def details_markdown(run, lang: str) -> str:
    """What the run trained, on what, with which settings, and its error: all read from the run's files, so all
    shown as text."""
    spec = run.spec
    config = spec.get("config") or {}
    shown = ("method", "num_virtual_tokens", "init", "lr", "max_steps", "batch_size", "eval_every", "device")
    settings = ", ".join(md_code(f"{k}={config[k]}") for k in shown if k in config)
    lines = [f"**{md_text(run.run_id)}** · {t(f'status.{run.status}', lang)}",
             f"{t('runs.col_template', lang)}: {md_code(run.template)} · {t('runs.col_task', lang)}: "
             f"{md_code(spec.get('data'))} ({md_text(spec.get('train_split'))} → {md_text(spec.get('eval_split'))}, "
             f"{md_text(spec.get('eval_size'))}) · {md_code(spec.get('model'))}", settings]
    if run.error:
        lines.append(f"⚠ {md_text(run.error)}")
    return "  \n".join(lines)


def actions_for(picked, request: gr.Request = None):
    """Resume is offered only where training is on and every picked run can be resumed (interrupted, failed or
    cancelled)."""
    statuses = {r.run_id: r.status for r in store.list_runs(owner=state.owner_of(request))}
    resumable = bool(picked) and all(statuses.get(p) in RESUMABLE for p in picked)
    return gr.update(interactive=resumable and state.CONFIG.allow_training)


@guarded("runs.resume_failed")
def resume_runs(picked, lang: str, request: gr.Request = None):
    if not picked:
        raise ValueError(t("runs.none_picked", lang))
    for run_id in picked:
        store.resume(run_id, owner=state.owner_of(request), allow_training=state.CONFIG.allow_training)
    gr.Info(t("runs.resumed", lang, n=len(picked)))
    return time.time()


@guarded("runs.delete_failed")
def delete_runs(picked, lang: str, request: gr.Request = None):
    if not picked:
        raise ValueError(t("runs.none_picked", lang))
    for run_id in picked:
        store.delete(run_id, owner=state.owner_of(request))
    gr.Info(t("runs.deleted", lang, n=len(picked)))
    return time.time(), gr.update(value=[])
