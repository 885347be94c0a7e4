"""Data tab: pick a task (built-in demo, local file or folder, upload, Hugging Face name), see what is in it, and
choose the splits and eval size that the other tabs use.

The visitor's choice is one small dict in `page.data` (the *selection*); the loaded `Dataset` itself lives in the
shared cache of `ui.state`, so the state stays tiny and two visitors on the same task share one copy.
"""

from __future__ import annotations

import os

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.data import datasets
from promptlab.ui import state
from promptlab.ui.format import guarded, md_code, md_text, plot_text
from promptlab.ui.i18n import t
from promptlab.ui.page import DataHandles, Page

DEMO_TASKS = ("demo-reviews", "demo-reviews-zh")
PREVIEW_ROWS = 20
DEFAULT_EVAL_SIZE = 100


def selection(dataset, source: str, train: str | None = None, eval_split: str | None = None,
              eval_size: int | None = None) -> dict:
    """The visitor's data choice: enough to find the dataset again and to pick its rows."""
    train = train if train in dataset.splits else dataset.default_train_split
    eval_split = eval_split if eval_split in dataset.splits else dataset.default_eval_split
    available = len(dataset.rows(eval_split))
    size = int(eval_size) if eval_size else DEFAULT_EVAL_SIZE
    return {"source": source, "name": dataset.name, "label_column": dataset.label_column, "train": train,
            "eval": eval_split, "eval_size": max(1, min(size, available)), "columns": list(dataset.columns)}


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
    with gr.Row():
        distribution = L(gr.Plot, label_key="data.distribution", show_label=False, scale=2,
                         elem_id="data-distribution")
        preview = L(gr.Dataframe, label_key="data.preview", wrap=True, max_height=420, interactive=False, scale=3,
                    elem_id="data-preview")

    shown = [page.data, summary, label_column, train, eval_split, eval_size, distribution, preview]
    use_demo.click(load_source, [demo, page.lang], shown)
    load.click(load_source, [source, page.lang], shown)
    source.submit(load_source, [source, page.lang], shown)
    upload.upload(load_upload, [upload, page.lang], shown)
    label_column.input(change_label_column, [page.data, label_column, page.lang], shown)
    for widget in (train, eval_split, eval_size):
        widget.input(change_splits, [page.data, train, eval_split, eval_size, page.lang], shown)
    page.lang.change(relabel, [page.data, page.lang], shown[1:], show_progress="hidden")
    return DataHandles(demo=demo, shown=shown)


@guarded("data.load_failed")
def load_source(source: str, lang: str):
    source = (source or "").strip()
    if not source:
        raise ValueError(t("data.no_source", lang))
    if not state.CONFIG.allow_local_files and _is_local_path(source):
        raise ValueError(t("data.local_disabled", lang))
    return _load(source, lang)


def _load(source: str, lang: str):
    dataset = state.get_dataset(source)
    return _show(selection(dataset, source), dataset, lang)


def _is_local_path(source: str) -> bool:
    """A typed source that names the server's file system (not a demo task or a Hub dataset name)."""
    if source in datasets.DEMOS:
        return False
    return source.startswith(("/", ".", "~", "\\")) or os.path.exists(source) or \
        os.path.splitext(source)[1].lower() in datasets.PATH_SUFFIXES


@guarded("data.load_failed")
def load_upload(path: str | None, lang: str):
    if not path:
        return [gr.skip()] * 8
    limit = datasets.MAX_UPLOAD_BYTES
    size = os.path.getsize(path)
    if size > limit:
        raise ValueError(t("data.too_big", lang, size=_mib(size), limit=_mib(limit)))
    state.remember_upload(path)
    return _load(path, lang)  # an upload's temp path is ours: allowed even where typed paths are not


@guarded("data.load_failed")
def change_label_column(sel: dict, label_column: str, lang: str):
    if not sel:
        return [gr.skip()] * 8
    dataset = state.get_dataset(sel["source"], label_column or None)
    return _show(selection(dataset, sel["source"], sel["train"], sel["eval"], sel["eval_size"]), dataset, lang)


@guarded("data.load_failed")
def change_splits(sel: dict, train: str, eval_split: str, eval_size: float, lang: str):
    if not sel:
        return [gr.skip()] * 8
    dataset = state.dataset_of(sel)
    return _show(selection(dataset, sel["source"], train, eval_split, eval_size), dataset, lang)


def relabel(sel: dict | None, lang: str):
    """The tab's outputs for the same selection in another language."""
    if not sel:
        return [gr.skip()] * 7
    return _show(sel, state.dataset_of(sel), lang)[1:]


def _show(sel: dict, dataset, lang: str):
    """Every output of the tab for one selection."""
    eval_total = len(dataset.rows(sel["eval"]))
    counts = {split: dataset.label_counts(split) for split in (sel["train"], sel["eval"])} \
        if dataset.label_column else {}
    preview = pd.DataFrame(dataset.rows(sel["train"])[:PREVIEW_ROWS])
    if not preview.empty:  # label, then short columns, long texts last: a long column pushes the rest out of view
        width = {c: preview[c].astype(str).str.len().mean() for c in preview.columns}
        preview = preview[sorted(preview.columns, key=lambda c: (c != dataset.label_column, width[c]))]
    no_label = [(t("data.no_label", lang), "")]
    return (
        sel,
        summary_markdown(dataset, sel, lang),
        gr.update(choices=no_label + [(c, c) for c in dataset.columns], value=dataset.label_column or ""),
        gr.update(choices=list(dataset.splits), value=sel["train"]),
        gr.update(choices=list(dataset.splits), value=sel["eval"]),
        gr.update(maximum=max(eval_total, 2), value=sel["eval_size"]),  # gradio needs maximum > minimum (1)
        plots.label_distribution(_plot_counts(counts), title=t("data.distribution", lang),
                                 count_label=t("data.rows", lang))
        if counts else plots.empty(t("data.no_labels_plot", lang)),
        preview,
    )


def summary_markdown(dataset, sel: dict, lang: str) -> str:
    """Name, splits, columns and labels: every name from the data is shown as text (md_text / md_code)."""
    splits = ", ".join(f"{md_code(name)} {len(rows)}" for name, rows in dataset.splits.items())
    lines = [
        f"### {md_text(dataset.name)}",
        f"**{t('data.splits', lang)}**: {splits}  ",
        f"**{t('data.columns', lang)}**: " + ", ".join(md_code(c) for c in dataset.columns) + "  ",
        f"**{t('data.label_column', lang)}**: " + (md_code(dataset.label_column) if dataset.label_column
                                                    else t("data.no_label", lang)) + "  ",
    ]
    if dataset.labels:
        lines.append(f"**{t('data.labels', lang)}**: " + ", ".join(md_code(x) for x in dataset.labels) + "  ")
    lines.append(t("data.using", lang, train=md_code(sel["train"]), eval=md_code(sel["eval"]), n=sel["eval_size"]))
    return "\n".join(lines)


def _plot_counts(counts: dict) -> dict:
    """{split: {label: count}} with split and label names escaped for plotly (it reads tags in texts)."""
    return {plot_text(split): {plot_text(label): n for label, n in by_label.items()} for split, by_label in
            counts.items()}


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
