"""Runs tab: every tuning run on disk, sortable, picked by clicking its row; its curves, several runs overlaid under
their names; name and note a run; resume, cancel, delete, download.

The runs folder is the database (see `promptlab.runs`): this tab re-reads it on a slow timer and on demand.
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.runs import store
from promptlab.runs.queue import ACTIVE, RESUMABLE
from promptlab.tuning.config import METHODS
from promptlab.ui import run_view, state
from promptlab.ui.format import duration, fmt, guarded, info, md_code, md_text, plot_text, t_metric
from promptlab.ui.i18n import has, say, t
from promptlab.ui.page import Page, RunsHandles

REFRESH_SECONDS = 5.0
SORTS = ("newest", "oldest", "name", "status", "best", "duration")
NOTE_CHARS = 60  # of a note, in the table


def build(page: Page) -> RunsHandles:
    L = page.labels
    L(gr.Markdown, value_key="runs.intro")
    with gr.Row(equal_height=True):
        sort = L(gr.Dropdown, label_key="runs.sort", choices_fn=sort_choices, value="newest", scale=4,
                 elem_id="runs-sort")
        refresh = L(gr.Button, value_key="runs.refresh", scale=1)
    table = L(gr.Dataframe, label_key="runs.table", interactive=False, max_height=360, wrap=False,
              elem_id="runs-table")
    with gr.Row(equal_height=True):
        picked = L(gr.Dropdown, label_key="runs.pick", info_key="runs.pick_info", choices=[], multiselect=True,
                   scale=4, elem_id="runs-pick")
    with gr.Row():
        resume = L(gr.Button, value_key="runs.resume", elem_id="runs-resume", interactive=False)
        cancel = L(gr.Button, value_key="runs.cancel", elem_id="runs-cancel", interactive=False)
        to_compare = L(gr.Button, value_key="runs.to_compare", variant="primary", elem_id="runs-to-compare")
        delete = L(gr.Button, value_key="runs.delete", variant="stop", elem_id="runs-delete")
        confirm = L(gr.Button, value_key="runs.confirm_delete", variant="stop", visible=False,
                    elem_id="runs-confirm-delete")
    actions_info = gr.Markdown(elem_id="runs-actions-info", latex_delimiters=[])
    with gr.Row(equal_height=True):
        name = L(gr.Textbox, label_key="runs.name", placeholder_key="runs.name_placeholder", max_length=120,
                 scale=2, elem_id="runs-name")
        note = L(gr.Textbox, label_key="runs.note", placeholder_key="runs.note_placeholder", max_length=4000,
                 lines=2, scale=4, elem_id="runs-note")
        save = L(gr.Button, value_key="runs.save_notes", scale=1, elem_id="runs-save-notes")
    with gr.Row():
        adapter = L(gr.DownloadButton, label_key="tune.download_adapter", value=None, visible=False,
                    elem_id="runs-download-adapter")
        bundle = L(gr.DownloadButton, label_key="tune.download_bundle", value=None, visible=False,
                   elem_id="runs-download-bundle")
    overlay = L(gr.Plot, label_key="runs.overlay", show_label=False, elem_id="runs-overlay")
    with gr.Row():
        accuracy = L(gr.Plot, label_key="tune.accuracy", show_label=False, elem_id="runs-accuracy")
        loss = L(gr.Plot, label_key="tune.loss", show_label=False)
    with L(gr.Accordion, label_key="runs.details", open=False):
        details = gr.Markdown(elem_id="runs-details", latex_delimiters=[])  # "$$" in a run's texts is text
        log = L(gr.Code, label_key="runs.log", language="shell", interactive=False, lines=10, max_lines=20)
    timer = gr.Timer(REFRESH_SECONDS)

    listed = [table, picked]
    shown = [overlay, accuracy, loss, details, log, adapter, bundle]
    acts = [resume, cancel, actions_info]
    for trigger in (refresh.click, timer.tick, page.runs_changed.change, sort.input):
        trigger(list_table, [picked, page.lang, sort], listed, show_progress="hidden")
    page.on_language(list_table, [picked, page.lang, sort], listed)
    table.select(pick_row, [picked], picked, show_progress="hidden")
    picked.change(show_runs, [picked, page.lang], shown, show_progress="hidden")
    picked.change(notes_of, picked, [name, note], show_progress="hidden")
    for trigger in (picked.change, page.runs_changed.change):
        trigger(actions_for, [picked, page.lang], acts, show_progress="hidden")
    page.on_language(actions_for, [picked, page.lang], acts)
    page.on_language(show_runs, [picked, page.lang], shown)
    resume.click(resume_runs, [picked, page.lang], page.runs_changed)
    cancel.click(cancel_runs, [picked, page.lang], page.runs_changed)
    save.click(save_notes, [picked, name, note, page.lang], page.runs_changed).then(
        show_runs, [picked, page.lang], shown, show_progress="hidden")
    delete.click(lambda: gr.update(visible=True), None, confirm)
    confirm.click(delete_runs, [picked, page.lang], [page.runs_changed, picked]).then(
        lambda: gr.update(visible=False), None, confirm)
    return RunsHandles(picked=picked, to_compare=to_compare, listed=listed, list_inputs=[picked, page.lang, sort])


def sort_choices(lang: str):
    return [(t(f"runs.sort_{s}", lang), s) for s in SORTS]


def list_table(picked, lang: str, sort: str = "newest", request: gr.Request = None):
    """The table and the picker's choices. The picks are sent back only when one of them is gone (deleted
    elsewhere): sending them unchanged would fire their change event on every refresh, and redraw the plots and
    reset a name being typed."""
    runs = sorted_runs(store.list_runs(owner=state.owner_of(request)), sort)
    ids = {r.run_id for r in runs}
    kept = [p for p in (picked or []) if p in ids]
    choices = pick_choices(runs, lang)
    if kept == list(picked or []):
        return runs_frame(runs, lang), gr.update(choices=choices)
    return runs_frame(runs, lang), gr.update(choices=choices, value=kept)


def pick_choices(runs, lang: str) -> list[tuple[str, str]]:
    """A run in the picker: its id and status (and its name, when it has one)."""
    return [(" · ".join([r.run_id, t(f"status.{r.status}", lang), *([r.name] if r.name else [])]), r.run_id)
            for r in runs]


def sorted_runs(runs, sort: str) -> list:
    """The runs in the order picked (newest first, as listed, unless asked otherwise; runs without a value last)."""
    if sort == "oldest":
        return list(reversed(runs))
    if sort == "name":
        return sorted(runs, key=lambda r: ((r.name or r.template).casefold(), -r.created))
    if sort == "status":
        return sorted(runs, key=lambda r: (r.status, -r.created))
    if sort == "best":
        return sorted(runs, key=lambda r: -(_best(r) if _best(r) is not None else -1e9))
    if sort == "duration":
        return sorted(runs, key=lambda r: -(r.active_seconds or 0.0))
    return list(runs)


def _best(run):
    value = run.best.get(run.baselines.get("metric") or "acc")
    return value if isinstance(value, (int, float)) else None


def runs_frame(runs, lang: str) -> pd.DataFrame:
    """One row per run: its name, how it went, how long it ran, what it trained, the note; its id last (a click
    reads it there)."""
    records = []
    for r in runs:
        metric = r.baselines.get("metric") or "acc"
        best = r.best.get(metric)
        records.append({
            t("runs.col_name", lang): r.name or "–",
            t("runs.col_status", lang): t("tune.stopping", lang) if r.stopping else t(f"status.{r.status}", lang),
            t("runs.col_best", lang): f"{t_metric(metric, lang)} {fmt(best)}" if best is not None else "–",
            t("runs.col_baseline", lang): fmt(r.baselines.get(f"zero_shot_{metric}")),
            t("runs.col_progress", lang): f"{r.step}/{r.total_steps}",
            t("runs.col_duration", lang): duration(r.active_seconds, lang),
            t("runs.col_template", lang): r.template,
            t("runs.col_method", lang): t(f"method.{r.method}", lang) if r.method in METHODS else r.method,
            t("runs.col_note", lang): _short(r.note),
            t("runs.col_task", lang): r.task,
            t("runs.col_created", lang): time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
            t("runs.col_run", lang): r.run_id,
        })
    return pd.DataFrame(records) if records else pd.DataFrame({t("runs.col_run", lang): []})


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= NOTE_CHARS else line[:NOTE_CHARS - 1] + "…"


def pick_row(picked, evt: gr.SelectData):
    """A click on a row picks its run, a second click drops it (the run id is the row's last cell, whatever order
    the table is sorted in)."""
    row = getattr(evt, "row_value", None) or []
    run_id = str(row[-1]) if row else ""
    picked = list(picked or [])
    if not run_id or run_id in ("nan", "None"):
        return gr.skip()
    return [p for p in picked if p != run_id] if run_id in picked else [*picked, run_id]


@guarded("runs.open_failed")
def show_runs(picked, lang: str, request: gr.Request = None):
    """Overlay every picked run under its name; the first one's curves (with its baselines), details, log and
    downloads in full."""
    hidden = gr.update(visible=False)
    if not picked:
        empty = plots.empty(t("runs.none_picked", lang))
        return empty, empty, empty, "", "", hidden, hidden
    owner = state.owner_of(request)
    runs = [store.get_run(run_id, owner=owner) for run_id in picked]
    lines = {run.run_id: store.read_metrics(run.run_id, owner=owner) for run in runs}
    labels = run_view.run_labels(runs, lang)
    first = runs[0]
    metric = run_view.metric_of(first, lines[first.run_id])
    overlay = plots.run_overlay({plot_text(labels[r.run_id]): lines[r.run_id] for r in runs}, metric=metric,
                                metric_label=t_metric(metric, lang),
                                title=t("runs.overlay", lang), step_label=t("plot.step", lang),
                                loss_label=t("plot.val_loss", lang))
    accuracy, loss = run_view.curves(first, lines[first.run_id], lang)
    files = run_view.downloads(first, owner)
    return (overlay, accuracy, loss, details_markdown(first, lang),
            store.read_log(first.run_id, tail=80, owner=owner),
            gr.update(value=files[0], visible=files[0] is not None),
            gr.update(value=files[1], visible=files[1] is not None))


def details_markdown(run, lang: str) -> str:
    """What the run trained, on what, with which settings, and its error: all read from the run's files, so all
    shown as text."""
    spec = run.spec
    config = spec.get("config") or {}
    settings = " · ".join(f"{t(label, lang)}: {md_text(_setting(config[key], values, lang))}"
                          for key, label, values in SETTINGS if key in config)
    title = f"**{md_text(run.name)}** · {md_text(run.run_id)}" if run.name else f"**{md_text(run.run_id)}**"
    lines = [f"{title} · {t(f'status.{run.status}', lang)} · {t('runs.col_duration', lang)} "
             f"{duration(run.active_seconds, lang)}",
             f"{t('runs.col_template', lang)}: {md_code(run.template)} · {t('runs.col_task', lang)}: "
             f"{md_code(spec.get('data'))} ({md_text(spec.get('train_split'))} → {md_text(spec.get('eval_split'))}, "
             f"{md_text(spec.get('eval_size'))}) · {md_code(spec.get('model'))}", settings]
    if run.note:
        lines.append(f"{t('runs.note', lang)}: {md_text(run.note)}")
    if run.error:
        lines.append(f"⚠ {md_text(say(run.error, lang))}")
    return "  \n".join(lines)


# The settings the details show, as the Tune form names them: (config key, label key, prefix of value keys or None).
SETTINGS = (("method", "tune.method", "method."), ("num_virtual_tokens", "tune.tokens", None),
            ("init", "tune.init", "init."), ("lr", "tune.lr", None), ("max_steps", "tune.steps", None),
            ("batch_size", "tune.batch", None), ("eval_every", "tune.eval_every", None),
            ("eval_size", "tune.eval_size", None), ("seed", "tune.seed", None), ("warmup_steps", "tune.warmup", None),
            ("schedule", "tune.schedule", "schedule."), ("early_stopping_patience", "tune.patience", None),
            ("device", "runs.device", "device."))


def _setting(value, values: str | None, lang: str) -> str:
    """A setting's value, translated where it is a name the form offers (a method, an init, a schedule)."""
    key = f"{values}{value}" if values else None
    return t(key, lang) if has(key) else str(value)


