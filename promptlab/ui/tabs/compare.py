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
from promptlab.models.shared import BudgetExceeded, Cancelled
from promptlab.prompts import mapping
from promptlab.prompts.files import parse_template
from promptlab.prompts.render import validate
from promptlab.runs import store
from promptlab.scoring.compare import examples_table, metrics_table
from promptlab.scoring.experiment import Protocol
from promptlab.scoring.metrics import bars
from promptlab.ui import private_files, state
from promptlab.ui.editor import takes_editor
from promptlab.ui.format import fmt, guarded, md_text, plot_text, sampler_choices, t_metric, track
from promptlab.ui.i18n import t
from promptlab.ui.page import CompareHandles, Page

FIT_ROWS = 20  # rows a library template must render to be offered for the selected data


def candidate_choices(lang: str, owner: str | None = None, *, runs: bool = True,
                      sel: dict | None = None) -> list[tuple[str, str]]:
    """Everything that can be compared: the draft, the library templates that fit the selected data (`sel`; as
    they are, or after the automatic column mapping, marked so), and every run (`owner`'s) that has an adapter."""
    choices = [(t("compare.draft", lang), "draft")]
    choices += template_choices(lang, sel, owner)
    for run in store.list_runs(owner=owner) if runs else ():
        if run.status == "done" or (run.best and run.status != "queued"):
            choices.append((run_label(run, lang), f"run:{run.run_id}"))
    return choices


def template_choices(lang: str, sel: dict | None, owner: str | None = None) -> list[tuple[str, str]]:
    """The library templates (shipped and `owner`'s) that fit `sel`'s data, by name, a mapped one as "name (mapped:
    sentence → text)"; every template when no data is selected."""
    library = state.library(owner)
    if not sel:
        return [(name, f"tpl:{name}") for name in sorted(library)]
    try:
        rows = state.eval_rows(sel, FIT_ROWS)
    except ValueError:  # the data cannot be read now (the Data tab says why): offer every template
        return template_choices(lang, None, owner)
    choices = []
    for name in sorted(library):
        found = fitting(library[name], sel, rows)
        if found is not None:
            label = t("compare.mapped_label", lang, name=name, pairs=mapping.describe(found)) if found else name
            choices.append((label, f"tpl:{name}"))
    return choices


def fitting(template, sel: dict, rows) -> dict | None:
    """The column mapping with which a library template fits the selected data ({} when it fits as it is; None when
    it does not fit): its placeholders are columns, and it renders `rows` with no problem (every gold target among
    its answer choices, as the Studio checks)."""
    columns = sel.get("columns") or []
    found = mapping.fitting_mapping(template, columns, sel.get("label_column"), rows)
    if found is None:
        return None
    try:
        mapped = mapping.rename_placeholders(template, found)
    except ValueError:
        return None
    return found if not validate(mapped, columns, rows) else None


def mapped_template(template, sel: dict | None):
    """A library template as Compare scores it on `sel`'s data: its placeholders renamed to the data's columns
    when the automatic mapping makes it fit (the name says so), else as it is (validation names what is missing)."""
    found = mapping.fitting_mapping(template, sel.get("columns") or [], sel.get("label_column"),
                                    state.eval_rows(sel, FIT_ROWS)) if sel else None
    if not found:
        return template.name, template
    return f"{template.name} [{mapping.describe(found)}]", mapping.rename_placeholders(template, found)


def run_label(run, lang: str) -> str:
    return t("compare.run_label", lang, name=run.template, method=run.method, run=run.run_id)


def resolve(pick: str, draft, lang: str, owner: str | None = None, sel: dict | None = None):
    """A candidate value -> (display name, Template, adapter dir or None); a library template mapped to `sel`'s
    columns where it needs it."""
    if pick == "draft":
        if draft is None or not draft.prompt.strip():
            raise ValueError(t("studio.fix_first", lang))
        return f"{draft.name} ({t('compare.draft_short', lang)})", draft, None
    kind, _, key = pick.partition(":")
    if kind == "tpl":
        templates = state.library(owner)  # by name only: a path (tpl:/x.yaml) must not read the server's files
        if key not in templates:
            raise ValueError(t("compare.unknown_template", lang, name=key))
        return (*mapped_template(templates[key], sel), None)
    if kind == "run":
        run = store.get_run(key, owner=owner)
        template = parse_template(run.spec["template"])
        return f"{template.name} + {run.method or 'soft'} [{key}]", template, str(store.adapter_dir(key, owner=owner))
    raise ValueError(f"Unknown candidate {pick!r}")


