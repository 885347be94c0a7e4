"""Compare tab: score several prompts - library templates, the current draft, and trained soft prompts from runs -
on the same rows, shots and seeds, and show them side by side.

A candidate is a string value: "draft", "tpl:<name>" or "run:<run id>". A run is scored as its own template plus
its adapter, through the same `experiment.score_template` road as the hard prompts, so the comparison is fair.
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.prompts.files import find_template, parse_template
from promptlab.runs import store
from promptlab.scoring.metrics import bars, headline
from promptlab.ui import private_files, state
from promptlab.ui.format import fmt, guarded, plot_text, sampler_choices, shorten, t_metric, track
from promptlab.ui.i18n import t
from promptlab.ui.page import CompareHandles, Page


def candidate_choices(lang: str) -> list[tuple[str, str]]:
    """Everything that can be compared: the draft, the library, and every run that has an adapter."""
    choices = [(t("compare.draft", lang), "draft")]
    choices += [(name, f"tpl:{name}") for name in sorted(state.library())]
    for run in store.list_runs():
        if run.status == "done" or (run.best and run.status != "queued"):
            choices.append((run_label(run, lang), f"run:{run.run_id}"))
    return choices


def run_label(run, lang: str) -> str:
    return t("compare.run_label", lang, name=run.template, method=run.method, run=run.run_id)


def resolve(pick: str, draft, lang: str):
    """A candidate value -> (display name, Template, adapter dir or None)."""
    if pick == "draft":
        if draft is None:
            raise ValueError(t("studio.fix_first", lang))
        return f"{draft.name} ({t('compare.draft_short', lang)})", draft, None
    kind, _, key = pick.partition(":")
    if kind == "tpl":
        return key, find_template(key), None
    if kind == "run":
        run = store.get_run(key)
        template = parse_template(run.spec["template"])
        return f"{template.name} + {run.method or 'soft'} [{key}]", template, str(store.adapter_dir(key))
    raise ValueError(f"Unknown candidate {pick!r}")


def build(page: Page) -> CompareHandles:
    L = page.labels
    L(gr.Markdown, value_key="compare.intro")
    with gr.Row(equal_height=True):
        picks = L(gr.Dropdown, label_key="compare.pick", choices_fn=candidate_choices, multiselect=True,
                  value=[], scale=4, elem_id="compare-pick")
        refresh = L(gr.Button, value_key="compare.refresh", scale=1, size="md")
    with gr.Row(equal_height=True):
        n_rows = L(gr.Slider, label_key="compare.rows", minimum=4, maximum=500, step=1, value=32,
                   elem_id="compare-rows")
        shots = L(gr.Slider, label_key="studio.shots", minimum=0, maximum=8, step=1, value=0,
                  elem_id="compare-shots")
        seeds = L(gr.Slider, label_key="compare.seeds", info_key="compare.seeds_info", minimum=1, maximum=10,
                  step=1, value=1, elem_id="compare-seeds")
        sampler = L(gr.Dropdown, label_key="studio.sampler", choices_fn=sampler_choices,
                    value="random")
        run = L(gr.Button, value_key="compare.run", variant="primary", elem_id="compare-run")
    with gr.Column(visible=False) as shown:  # nothing to show before the first comparison
        metrics = L(gr.Dataframe, label_key="compare.metrics", interactive=False, elem_id="compare-metrics")
        with gr.Row():
            bars = L(gr.Plot, label_key="compare.chart", show_label=False, elem_id="compare-chart")
            confusion = L(gr.Plot, label_key="compare.confusion", show_label=False, elem_id="compare-confusion")
        disagree = L(gr.Checkbox, label_key="compare.only_disagree", value=False, elem_id="compare-disagree")
        examples = L(gr.Dataframe, label_key="compare.examples", wrap=True, max_height=480, interactive=False,
                     elem_id="compare-examples")
        with gr.Row():
            csv_metrics = L(gr.DownloadButton, label_key="compare.csv_metrics", value=None)
            csv_examples = L(gr.DownloadButton, label_key="compare.csv_examples", value=None)
    result = gr.State(None)  # this visitor's last comparison, to filter and re-render it without rescoring

    refresh.click(refresh_choices, [picks, page.lang], picks)
    inputs = [picks, page.draft, page.data, n_rows, shots, seeds, sampler, page.lang]
    outputs = [result, metrics, bars, confusion, examples, csv_metrics, csv_examples, shown, disagree]
    run.click(state.on_gpu(compare), inputs, outputs, concurrency_id=state.MODEL_QUEUE, concurrency_limit=1)
    disagree.change(filter_examples, [result, disagree, page.lang], examples)
    page.lang.change(lambda r, d, lang: render(r, lang, d), [result, disagree, page.lang],
                     [metrics, bars, confusion, examples], show_progress="hidden")
    return CompareHandles(pick=picks, inputs=inputs, outputs=outputs)


def refresh_choices(current, lang: str):
    # Only the choices: a visitor may be picking while this runs, and resetting the value would drop the pick.
    return gr.update(choices=candidate_choices(lang))


@guarded("compare.failed")
def compare(picks, draft, sel, n_rows, shots, seeds, sampler, lang, progress=gr.Progress()):
    if not picks:
        raise ValueError(t("compare.pick_some", lang))
    rows = state.eval_rows(sel, int(n_rows))
    pool = state.train_rows(sel)
    reports, templates = {}, {}
    for i, pick in enumerate(picks):
        name, template, adapter = resolve(pick, draft, lang)
        progress((i, len(picks)), desc=t("progress.loading_model", lang))
        desc = t("progress.scoring_one", lang, name=name, i=i + 1, n=len(picks))
        templates[name] = template
        reports[name] = state.score(template, rows, adapter=adapter, pool=pool, shots=int(shots),
                                      seeds=int(seeds), sampler=sampler, label_column=sel.get("label_column"),
                                      progress=track(progress, desc))
    table = metrics_table(reports)
    per_example = examples_table(reports, templates, rows)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "metrics": table, "examples": per_example,
        "majority": next((r.metrics["majority"] for r in reports.values() if "majority" in r.metrics), None),
        "bars": bars("rank" if any(r.mode == "rank" for r in reports.values()) else "generate"),
        "confusion": {name: r.confusion for name, r in reports.items()},
    }
    return (result, *render(result, lang), _csv(table, f"comparison-metrics-{stamp}"),
            _csv(per_example, f"comparison-examples-{stamp}"), gr.Column(visible=True), False)


def render(result: dict | None, lang: str, only_disagree: bool = False):
    """A comparison's metrics table, bar chart, confusion matrices and per-example table, in `lang`."""
    if result is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    table = result["metrics"]
    # Prompt names and labels are outside text, and plotly reads tags in figure texts: escaped for the plots.
    bars = plots.metric_bars(table.assign(name=table["name"].map(plot_text)), [c for c in result["bars"] if c in table],
                             majority=result["majority"], title=t("compare.chart", lang),
                             majority_label=t("plot.majority", lang))
    matrices = {plot_text(name): None if m is None else m.rename(index=plot_text, columns=plot_text)
                for name, m in result["confusion"].items()}
    confusion = plots.confusion_matrices(matrices, title=t("compare.confusion", lang),
                                         gold_label=t("col.gold", lang), predicted_label=t("plot.predicted", lang))
    return shown_metrics(table, lang), bars, confusion, shown_examples(result["examples"], only_disagree, lang)