def notes_of(picked, request: gr.Request = None):
    """The name and note fields show the first picked run's."""
    if not picked:
        return "", ""
    try:
        run = store.get_run(picked[0], owner=state.owner_of(request))
    except ValueError:
        return "", ""
    return run.name, run.note


def resume_words(run, lang: str) -> str:
    """Where a resume of `run` continues, said before the click (and in the toast after it)."""
    if run.checkpoint:
        return t("runs.resume_continues", lang, run=run.run_id, step=run.checkpoint)
    return t("runs.resume_restarts", lang, run=run.run_id, steps=run.step)


def actions_for(picked, lang: str = "en", request: gr.Request = None):
    """Resume is offered only where training is on and every picked run can be resumed (interrupted, failed or
    cancelled), with where each would continue; Cancel only when a picked run is queued or running."""
    runs = {r.run_id: r for r in store.list_runs(owner=state.owner_of(request))}
    chosen = [runs[p] for p in picked or [] if p in runs]
    resumable = bool(chosen) and len(chosen) == len(picked) and all(r.status in RESUMABLE for r in chosen)
    active = any(r.status in ACTIVE and not r.stopping for r in chosen)
    words = [resume_words(r, lang) for r in chosen if r.status in RESUMABLE] if state.CONFIG.allow_training else []
    return (gr.update(interactive=resumable and state.CONFIG.allow_training), gr.update(interactive=active),
            "  \n".join(md_text(w) for w in words))