def build(page: Page) -> CompareHandles:
    L = page.labels
    L(gr.Markdown, value_key="compare.intro")
    with gr.Row(equal_height=True):
        # runs join the choices when the page knows whose they are (refresh_choices: on load, on this tab, on a
        # language switch)
        picks = L(gr.Dropdown, label_key="compare.pick", choices=candidate_choices("en", runs=False), multiselect=True,
                  value=[], scale=4, elem_id="compare-pick")
        refresh = L(gr.Button, value_key="compare.refresh", scale=1, size="md")
    rows_info = gr.Markdown(elem_id="compare-rows-info")
    with gr.Row(equal_height=True):
        shots = L(gr.Slider, label_key="studio.shots", minimum=0, maximum=8, step=1, value=0,
                  elem_id="compare-shots")
        seeds = L(gr.Slider, label_key="compare.seeds", info_key="compare.seeds_info", minimum=1, maximum=10,
                  step=1, value=1, elem_id="compare-seeds")
        sampler = L(gr.Dropdown, label_key="studio.sampler", choices_fn=sampler_choices,
                    value="random")
        run = L(gr.Button, value_key="compare.run", variant="primary", elem_id="compare-run")
        stop = L(gr.Button, value_key="studio.stop", variant="stop", elem_id="compare-stop", scale=0)
    failures = gr.Markdown(elem_id="compare-failures")
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

    for event in (refresh.click, page.lang.change):
        event(refresh_choices, [picks, page.lang, page.data], picks, show_progress="hidden")
    page.data.change(choices_for_data, [picks, page.lang, page.data], picks, show_progress="hidden")
    inputs = [*page.editor, picks, page.data, shots, seeds, sampler, page.lang]
    outputs = [result, metrics, bars, confusion, examples, csv_metrics, csv_examples, shown, disagree, failures]
    for change in (page.data.change, page.lang.change):
        change(rows_text, [page.data, page.lang], rows_info, show_progress="hidden")
    run.click(state.on_gpu(compare), inputs, outputs, concurrency_id=state.MODEL_QUEUE,
              concurrency_limit=state.MODEL_EVENTS)
    stop.click(state.stop_request, None, None, show_progress="hidden")
    disagree.change(filter_examples, [result, disagree, page.lang], examples)
    page.lang.change(lambda r, d, lang: render(r, lang, d), [result, disagree, page.lang],
                     [metrics, bars, confusion, examples], show_progress="hidden")
    return CompareHandles(pick=picks, inputs=inputs, outputs=outputs)


def refresh_choices(current, lang: str, sel: dict | None = None, request: gr.Request = None):
    # Only the choices: a visitor may be picking while this runs, and resetting the value would drop the pick.
    return gr.update(choices=candidate_choices(lang, state.owner_of(request), sel=sel))


def choices_for_data(current, lang: str, sel: dict | None = None, request: gr.Request = None):
    """On new data: the prompts that fit it, and the picks that still do (a pick no longer offered would be
    refused by the dropdown)."""
    choices = candidate_choices(lang, state.owner_of(request), sel=sel)
    offered = {value for _, value in choices}
    return gr.update(choices=choices, value=[pick for pick in current or [] if pick in offered])


def rows_text(sel, lang: str) -> str:
    """Which rows a comparison scores: the Data tab's evaluation subset (one place decides it for every tab)."""
    if not sel:
        return ""
    return t("compare.rows_info", lang, n=sel["eval_size"], split=sel["eval"], data=sel["name"])


@guarded("compare.failed")
@takes_editor
def compare(draft, picks, sel, shots, seeds, sampler, lang, request: gr.Request = None, progress=gr.Progress()):
    """Score every picked prompt on the Data tab's evaluation rows under one protocol. A prompt that cannot be
    scored (it does not fit the data, its run has no adapter, ...) fails alone, named; the others still show."""
    if not picks:
        raise ValueError(t("compare.pick_some", lang))
    rows = state.eval_rows(sel)
    pool = state.demonstrations(sel)
    protocol = Protocol(shots=int(shots), seeds=int(seeds), sampler=sampler)
    budget = state.request_budget()  # the whole comparison is one request
    reports, templates, failed = {}, {}, {}
    for i, pick in enumerate(picks):
        progress((i, len(picks)), desc=t("progress.loading_model", lang))
        try:
            name, template, adapter = resolve(pick, draft, lang, state.owner_of(request), sel)
            check_fits(template, sel, rows)
            desc = t("progress.scoring_one", lang, name=name, i=i + 1, n=len(picks))
            reports[name] = state.score(template, rows, protocol, visitor=state.visitor(request), budget=budget,
                                        adapter=adapter, pool=pool, label_column=sel.get("label_column"),
                                        progress=track(progress, desc))
            templates[name] = template
        except (Cancelled, BudgetExceeded):
            raise
        except ValueError as error:
            failed[pick_name(pick, draft, lang)] = str(error)
    if not reports:
        raise ValueError("\n".join(f"{name}: {message}" for name, message in failed.items()))
    table = metrics_table(reports)
    per_example = examples_table(reports, templates, rows, sel.get("label_column"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "metrics": table, "examples": per_example,
        "majority": next((r.metrics["majority"] for r in reports.values() if "majority" in r.metrics), None),
        "bars": bars("rank" if any(r.mode == "rank" for r in reports.values()) else "generate"),
        "confusion": {name: r.confusion for name, r in reports.items()},
    }
    return (result, *render(result, lang), _csv(table, f"comparison-metrics-{stamp}"),
            _csv(per_example, f"comparison-examples-{stamp}"), gr.Column(visible=True), False,
            failures_markdown(failed, lang))


def check_fits(template, sel, rows) -> None:
    """Refuse, with every problem, a template that does not fit the data (as the Studio lists them)."""
    problems = validate(template, sel.get("columns"), rows[:50])
    if problems:
        raise ValueError(" ".join(str(p) for p in problems))


def pick_name(pick: str, draft, lang: str) -> str:
    """A candidate's name for messages, even when it cannot be resolved."""
    if pick == "draft":
        return draft.name if draft is not None else t("compare.draft_short", lang)
    return pick.partition(":")[2]


def failures_markdown(failed: dict[str, str], lang: str) -> str:
    """Which prompts could not be scored, and why (names and messages may carry anything: shown as text)."""
    if not failed:
        return ""
    lines = [f"⚠ **{t('compare.some_failed', lang, n=len(failed))}**"]
    lines += [f"- **{md_text(name)}**: {md_text(message)}" for name, message in failed.items()]
    return "\n".join(lines)


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