def metrics_table(reports: dict) -> pd.DataFrame:
    """One row per prompt: every headline metric, its few-shot spread, rows, shots and time."""
    records = []
    for name, report in reports.items():
        record = {"name": name, "n": report.n, "shots": report.shots, "seconds": round(report.seconds, 1)}
        for metric in headline(report.metrics):
            record[metric] = report.metrics[metric]
            for suffix in ("_std", "_min", "_max"):
                if metric + suffix in report.metrics:
                    record[metric + suffix] = report.metrics[metric + suffix]
        records.append(record)
    return pd.DataFrame(records)


def examples_table(reports: dict, templates: dict, rows: list[dict]) -> pd.DataFrame:
    """One row per eval example: gold, each prompt's prediction (✓/✗), whether they agree, and the input text.

    Prompts agree on a row when they pick the same answer position (templates word their choices differently:
    "negative"/"positive" vs "no"/"yes"); generated answers and per-row choices are compared as text.
    """
    first = next(iter(reports.values())).table
    df = pd.DataFrame({"row": range(1, len(first) + 1), "gold": first["gold"].tolist()})
    picks = {}
    for name, report in reports.items():
        column = "prediction" if "prediction" in report.table else "generated"
        predictions = report.table[column].tolist()
        marks = report.table["correct"].tolist() if "correct" in report.table else [None] * len(predictions)
        df[name] = [f"{p} {'✓' if c is True else '✗' if c is False else ''}".strip()
                    for p, c in zip(predictions, marks)]
        choices = templates[name].answer_choices
        picks[name] = [choices.index(p) if isinstance(choices, tuple) and p in choices else p for p in predictions]
    df["agree"] = [len({str(picks[name][i]) for name in picks}) <= 1 for i in range(len(df))]
    text_column = _text_column(rows)
    if text_column:
        df["input"] = [shorten(r.get(text_column, ""), 200) for r in rows]
    return df


