"""Data tab: pick a task (built-in demo, local file or folder, upload, Hugging Face name), see what is in it, and
choose the splits and eval size that the other tabs use. Data with one split (a single file) gets a validation split
held out of it (`data.splits`: seeded, stratified, on by default), which the visitor can turn off or change; when
the rows scored are also demonstration rows, the tab says so.

The visitor's choice is one small dict in `page.data` (the *selection*); the loaded `Dataset` itself lives in the
shared cache of `ui.state`, so the state stays tiny and two visitors on the same task share one copy.
"""

from __future__ import annotations

import functools
import os

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.data import datasets, splits
from promptlab.data.sampling import evaluation_rows
from promptlab.ui import state
from promptlab.ui.format import guarded, md_code, md_text, plot_text
from promptlab.ui.i18n import PageError, say, t
from promptlab.ui.page import DataHandles, Page

DEMO_TASKS = ("demo-reviews", "demo-reviews-zh")
PREVIEW_ROWS = 20
DEFAULT_EVAL_SIZE = 100


def selection(dataset, source: str, train: str | None = None, eval_split: str | None = None,
              eval_size: int | None = None, holdout=None) -> dict:
    """The visitor's data choice: enough to find the dataset again and to pick its rows. `dataset` is the data as
    loaded; `holdout` (a `splits.Holdout`, its dict, or None) holds a validation split out of single-split data."""
    holdout = splits.Holdout.from_value(holdout) if splits.can_hold_out(dataset) else None
    dataset = splits.with_holdout(dataset, holdout)
    train = train if train in dataset.splits else dataset.default_train_split
    eval_split = eval_split if eval_split in dataset.splits else dataset.default_eval_split
    available = len(dataset.rows(eval_split))
    size = int(eval_size) if eval_size else DEFAULT_EVAL_SIZE
    return {"source": source, "name": dataset.name, "label_column": dataset.label_column, "train": train,
            "eval": eval_split, "eval_size": max(1, min(size, available)), "columns": list(dataset.columns),
            "holdout": holdout.to_dict() if holdout else None}


def build(page: Page) -> DataHandles:
    L = page.labels
    L(gr.Markdown, value_key="data.intro")
    with gr.Row(equal_height=True):
        demo = L(gr.Dropdown, choices=list(DEMO_TASKS), value=DEMO_TASKS[0], label_key="data.demo", scale=2,
                 elem_id="data-demo")
        use_demo = L(gr.Button, value_key="data.use_demo", variant="primary", scale=1, elem_id="data-use-demo")
        source = L(gr.Textbox, label_key="data.source", placeholder_key="data.source_placeholder", scale=3,
                   elem_id="data-source")
        load = L(gr.Button, value_key="data.load", scale=1, elem_id="data-load")
    upload = L(gr.File, label_key="data.upload", file_types=[".csv", ".tsv", ".jsonl", ".json", ".parquet"],
               height=130, elem_id="data-upload")
    summary = gr.Markdown(elem_id="data-summary", latex_delimiters=[])  # "$$" in a name is text, not a formula
    with gr.Row():
        label_column = L(gr.Dropdown, label_key="data.label_column", choices=[], interactive=True)
        train = L(gr.Dropdown, label_key="data.train_split", choices=[], interactive=True)
        eval_split = L(gr.Dropdown, label_key="data.eval_split", choices=[], interactive=True)
        eval_size = L(gr.Slider, label_key="data.eval_size", minimum=1, maximum=DEFAULT_EVAL_SIZE, step=1,
                      value=DEFAULT_EVAL_SIZE, elem_id="data-eval-size")
    holdout = build_holdout(page)
    with gr.Row():
        distribution = L(gr.Plot, label_key="data.distribution", show_label=False, scale=2,
                         elem_id="data-distribution")
        preview = L(gr.Dataframe, label_key="data.preview", wrap=True, max_height=420, interactive=False, scale=3,
                    elem_id="data-preview")

    # Loading sets only the selection: a load that fails shows its error once (a toast naming what is still in use)
    # and leaves the tab showing what is loaded, instead of an "Error" badge on every part of it.
    shown = [summary, label_column, train, eval_split, eval_size, distribution, preview]
    chosen = [page.data, page.lang]
    for event, handler, inputs in ((use_demo.click, load_source, [demo]), (load.click, load_source, [source]),
                                   (source.submit, load_source, [source]), (upload.upload, load_upload, [upload]),
                                   (label_column.input, change_label_column, [label_column])):
        event(handler, [*inputs, *chosen], page.data).success(show, chosen, shown, show_progress="hidden")
    for widget in (train, eval_split, eval_size):
        widget.input(change_splits, [train, eval_split, eval_size, *chosen], page.data).success(
            show, chosen, shown, show_progress="hidden")
    page.on_language(show, chosen, shown)
    for widget in holdout[1:]:
        widget.input(change_holdout, [*holdout[1:], *chosen], page.data, trigger_mode="always_last").success(
            show, chosen, shown, show_progress="hidden")
    page.data.change(show_holdout, page.data, holdout, show_progress="hidden")
    return DataHandles(demo=demo, shown=shown)


