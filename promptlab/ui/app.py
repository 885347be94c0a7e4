"""Puts the tabs together: header with the language switch, the shared states, and the events that cross tabs."""

from __future__ import annotations

import gradio as gr

from promptlab import jobs
from promptlab import templates as tpl
from promptlab.ui import compare_tab, data_tab, runs_tab, session, studio_tab, tune_tab
from promptlab.ui.helpers import Page
from promptlab.ui.i18n import LANGUAGES, Labels, t

CSS = """
#pl-header {align-items: center;}
#pl-header h1 {margin: 0; font-size: 1.6rem;}
#pl-lang {max-width: 220px;}
.pl-status {font-size: 0.95rem; line-height: 1.6;}
.pl-bar {height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; margin-top: 6px;}
.pl-bar > div {height: 100%; background: #2563eb; transition: width 0.5s;}
.pl-error {color: #b91c1c; margin-top: 6px; white-space: pre-wrap;}
#studio-rendered pre, #studio-rendered code {white-space: pre-wrap !important; word-break: break-word;}
"""
THEME = gr.themes.Soft(primary_hue="blue", neutral_hue="slate")


def build_app() -> gr.Blocks:
    """The whole app; `session.configure` must have run (launch does it)."""
    labels = Labels()
    with gr.Blocks(title="PromptLab") as app:
        page = Page(labels)
        with gr.Row(elem_id="pl-header", equal_height=True):
            labels(gr.Markdown, value_key="app.title", scale=3)
            model_info = gr.Markdown(elem_id="pl-model")
            page.lang = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en", show_label=False,
                                 container=False, elem_id="pl-lang", scale=1)
        page.data = gr.State(None)          # this visitor's data selection
        page.draft = gr.State(None)         # this visitor's current template
        page.runs_changed = gr.State(0.0)   # bumped when this visitor starts, cancels, resumes or deletes runs
        with gr.Tabs() as page.tabs:
            with labels(gr.Tab, label_key="tab.data", id="data", elem_id="tab-data"):
                data_tab.build(page)
            with labels(gr.Tab, label_key="tab.studio", id="studio", elem_id="tab-studio"):
                studio_tab.build(page)
            with labels(gr.Tab, label_key="tab.compare", id="compare", elem_id="tab-compare") as compare:
                compare_tab.build(page)
            with labels(gr.Tab, label_key="tab.tune", id="tune", elem_id="tab-tune"):
                tune_tab.build(page)
            with labels(gr.Tab, label_key="tab.runs", id="runs", elem_id="tab-runs") as runs:
                runs_tab.build(page)

        page.lang.change(labels.updates, page.lang, labels.components, show_progress="hidden")
        page.lang.change(header, page.lang, model_info, show_progress="hidden")
        _wire_score_in_compare(page)
        compare.select(page.extra["compare"]["refresh"], [page.compare_pick, page.lang], page.compare_pick)
        runs.select(*page.extra["runs"]["list"], show_progress="hidden")
        _wire_load(app, page, model_info)
    return app


def header(lang: str) -> str:
    training = t("app.training_on" if session.CONFIG.allow_training else "app.training_off", lang)
    return f"{t('app.model', lang)}: `{session.model_id()}` · {training}"


def _wire_load(app: gr.Blocks, page: Page, model_info) -> None:
    """A fresh page starts ready to use: the demo task, a template written for it, and the newest run."""
    load_data, data_inputs, data_outputs = page.extra["data_load_default"]
    studio = page.extra["studio"]
    app.load(header, page.lang, model_info)
    app.load(*page.extra["tune"]["watch_on_load"])
    app.load(page.extra["compare"]["refresh"], [page.compare_pick, page.lang], page.compare_pick)
    app.load(load_data, data_inputs, data_outputs).then(
        template_for_task, [page.data, page.lang], studio["fields"] + [studio["pick"]]).then(
        studio["check"], [*studio["fields"], page.data, page.lang], studio["checked"])


def template_for_task(sel, lang: str):
    """The first library template written for the selected task (else the first one), as editor values."""
    library = studio_tab.library()
    if not library:
        return [gr.skip()] * (len(studio_tab.FIELD_NAMES) + 1)
    task = (sel or {}).get("name")
    name = next((n for n, tmpl in sorted(library.items()) if tmpl.task == task), min(library))
    return (*studio_tab.fields_from_template(library[name]), gr.update(value=name))


def _wire_score_in_compare(page: Page) -> None:
    """"Score in Compare" (Tune and Runs): pick the run and its hard prompt in Compare, switch there, score."""
    run_compare, inputs, outputs = page.extra["compare"]["run"]
    for button, runs_input in ((page.extra["tune"]["to_compare"], page.watch_run),
                               (page.extra["runs"]["to_compare"], page.extra["runs"]["picked"])):
        button.click(pick_runs_for_compare, [runs_input, page.draft, page.lang], [page.compare_pick, page.tabs]
                     ).success(run_compare, inputs, outputs, concurrency_id=session.MODEL_QUEUE,
                               concurrency_limit=1)


def pick_runs_for_compare(run_ids, draft, lang: str):
    run_ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or [])
    if not run_ids:
        raise gr.Error(t("runs.none_picked", lang), title=t("error.title", lang), print_exception=False)
    library = studio_tab.library()
    picks = []
    for run_id in run_ids:
        name = tpl.parse_template(jobs.get_run(run_id).spec["template"]).name
        if name in library:
            picks.append(f"tpl:{name}")
        elif draft is not None and draft.name == name:
            picks.append("draft")
        picks.append(f"run:{run_id}")
    picks = list(dict.fromkeys(picks))
    return gr.update(choices=compare_tab.candidate_choices(lang), value=picks), gr.Tabs(selected="compare")