def shown_metrics(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The metrics table for reading: 3 decimals, 'mean ± std (min–max)' where seeds vary."""
    out = pd.DataFrame({t("col.name", lang): table["name"]})
    for metric in [c for c in table.columns if c not in ("name", "n", "shots", "seconds")
                   and not c.endswith(("_std", "_min", "_max"))]:
        cells = []
        for _, row in table.iterrows():
            cell = fmt(row[metric])
            std = row.get(f"{metric}_std")
            if std is not None and not pd.isna(std) and std > 0:
                cell += f" ± {fmt(std, 3)} ({fmt(row[f'{metric}_min'], 2)}–{fmt(row[f'{metric}_max'], 2)})"
            cells.append(cell)
        out[t_metric(metric, lang)] = cells
    out[t("col.rows", lang)] = table["n"]
    out[t("col.shots", lang)] = table["shots"]
    out[t("col.seconds", lang)] = table["seconds"]
    return out


def shown_examples(per_example: pd.DataFrame | None, only_disagree: bool, lang: str) -> pd.DataFrame:
    if per_example is None:
        return pd.DataFrame()
    df = per_example[~per_example["agree"]] if only_disagree else per_example
    df = df.assign(agree=df["agree"].map({True: "✓", False: "✗"}))
    return df.rename(columns={"row": t("col.row", lang), "input": t("col.input", lang),
                              "gold": t("col.gold", lang), "agree": t("col.agree", lang)})


def filter_examples(result, only_disagree: bool, lang: str):
    return shown_examples(result["examples"] if result else None, only_disagree, lang)


def _text_column(rows: list[dict]) -> str | None:
    """The column a reader recognises a row by: the longest text column."""
    if not rows:
        return None
    texts = {k: len(str(v)) for k, v in rows[0].items() if isinstance(v, str)}
    return max(texts, key=texts.get) if texts else None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value):
    """A text cell that a spreadsheet would run as a formula (=HYPERLINK(..), +cmd|..., @SUM) gets a leading
    apostrophe (OWASP's CSV-injection advice): dataset cells and template names come from strangers."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _csv(df: pd.DataFrame, name: str) -> str:
    """The table as a CSV download (formula cells made inert) in this process's private folder."""
    safe = df.rename(columns=_inert)
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):  # text columns (object or pandas' str dtype)
            safe[column] = safe[column].map(_inert)
    return private_files.write_text(name, ".csv", safe.to_csv(index=False))
