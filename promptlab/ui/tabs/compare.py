"""Compare tab: score several prompts - library templates, the current draft, and trained soft prompts from runs -
with one model or several, on the same rows, shots and seeds, and show them side by side: the metrics, the grid of
prompts x models, bars grouped by model, confusion matrices, the rows where answers (or models) differ, a paired
test against the best prompt, and an HTML report to send.

A candidate is a string value: "draft", "tpl:<name>", "run:<run id>" or "hard:<run id>". A run is scored as its own
template plus its adapter, on its own base model (an adapter fits the model it was trained on), through the same
`experiment.score_template` road as the hard prompts, so the comparison is fair; "hard:" is that template without
the adapter, on the same model: the hard prompt whose scores the run's Tune plot shows (a library template of the
same name may have been edited since).
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from promptlab.messages import Message, UserError
from promptlab.models.shared import BudgetExceeded, Cancelled
from promptlab.prompts import mapping
from promptlab.prompts.budget import render_budget
from promptlab.prompts.files import parse_template
from promptlab.prompts.render import validate
from promptlab.runs import store
from promptlab.scoring.compare import examples_table, metrics_table, paired_tests
from promptlab.scoring.experiment import Protocol
from promptlab.scoring.metrics import bars
from promptlab.ui import compare_report, model_picker, private_files, state
from promptlab.ui.compare_view import (
    protocol_note,
    render,
    several_models,
    shown_examples,
    shown_grid,
    shown_significance,
    status_markdown,
)
from promptlab.ui.editor import takes_editor
from promptlab.ui.format import guarded, md_code, md_text, sampler_choices, track
from promptlab.ui.i18n import PageError, message_of, say, t
from promptlab.ui.page import CompareHandles, Page

# Rendering time a whole comparison may take, all prompts and models together (each scoring request inside also
# has its own state.RENDER_SECONDS): a visitor's library of slow templates cannot hold a server thread for long.
COMPARE_RENDER_SECONDS = 60.0

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
            choices.append((t("compare.run_hard_label", lang, name=run.template, run=run.run_id),
                            f"hard:{run.run_id}"))
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
    """A candidate value -> (display name, Template, adapter dir or None, the run's model or None); a library
    template mapped to `sel`'s columns where it needs it."""
    if pick == "draft":
        if draft is None or not draft.prompt.strip():
            raise PageError("studio.fix_first")
        return f"{draft.name} ({t('compare.draft_short', lang)})", draft, None, None
    kind, _, key = pick.partition(":")
    if kind == "tpl":
        templates = state.library(owner)  # by name only: a path (tpl:/x.yaml) must not read the server's files
        if key not in templates:
            raise PageError("compare.unknown_template", name=key)
        return (*mapped_template(templates[key], sel), None, None)
    if kind in ("run", "hard"):
        run = store.get_run(key, owner=owner)
        template, model = parse_template(run.spec["template"]), run.spec.get("model") or state.model_id()
        if kind == "hard":
            return f"{template.name} [{key}]", template, None, model
        adapter = str(store.adapter_dir(key, owner=owner))
        return f"{template.name} + {run.method or 'soft'} [{key}]", template, adapter, model
    raise PageError("compare.unknown_candidate", pick=repr(pick))


def build(page: Page) -> CompareHandles:
    L = page.labels
    L(gr.Markdown, value_key="compare.intro")
    with gr.Row(equal_height=True):
        # runs join the choices when the page knows whose they are (refresh_choices: on load, on this tab, on a
        # language switch)
        picks = L(gr.Dropdown, label_key="compare.pick", choices=candidate_choices("en", runs=False), multiselect=True,
                  value=[], scale=4, elem_id="compare-pick")
        refresh = L(gr.Button, value_key="compare.refresh", scale=1, size="md")
    models = L(gr.Dropdown, label_key="compare.models", info_key="compare.models_info", multiselect=True,
               choices=model_picker.choices("local", "en"), value=[state.model_id()],
               allow_custom_value=state.may_type_models(), elem_id="compare-models")
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
        note = gr.Markdown(elem_id="compare-protocol")
        grid = L(gr.Dataframe, label_key="compare.grid", interactive=False, visible=False, elem_id="compare-grid")
        metrics = L(gr.Dataframe, label_key="compare.metrics", interactive=False, elem_id="compare-metrics")
        with gr.Row():
            bars = L(gr.Plot, label_key="compare.chart", show_label=False, elem_id="compare-chart")
            confusion = L(gr.Plot, label_key="compare.confusion", show_label=False, elem_id="compare-confusion")
        L(gr.Markdown, value_key="compare.significance_info", elem_id="compare-significance-info")
        significance = L(gr.Dataframe, label_key="compare.significance", interactive=False,
                         elem_id="compare-significance")
        with gr.Row():
            disagree = L(gr.Checkbox, label_key="compare.only_disagree", value=False, elem_id="compare-disagree")
            models_disagree = L(gr.Checkbox, label_key="compare.only_models_disagree", value=False, visible=False,
                                elem_id="compare-models-disagree")
        examples = L(gr.Dataframe, label_key="compare.examples", wrap=True, max_height=480, interactive=False,
                     elem_id="compare-examples")
        with gr.Row():
            csv_metrics = L(gr.DownloadButton, label_key="compare.csv_metrics", value=None)
            csv_examples = L(gr.DownloadButton, label_key="compare.csv_examples", value=None)
            report = L(gr.DownloadButton, label_key="compare.report", value=None, elem_id="compare-report")
    result = gr.State(None)  # this visitor's last comparison, to filter and re-render it without rescoring

    refresh.click(refresh_choices, [picks, page.lang, page.data], picks, show_progress="hidden")
    refresh.click(follow_model, [page.model, models, page.lang], models, show_progress="hidden")
    page.on_language(refresh_choices, [picks, page.lang, page.data], picks)  # fits cached: no template rendered
    page.on_language(follow_model, [page.model, models, page.lang], models)
    page.data.change(choices_for_data, [picks, page.lang, page.data], picks, show_progress="hidden")
    page.model.change(follow_model, [page.model, models, page.lang], models, show_progress="hidden")
    inputs = [*page.editor, picks, page.data, shots, seeds, sampler, page.lang, models]
    outputs = [result, metrics, bars, confusion, examples, csv_metrics, csv_examples, shown, disagree, failures,
               note, grid, significance, report, models_disagree]
    page.data.change(rows_text, [page.data, page.lang], rows_info, show_progress="hidden")
    page.on_language(rows_text, [page.data, page.lang], rows_info)
    run.click(state.on_gpu(compare), inputs, outputs, concurrency_id=state.MODEL_QUEUE,
              concurrency_limit=state.MODEL_EVENTS)
    stop.click(state.stop_request, None, None, show_progress="hidden")
    for box in (disagree, models_disagree):
        box.change(filter_examples, [result, disagree, page.lang, models_disagree], examples)
    page.on_language(rerender, [result, disagree, page.lang, models_disagree],
                     [metrics, bars, confusion, examples, note, grid, significance, failures])
    return CompareHandles(pick=picks, inputs=inputs, outputs=outputs, models=models)


def refresh_choices(current, lang: str, sel: dict | None = None, request: gr.Request = None):
    # Only the choices: a visitor may be picking while this runs, and resetting the value would drop the pick.
    return gr.update(choices=candidate_choices(lang, state.owner_of(request), sel=sel))


def choices_for_data(current, lang: str, sel: dict | None = None, request: gr.Request = None):
    """On new data: the prompts that fit it, and the picks that still do (a pick no longer offered would be
    refused by the dropdown)."""
    choices = candidate_choices(lang, state.owner_of(request), sel=sel)
    offered = {value for _, value in choices}
    return gr.update(choices=choices, value=[pick for pick in current or [] if pick in offered])


def follow_model(model, current, lang: str, request: gr.Request = None):
    """The models to compare follow the model picked at the top, unless several are picked here."""
    visitor = state.visitor(request)
    current = list(current or [])
    value = current if len(current) > 1 else [model or state.model_for(visitor)]
    return gr.update(choices=model_picker.choices(visitor, lang), value=value)


def rows_text(sel, lang: str) -> str:
    """Which rows a comparison scores: the Data tab's evaluation subset (one place decides it for every tab)."""
    if not sel:
        return ""
    return t("compare.rows_info", lang, n=sel["eval_size"], split=md_code(sel["eval"]), data=md_text(sel["name"]))


@guarded("compare.failed")
@takes_editor
def compare(draft, picks, sel, shots, seeds, sampler, lang, models=None, request: gr.Request = None,
            progress=gr.Progress()):
    """Score every picked prompt with every picked model (none: the visitor's model) on the Data tab's evaluation
    rows under one protocol. A prompt or model that cannot be scored (it does not fit the data or the model's
    family, its run has no adapter, ...) fails alone, named; the others still show."""
    if not picks:
        raise ValueError(t("compare.pick_some", lang))
    visitor, owner = state.visitor(request), state.owner_of(request)
    rows, pool = state.eval_rows(sel), state.demonstrations(sel)
    protocol = Protocol(shots=int(shots), seeds=int(seeds), sampler=sampler)
    budget = state.request_budget()  # the whole comparison is one request: one share of model time
    with render_budget(COMPARE_RENDER_SECONDS):  # ... and one of rendering time
        plan, failed = plan_cells(draft, picks, models or [state.model_for(visitor)], sel, rows, lang, owner)
        reports, templates, cells, notes = {}, {}, {}, []
        for i, (name, model, template, adapter) in enumerate(plan):
            key = cell_name(name, model, plan)
            progress((i, len(plan)), desc=t("progress.loading_model", lang))
            try:
                desc = t("progress.scoring_one", lang, name=key, i=i + 1, n=len(plan))
                reports[key] = state.score(template, rows, protocol, visitor=visitor, budget=budget, model=model,
                                           adapter=adapter, pool=pool, label_column=sel.get("label_column"),
                                           progress=track(progress, desc), notes=notes)
                templates[key], cells[key] = template, (name, state.model_label(model))
            except (Cancelled, BudgetExceeded):
                raise
            except ValueError as error:
                failed[key] = message_of(error)  # said in the page's language, again after a language switch
    if not reports:
        raise ValueError("\n".join(f"{name}: {say(message, lang)}" for name, message in failed.items()))
    result = comparison(reports, templates, cells, rows, sel, protocol, failed, notes)
    result["models"] = [{"name": state.model_label(model), "family": family(model)}
                        for model in dict.fromkeys(model for _, model, _, _ in plan)]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    several = several_models(result)
    return (result, *render(result, lang), _csv(result["metrics"], f"comparison-metrics-{stamp}"),
            _csv(result["examples"], f"comparison-examples-{stamp}"), gr.Column(visible=True), False,
            status_markdown(result, failed, lang), protocol_note(result, lang),
            gr.update(value=shown_grid(result, lang) if several else None, visible=several),
            shown_significance(result, lang),
            private_files.write_text(f"comparison-{stamp}", ".html", compare_report.html_report(result, lang)),
            gr.update(value=False, visible=several))


def plan_cells(draft, picks, models, sel, rows, lang: str, owner):
    """(prompt name, model, Template, adapter) for every pair to score, grouped by model (each model loads once),
    and {name: why} for the prompts and models that cannot be. A run is scored on its own base model only."""
    failed, prompts, usable = {}, [], []
    for model in dict.fromkeys(str(m).strip() for m in models if m and str(m).strip()):
        try:
            state.family_of(state.check_model(model, lang))  # no model there, or no LM: said once, before loading
            usable.append(model)
        except ValueError as error:
            failed[state.model_label(model)] = message_of(error)
    for pick in picks:
        try:
            name, template, adapter, run_model = resolve(pick, draft, lang, owner, sel)
            check_fits(template, sel, rows)
            prompts.append((name, template, adapter, run_model))
        except ValueError as error:
            failed[pick_name(pick, draft, lang)] = message_of(error)
    plan = [(name, model, template, None) for model in usable for name, template, adapter, _ in prompts
            if adapter is None]
    plan += [(name, run_model, template, adapter) for name, template, adapter, run_model in prompts if adapter]
    order = list(dict.fromkeys(model for _, model, _, _ in plan))
    return sorted(plan, key=lambda cell: order.index(cell[1])), failed


def cell_name(name: str, model: str, plan) -> str:
    """A pair's name: the prompt's, with the model's when the comparison has several models."""
    if len({m for _, m, _, _ in plan}) <= 1:
        return name
    return f"{name} · {state.model_label(model)}"


def comparison(reports, templates, cells, rows, sel, protocol, failed, notes) -> dict:
    """What a comparison keeps to show, filter, re-render in another language and report."""
    several = len({model for _, model in cells.values()}) > 1
    return {
        "metrics": metrics_table(reports, cells),
        "examples": examples_table(reports, templates, rows, sel.get("label_column"), cells if several else None),
        "majority": next((r.metrics["majority"] for r in reports.values() if "majority" in r.metrics), None),
        "bars": bars("rank" if any(r.mode == "rank" for r in reports.values()) else "generate"),
        "confusion": {key: r.confusion for key, r in reports.items()},
        "significance": paired_tests(reports),
        "protocol": {"shots": protocol.shots, "seeds": len(protocol.seed_list), "seed": protocol.seed,
                     "sampler": protocol.sampler},
        "data": {"name": sel.get("name"), "split": sel.get("eval"), "rows": len(rows)},
        "templates": {cells[key][0]: template for key, template in templates.items()},
        "failed": dict(failed), "notes": [(state.model_label(n.model), state.model_label(n.for_model)) for n in notes],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def family(model: str) -> str:
    """A model's family for the report ("" when its config cannot be read: it was scored, so this is rare)."""
    try:
        return state.family_of(model)
    except ValueError:
        return ""


def check_fits(template, sel, rows) -> None:
    """Refuse, with every problem, a template that does not fit the data (as the Studio lists them)."""
    problems = validate(template, sel.get("columns"), rows[:50])
    if problems:
        said = problems[0].as_message()
        for problem in problems[1:]:
            said = Message("list.sentences", first=said, then=problem.as_message())
        raise UserError(said)


def pick_name(pick: str, draft, lang: str) -> str:
    """A candidate's name for messages, even when it cannot be resolved."""
    if pick == "draft":  # named as when it is scored: beside a library template of the same name, it is not that one
        return f"{draft.name} ({t('compare.draft_short', lang)})" if draft is not None else t("compare.draft_short",
                                                                                               lang)
    return pick.partition(":")[2]


def filter_examples(result, only_disagree: bool, lang: str, only_models: bool = False):
    return shown_examples(result["examples"] if result else None, only_disagree, lang, only_models)


def rerender(result, only_disagree: bool, lang: str, only_models: bool = False):
    """Everything a comparison shows, again in `lang` (no rescoring)."""
    if result is None:
        return (gr.skip(),) * 8
    several = several_models(result)
    return (*render(result, lang, only_disagree, only_models), protocol_note(result, lang),
            gr.update(value=shown_grid(result, lang) if several else None, visible=several),
            shown_significance(result, lang), status_markdown(result, result.get("failed", {}), lang))


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

