"""Builds and serves the app: the header with the language switch, the shared states, the tabs, and the events that
cross tabs (the only place that knows several tabs)."""

from __future__ import annotations

import gradio as gr

from promptlab.messages import Message, UserError
from promptlab.runs import layout, store
from promptlab.ui import editor, library_view, model_picker, state, switch
from promptlab.ui.editor import takes_editor
from promptlab.ui.format import guarded
from promptlab.ui.i18n import GRADIO_TEXTS, LANGUAGES, Labels, PageError, t
from promptlab.ui.page import Page
from promptlab.ui.tabs import compare, data, runs, studio, tune

CSS = """
#pl-header {align-items: center;}
#pl-header h1 {margin: 0; font-size: 1.6rem;}
#pl-lang {max-width: 220px;}
#pl-model {font-size: 0.9rem;}
.pl-status {font-size: 0.95rem; line-height: 1.6;}
.pl-bar {height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; margin-top: 6px;}
.pl-bar > div {height: 100%; background: #2563eb; transition: width 0.5s;}
.pl-error {color: #b91c1c; margin-top: 6px; white-space: pre-wrap;}
#studio-rendered pre, #studio-rendered code {white-space: pre-wrap !important; word-break: break-word;}
/* gradio 6.31 titles every toast in English ("Error", "Info") whatever title it is given; our toasts begin with
   what happened, in the page's language, so the title is not shown. */
.toast-title {visibility: hidden;}
/* Table headers stay whole words ("correct", not "co rr ec t"): the column grows instead. */
table th, table th * {word-break: keep-all !important; overflow-wrap: normal !important;
  white-space: nowrap !important;}
"""
# Plots drawn while their tab was hidden have no width; a tab switch redraws them at the tab's size.
RESIZE_PLOTS = "() => { setTimeout(() => window.dispatchEvent(new Event('resize')), 50); }"
THEME = gr.themes.Soft(primary_hue="blue", neutral_hue="slate")


def build_app(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto") -> gr.Blocks:
    """The app's Blocks, configured for `model_id` (None: the bundled default); not launched."""
    state.configure(model_id=model_id, allow_training=allow_training, device=device)
    return assemble()


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, model_id: str | None = None,
           allow_training: bool | None = None, *, device: str = "auto", preload: bool = True,
           prevent_thread_lock: bool = False) -> gr.Blocks:
    """Build and serve the app. `allow_training=None` follows `settings.training_allowed()`. With `preload` the
    model starts loading right away, in a process of its own (state.start_model); without, it loads in this
    process on first use."""
    from promptlab.data.datasets import MAX_UPLOAD_BYTES

    state.configure(model_id=model_id, allow_training=allow_training, device=device)
    if preload:
        state.start_model()
    app = assemble()
    # Non-model events (validation, plots, run polling) run side by side; model-bound ones queue on MODEL_QUEUE.
    app.queue(default_concurrency_limit=8)
    app.launch(server_name=host, server_port=port, share=share, theme=THEME, css=CSS,
               max_file_size=MAX_UPLOAD_BYTES, i18n=gr.I18n(**GRADIO_TEXTS), prevent_thread_lock=True)
    if not prevent_thread_lock:
        app.block_thread()
    return app