def keeps_selection(fn):
    """A loading handler that fails says so once, naming the data still in use (its last input but the language is
    the current selection); the page keeps showing that data."""

    @guarded("data.load_failed")
    @functools.wraps(fn)
    def handler(*args):
        *rest, current, lang = args
        try:
            return fn(*rest, current, lang)
        except ValueError as error:
            still = t("data.still_using", lang, name=current["name"]) if current else ""
            raise ValueError(f"{say(error, lang)}{still}") from None

    return handler


@keeps_selection
def load_source(source: str, current: dict | None, lang: str) -> dict:
    """The selection of a typed or picked source (a demo task, a Hub name, a server path where allowed)."""
    source = (source or "").strip()
    if not source:
        raise ValueError(t("data.no_source", lang))
    if not state.CONFIG.allow_local_files and _is_local_path(source):
        raise ValueError(t("data.local_disabled", lang))
    dataset = state.get_dataset(source)
    return selection(dataset, source, holdout=splits.default_holdout(dataset))


def _is_local_path(source: str) -> bool:
    """A typed source that names the server's file system (not a demo task or a Hub dataset name)."""
    if source in datasets.DEMOS:
        return False
    return source.startswith(("/", ".", "~", "\\")) or os.path.exists(source) or \
        os.path.splitext(source)[1].lower() in datasets.PATH_SUFFIXES


@keeps_selection
def load_upload(path: str | None, current: dict | None, lang: str) -> dict:
    """The selection of an uploaded file (its temp path is ours: allowed even where typed paths are not)."""
    if not path:
        return gr.skip()
    limit = datasets.MAX_UPLOAD_BYTES
    size = os.path.getsize(path)
    if size > limit:
        raise ValueError(t("data.too_big", lang, size=_mib(size), limit=_mib(limit)))
    state.remember_upload(path)
    dataset = state.get_dataset(path)
    return selection(dataset, path, holdout=splits.default_holdout(dataset))


@keeps_selection
def change_label_column(label_column: str, current: dict | None, lang: str) -> dict:
    if not current:
        return gr.skip()
    dataset = state.get_dataset(current["source"], label_column or None)
    return selection(dataset, current["source"], current["train"], current["eval"], current["eval_size"],
                     current.get("holdout"))


@keeps_selection
def change_splits(train: str, eval_split: str, eval_size: float, current: dict | None, lang: str) -> dict:
    if not current:
        return gr.skip()
    return selection(_loaded(current), current["source"], train, eval_split, eval_size, current.get("holdout"))


# ---- the validation split held out of single-split data -----------------------------------------------------------

def build_holdout(page: Page) -> list:
    """The holdout controls (shown for single-split data): [their row, on/off, fraction, seed]."""
    L = page.labels
    with gr.Row(visible=False, equal_height=True) as row:
        on = L(gr.Checkbox, label_key="data.holdout", info_key="data.holdout_info", value=True, scale=2,
               elem_id="data-holdout")
        fraction = L(gr.Slider, label_key="data.val_fraction", minimum=0.05, maximum=0.5, step=0.05,
                     value=splits.DEFAULT_FRACTION, scale=2, elem_id="data-val-fraction")
        seed = L(gr.Number, label_key="data.split_seed", value=0, precision=0, minimum=0, scale=1,
                 elem_id="data-split-seed")
    return [row, on, fraction, seed]


@keeps_selection
def change_holdout(on: bool, fraction: float, seed: float, current: dict | None, lang: str) -> dict:
    """The selection with the validation split turned on (with this fraction and seed) or off; the splits go back
    to their defaults (train / validation, or the one split for both)."""
    if not current:
        return gr.skip()
    holdout = splits.Holdout(float(fraction), _whole(seed)) if on else None
    return selection(_loaded(current), current["source"], eval_size=current["eval_size"], holdout=holdout)


def show_holdout(sel: dict | None):
    """The holdout controls for a selection: shown only for single-split data, set as the selection has them."""
    if not sel:
        return [gr.skip()] * 4
    try:
        single = splits.can_hold_out(_loaded(sel))
    except ValueError:  # the data cannot be read now: the tab's own display says why
        return [gr.skip()] * 4
    if not single:
        return [gr.update(visible=False), gr.skip(), gr.skip(), gr.skip()]
    holdout = splits.Holdout.from_value(sel.get("holdout"))
    return [gr.update(visible=True), gr.update(value=holdout is not None),
            gr.update(value=holdout.fraction) if holdout else gr.skip(),
            gr.update(value=holdout.seed) if holdout else gr.skip()]