@guarded("runs.resume_failed")
def resume_runs(picked, lang: str, request: gr.Request = None):
    if not picked:
        raise ValueError(t("runs.none_picked", lang))
    words = []
    for run_id in picked:
        run = store.resume(run_id, owner=state.owner_of(request), allow_training=state.CONFIG.allow_training)
        words.append(t("runs.resumed_at", lang, run=run.run_id, step=run.resumed_from) if run.resumed_from else
                     t("runs.restarted", lang, run=run.run_id))
    info(" ".join(words), lang)
    return time.time()


@guarded("runs.cancel_failed")
def cancel_runs(picked, lang: str, request: gr.Request = None):
    owner = state.owner_of(request)
    active = [r for r in (store.get_run(p, owner=owner) for p in picked or []) if r.status in ACTIVE]
    if not active:
        raise ValueError(t("runs.none_active", lang))
    for run in active:
        store.cancel(run.run_id, owner=owner)
    info(t("runs.stopping", lang, n=len(active)), lang)
    return time.time()


@guarded("runs.notes_failed")
def save_notes(picked, name, note, lang: str, request: gr.Request = None):
    if not picked:
        raise ValueError(t("runs.none_picked", lang))
    run = store.set_notes(picked[0], owner=state.owner_of(request), name=name or "", note=note or "")
    info(t("runs.notes_saved", lang, run=run.run_id), lang)
    return time.time()


@guarded("runs.delete_failed")
def delete_runs(picked, lang: str, request: gr.Request = None):
    if not picked:
        raise ValueError(t("runs.none_picked", lang))
    for run_id in picked:
        store.delete(run_id, owner=state.owner_of(request))
    info(t("runs.deleted", lang, n=len(picked)), lang)
    return time.time(), gr.update(value=[])