def assemble() -> gr.Blocks:
    """The whole app; `state.configure` must have run."""
    labels = Labels()
    # Uploads and downloads older than 6 h are deleted every hour: a long-running Space does not fill its disk.
    with gr.Blocks(title="PromptLab", delete_cache=(3600, 6 * 3600)) as app:
        page = Page(labels)
        with gr.Row(elem_id="pl-header", equal_height=True):
            labels(gr.Markdown, value_key="app.title", scale=3)
            picker, model_info = model_picker.build(page)
            page.lang = labels(gr.Radio, [(name, code) for code, name in LANGUAGES.items()], value="en",
                               label_key="app.language", show_label=False,  # the label is what screen readers say
                               container=False, elem_id="pl-lang", scale=1)
        page.data = gr.State(None)          # this visitor's data selection
        page.draft = gr.State(None)         # this visitor's current template
        page.runs_changed = gr.State(0.0)   # bumped when this visitor starts, cancels, resumes or deletes runs
        # this browser's secret (state.owner_of), encrypted with a key that outlives a restart
        owner = gr.BrowserState(None, storage_key="promptlab-owner", secret=layout.browser_key())
        with gr.Tabs() as page.tabs:
            with labels(gr.Tab, label_key="tab.data", id="data", elem_id="tab-data"):
                data_tab = data.build(page)
            with labels(gr.Tab, label_key="tab.studio", id="studio", elem_id="tab-studio"):
                studio_tab = studio.build(page)
            with labels(gr.Tab, label_key="tab.compare", id="compare", elem_id="tab-compare") as compare_page:
                compare_tab = compare.build(page)
            with labels(gr.Tab, label_key="tab.tune", id="tune", elem_id="tab-tune"):
                tune_tab = tune.build(page)
            with labels(gr.Tab, label_key="tab.runs", id="runs", elem_id="tab-runs") as runs_page:
                runs_tab = runs.build(page)

        model_picker.wire(page, picker, model_info)
        switch.wire(page, labels)  # after every tab registered what it re-renders
        for button, picked in ((tune_tab.to_compare, tune_tab.watch), (runs_tab.to_compare, runs_tab.picked)):
            # "Score in Compare": the run's own data (its splits and evaluation rows), the run and its hard prompt
            # picked in Compare; switch there, score.
            button.click(pick_runs_for_compare, [*page.editor, picked, page.lang],
                         [compare_tab.pick, page.tabs, page.data, compare_tab.models]
                         ).success(data.show, [page.data, page.lang], data_tab.shown, show_progress="hidden"
                                   ).success(state.on_gpu(compare.compare), compare_tab.inputs, compare_tab.outputs,
                                             concurrency_id=state.MODEL_QUEUE, concurrency_limit=state.MODEL_EVENTS)
        compare_page.select(compare.refresh_choices, [compare_tab.pick, page.lang, page.data], compare_tab.pick)
        page.tabs.select(None, None, None, js=RESIZE_PLOTS)
        runs_page.select(runs.list_table, runs_tab.list_inputs, runs_tab.listed, show_progress="hidden")
        # A fresh page starts ready to use: the demo task, a template written for it, and the newest run.
        app.load(model_picker.show, [page.model, page.lang], [picker, model_info])
        # First who is asking (their browser's secret owns their runs on a public app), then what is theirs.
        app.load(state.remember_owner, owner, owner).then(
            library_view.refresh, [studio_tab.pick, page.lang], studio_tab.library).then(
            tune.watch_latest, [page.lang], tune_tab.watch).then(
            compare.refresh_choices, [compare_tab.pick, page.lang, page.data], compare_tab.pick)
        app.load(data.load_source, [data_tab.demo, page.data, page.lang], page.data).then(
            data.show, [page.data, page.lang], data_tab.shown).then(
            template_for_task, [page.data, page.lang], page.editor + [studio_tab.pick]).then(
            studio.check_for_model, [*page.editor, page.data, page.lang, page.model], studio_tab.checked)
    return app


def template_for_task(sel, lang: str):
    """The first library template written for the selected task (else the first one), as editor values."""
    library = state.library()
    if not library:
        return [gr.skip()] * (len(editor.FIELD_NAMES) + 1)
    task = (sel or {}).get("name")
    name = next((n for n, tmpl in sorted(library.items()) if tmpl.task == task), min(library))
    return (*editor.fields_from_template(library[name]), gr.update(value=name))


@guarded("compare.failed")
@takes_editor
def pick_runs_for_compare(draft, run_ids, lang: str, request: gr.Request = None):
    """The picks, the tab, the data selection and the models for scoring runs in Compare: each run beside its hard
    prompt, on the first run's own data and evaluation rows (what its curves were measured on), whatever data is
    loaded now, with the runs' own base models (whatever model is picked now)."""
    run_ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or [])
    if not run_ids:
        raise ValueError(t("runs.none_picked", lang))
    owner = state.owner_of(request)
    runs = [store.get_run(run_id, owner=owner) for run_id in run_ids]
    # each run's own hard prompt (what its Tune plot measured; the library's copy may have been edited since)
    picks = [pick for run in runs for pick in (f"hard:{run.run_id}", f"run:{run.run_id}")]
    models = list(dict.fromkeys(run.spec.get("model") or state.model_id() for run in runs))
    offered = model_picker.choices(state.visitor(request), lang)
    offered += [(m, m) for m in models if m not in {value for _, value in offered}]
    return (gr.update(choices=compare.candidate_choices(lang, owner), value=picks), gr.Tabs(selected="compare"),
            run_selection(runs[0]), gr.update(choices=offered, value=models))


def run_selection(run) -> dict:
    """The data selection a run was trained and evaluated with."""
    spec = run.spec
    if not spec.get("data"):  # a damaged run: its error says what is wrong
        if isinstance(run.error, Message):
            raise UserError(run.error)
        raise ValueError(run.error) if run.error else PageError("data.run_without_data", run=run.run_id)
    dataset = state.get_dataset(spec["data"], spec.get("label_column"), of_a_run=True)
    return data.selection(dataset, spec["data"], spec.get("train_split"), spec.get("eval_split"),
                          spec.get("eval_size"), spec.get("holdout"))