def _loaded(sel: dict):
    """The selection's dataset as loaded (before any holdout)."""
    return state.get_dataset(sel["source"], sel.get("label_column"))


def _whole(value) -> int:
    """A seed as typed: a whole number (gradio gives floats, or None for an empty box)."""
    if value is None or value == "":
        return 0
    if float(value) != int(float(value)):
        raise PageError("data.bad_split_seed", value=value)
    return int(float(value))


def show(sel: dict | None, lang: str):
    """Everything the tab shows for a selection, in `lang`."""
    if not sel:
        return [gr.skip()] * 7
    return _show(sel, state.dataset_of(sel), lang)


def _show(sel: dict, dataset, lang: str):
    """Every display of the tab for one selection."""
    eval_total = len(dataset.rows(sel["eval"]))
    counts = {split: dataset.label_counts(split) for split in (sel["train"], sel["eval"])} \
        if dataset.label_column else {}
    preview = pd.DataFrame(dataset.rows(sel["train"])[:PREVIEW_ROWS])
    if not preview.empty:  # label, then short columns, long texts last: a long column pushes the rest out of view
        width = {c: preview[c].astype(str).str.len().mean() for c in preview.columns}
        preview = preview[sorted(preview.columns, key=lambda c: (c != dataset.label_column, width[c]))]
    no_label = [(t("data.no_label", lang), "")]
    return (
        summary_markdown(dataset, sel, lang),
        gr.update(choices=no_label + [(c, c) for c in dataset.columns], value=dataset.label_column or ""),
        gr.update(choices=list(dataset.splits), value=sel["train"]),
        gr.update(choices=list(dataset.splits), value=sel["eval"]),
        gr.update(maximum=max(eval_total, 2), value=sel["eval_size"]),  # gradio needs maximum > minimum (1)
        plots.label_distribution(_plot_counts(counts), title=t("data.distribution", lang),
                                 count_label=t("data.rows", lang), empty_label=t("data.no_labels_plot", lang))
        if counts else plots.empty(t("data.no_labels_plot", lang)),
        preview,
    )


def summary_markdown(dataset, sel: dict, lang: str) -> str:
    """Name, splits, columns and labels, the held-out validation split and any overlap of the rows scored with the
    demonstration rows: every name from the data is shown as text (md_text / md_code)."""
    listed = ", ".join(f"{md_code(name)} {len(rows)}" for name, rows in dataset.splits.items())
    lines = [
        f"### {md_text(dataset.name)}",
        f"**{t('data.splits', lang)}**: {listed}  ",
        f"**{t('data.columns', lang)}**: " + ", ".join(md_code(c) for c in dataset.columns) + "  ",
        f"**{t('data.label_column', lang)}**: " + (md_code(dataset.label_column) if dataset.label_column
                                                    else t("data.no_label", lang)) + "  ",
    ]
    if dataset.labels:
        lines.append(f"**{t('data.labels', lang)}**: " + ", ".join(md_code(x) for x in dataset.labels) + "  ")
    if sel.get("holdout"):
        lines.append(holdout_markdown(dataset, sel["holdout"], lang) + "  ")
    lines.append(t("data.using", lang, train=md_code(sel["train"]), eval=md_code(sel["eval"]), n=sel["eval_size"]))
    warning = overlap_markdown(dataset, sel, lang)
    return "\n".join(lines + ([f"\n{warning}"] if warning else []))


def holdout_markdown(dataset, holdout: dict, lang: str) -> str:
    """What the held-out validation split is: its size, share, stratification and seed."""
    train, val = len(dataset.rows(splits.TRAIN)), len(dataset.rows(splits.VALIDATION))
    how = t("data.stratified", lang, label=md_code(dataset.label_column)) if dataset.label_column \
        else t("data.not_stratified", lang)
    return t("data.holdout_note", lang, val=val, total=train + val, pct=f"{holdout['fraction']:.0%}", how=how,
             seed=holdout["seed"], train=train)


def overlap_markdown(dataset, sel: dict, lang: str) -> str:
    """A warning when rows scored are also rows demonstrations and tuning are drawn from; "" when none is."""
    if sel["train"] == sel["eval"]:
        return "⚠ " + t("data.overlap_same", lang, split=md_code(sel["eval"]))
    scored = evaluation_rows(dataset.rows(sel["eval"]), sel["eval_size"])
    n = splits.overlap(dataset.rows(sel["train"]), scored, dataset.label_column)
    return "⚠ " + t("data.overlap_rows", lang, n=n, total=len(scored), train=md_code(sel["train"])) if n else ""


def _plot_counts(counts: dict) -> dict:
    """{split: {label: count}} with split and label names escaped for plotly (it reads tags in texts)."""
    return {plot_text(split): {plot_text(label): n for label, n in by_label.items()} for split, by_label in
            counts.items()}


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
