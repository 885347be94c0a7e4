"""Tune tab: a form prefilled from the current template and task launches a soft-prompt tuning job, with an estimate
of its duration; a dashboard redrawn on a timer shows its curves beside the manual prompts' scores.

Training never runs in this process: `tuning.spec.submit` launches a worker subprocess that writes its run folder,
and the dashboard only reads that folder. Closing the page leaves the job running; reopening the app finds it on disk.
"""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from promptlab import plots, settings
from promptlab.prompts.budget import render_budget
from promptlab.prompts.files import dump_template
from promptlab.runs import store
from promptlab.runs.queue import ACTIVE
from promptlab.tuning import config as tuning_config
from promptlab.tuning.estimate import estimate_run
from promptlab.tuning.spec import submit
from promptlab.ui import run_view, state
from promptlab.ui.editor import takes_editor
from promptlab.ui.format import duration, guarded, html_text, info, md_code, md_text
from promptlab.ui.i18n import say, t
from promptlab.ui.page import Page, TuneHandles

REFRESH_SECONDS = 2.0
ESTIMATE_SECONDS = 5.0  # rendering time the duration estimate may take (a sample of rows)


def build(page: Page) -> TuneHandles:
    L = page.labels
    L(gr.Markdown, value_key="tune.intro")
    if not state.CONFIG.allow_training:
        L(gr.Markdown, value_key="tune.disabled", elem_id="tune-disabled")
    using = gr.Markdown(elem_id="tune-using", latex_delimiters=[])  # "$$" in a name is text, not a formula
    first = presets()[default_preset()]
    with gr.Row():
        method = L(gr.Dropdown, label_key="tune.method", choices_fn=method_choices, value="prompt_tuning",
                   elem_id="tune-method")
        init = L(gr.Dropdown, label_key="tune.init", choices_fn=init_choices, value="template")
        tokens = L(gr.Slider, label_key="tune.tokens", minimum=1, maximum=100, step=1, value=20,
                   elem_id="tune-tokens")
        preset = L(gr.Dropdown, label_key="tune.preset", choices_fn=preset_choices, value=default_preset(),
                   elem_id="tune-preset")
    with gr.Row():
        lr = L(gr.Number, label_key="tune.lr", value=tuning_config.DEFAULT_LR["prompt_tuning"], minimum=0,
               elem_id="tune-lr")
        steps = L(gr.Number, label_key="tune.steps", precision=0, minimum=1, elem_id="tune-steps",
                  value=first["max_steps"])
        batch = L(gr.Number, label_key="tune.batch", precision=0, minimum=1, elem_id="tune-batch",
                  value=first["batch_size"])
        launch = L(gr.Button, value_key="tune.launch", variant="primary", elem_id="tune-launch",
                   interactive=state.CONFIG.allow_training)
    with L(gr.Accordion, label_key="tune.more", open=False, elem_id="tune-more"):
        with gr.Row():
            eval_every = L(gr.Number, label_key="tune.eval_every", info_key="tune.eval_every_info", precision=0,
                           minimum=0, value=first["eval_every"], elem_id="tune-eval-every")
            eval_size = L(gr.Number, label_key="tune.eval_size", info_key="tune.eval_size_info", precision=0,
                          minimum=1, value=None, elem_id="tune-eval-size")
            seed = L(gr.Number, label_key="tune.seed", precision=0, minimum=0, value=0, elem_id="tune-seed")
        with gr.Row():
            warmup = L(gr.Number, label_key="tune.warmup", info_key="tune.warmup_info", precision=0, minimum=0,
                       value=_warmup(first), elem_id="tune-warmup")
            schedule = L(gr.Dropdown, label_key="tune.schedule", choices_fn=schedule_choices, value="linear",
                         elem_id="tune-schedule")
            patience = L(gr.Number, label_key="tune.patience", info_key="tune.patience_info", precision=0,
                         minimum=0, value=0, elem_id="tune-patience")
    estimate = gr.Markdown(elem_id="tune-estimate", latex_delimiters=[])
    L(gr.Markdown, value_key="tune.dashboard")
    with gr.Row(equal_height=True):
        watch = L(gr.Dropdown, label_key="tune.watch", choices=[], scale=4, elem_id="tune-watch")
        cancel = L(gr.Button, value_key="tune.cancel", variant="stop", scale=1, elem_id="tune-cancel")
    status = gr.HTML(elem_id="tune-status")
    with gr.Row():
        accuracy = L(gr.Plot, label_key="tune.accuracy", show_label=False, elem_id="tune-accuracy")
        loss = L(gr.Plot, label_key="tune.loss", show_label=False, elem_id="tune-loss")
    nearest = L(gr.Dataframe, label_key="tune.nearest", interactive=False, max_height=260, wrap=True,
                visible=False, elem_id="tune-nearest")
    with gr.Row():
        to_compare = L(gr.Button, value_key="tune.to_compare", visible=False, elem_id="tune-to-compare")
        adapter = L(gr.DownloadButton, label_key="tune.download_adapter", value=None, visible=False)
        bundle = L(gr.DownloadButton, label_key="tune.download_bundle", value=None, visible=False)
    timer = gr.Timer(REFRESH_SECONDS, active=False)

    for widget in (page.draft, page.data, page.lang, page.model):
        widget.change(describe_job, [page.draft, page.data, page.lang], using, show_progress="hidden")
    page.data.change(data_eval_size, page.data, eval_size, show_progress="hidden")
    preset.input(apply_preset, [preset, method], [lr, steps, batch, eval_every, warmup])
    method.input(method_lr, method, lr)  # a method has its own learning rate; steps and batch stay as typed
    form = [method, init, tokens, preset, lr, steps, batch, eval_every, eval_size, seed, warmup, schedule, patience]
    for widget in (*form, page.draft, page.data, page.lang, page.runs_changed):
        widget.change(estimate_markdown, [*page.editor, page.data, *form, page.lang], estimate,
                      show_progress="hidden")
    dashboard = [status, accuracy, loss, nearest, to_compare, adapter, bundle, timer]
    launch.click(start_job, [*page.editor, page.data, *form, page.lang], [watch, page.runs_changed])
    watch.change(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    timer.tick(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    # While a run goes on, the estimate follows what it measures (its speed, its baselines for the next run).
    timer.tick(estimate_markdown, [*page.editor, page.data, *form, page.lang], estimate, show_progress="hidden")
    page.on_language(redraw, [watch, page.lang], dashboard)
    # The status says "stopping..." as soon as the cancel is asked (then the worker ends within a step).
    cancel.click(cancel_job, [watch, page.lang], page.runs_changed).then(
        redraw, [watch, page.lang], dashboard, show_progress="hidden")
    page.runs_changed.change(run_choices, [watch, page.lang], watch, show_progress="hidden")
    # A run resumed or cancelled in the Runs tab: the dashboard (and its timer) follow at once.
    page.runs_changed.change(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    return TuneHandles(watch=watch, to_compare=to_compare)


def method_choices(lang: str):
    return [(t(f"method.{m}", lang), m) for m in tuning_config.METHODS]


def init_choices(lang: str):
    return [(t(f"init.{i}", lang), i) for i in tuning_config.INITS]


def schedule_choices(lang: str):
    return [(t(f"schedule.{s}", lang), s) for s in tuning_config.SCHEDULES]


def presets() -> dict[str, dict]:
    """The device presets plus the tiny smoke test (a few steps: checks that a job runs end to end)."""
    return {**tuning_config.PRESETS, "test": tuning_config.TEST_PRESET}


def preset_choices(lang: str):
    return [(t(f"preset.{p}", lang), p) for p in presets()]


def default_preset() -> str:
    # Not torch.cuda.is_available(): importing torch here would add seconds to the app's start.
    return "gpu" if Path("/proc/driver/nvidia/version").exists() else "cpu"


def _warmup(values: dict) -> int:
    return values.get("warmup_steps", tuning_config.TuneConfig.warmup_steps)


def apply_preset(preset: str, method: str):
    """A preset sets the learning rate (the method's), the steps, the batch size, how often to evaluate and the
    warmup; the evaluation size stays the Data tab's (or as typed)."""
    values = presets()[preset]
    return method_lr(method), values["max_steps"], values["batch_size"], values["eval_every"], _warmup(values)


def method_lr(method: str) -> float:
    """The learning rate that works for `method` (prompt tuning needs a far larger one than LoRA)."""
    return tuning_config.DEFAULT_LR.get(method, 0.03)


def data_eval_size(sel):
    """The evaluation size follows the Data tab's until the user types another here."""
    return gr.update(value=sel["eval_size"]) if sel else gr.skip()


def describe_job(draft, sel, lang: str, request: gr.Request = None) -> str:
    if draft is None or not sel:
        return t("tune.need_inputs", lang)
    return t("tune.using", lang, template=md_text(draft.name), data=md_text(sel["name"]), train=md_code(sel["train"]),
             eval=md_code(sel["eval"]), n=sel["eval_size"], model=md_code(state.model_for(state.visitor(request))))


def job_spec(draft, sel, method, init, tokens, preset, lr, steps, batch, eval_every=None, eval_size=None, seed=None,
             warmup=None, schedule=None, patience=None, model: str | None = None) -> dict:
    """The form's values as a job spec (the engine validates it before anything is launched). A setting left empty
    takes the preset's value; the evaluation size, the Data tab's; the model, the one picked in the header."""
    overrides = dict(init=init, lr=_number(lr), max_steps=_number(steps), batch_size=_number(batch),
                     eval_every=_number(eval_every), seed=_number(seed), warmup_steps=_number(warmup),
                     schedule=schedule or None, early_stopping_patience=_number(patience))
    if method in tuning_config.PROMPT_METHODS:
        overrides["num_virtual_tokens"] = _number(tokens)
    config = tuning_config.preset(preset, method, **overrides)
    size = _number(eval_size) or sel["eval_size"]
    return {"template": dump_template(draft), "data": sel["source"], "model": model or state.model_id(),
            "train_split": sel["train"], "eval_split": sel["eval"], "eval_size": int(size),
            "label_column": sel.get("label_column"), "holdout": sel.get("holdout"), "config": config.to_dict()}


def _number(value):
    """A number widget's value (None when empty): whole numbers as ints, so the config checks name them as typed."""
    if value is None or value == "":
        return None
    return int(value) if float(value).is_integer() else float(value)


@takes_editor
def estimate_markdown(draft, sel, method, init, tokens, preset, lr, steps, batch, eval_every, eval_size, seed, warmup,
                      schedule, patience, lang: str, request: gr.Request = None) -> str:
    """How long the run the form describes would take, and how that figure is made (never raises: a form that
    cannot run says why, as the launch would)."""
    if not draft.prompt.strip() or not sel:
        return ""
    try:
        spec = job_spec(draft, sel, method, init, tokens, preset, lr, steps, batch, eval_every, eval_size, seed,
                        warmup, schedule, patience, state.model_for(state.visitor(request)))
        with render_budget(ESTIMATE_SECONDS):
            found = estimate_run(spec, settings.runs_dir(), dataset=state.dataset_of(sel))
    except (ValueError, KeyError, TypeError) as error:
        return t("tune.estimate_none", lang, reason=md_text(say(error, lang).splitlines()[0][:300]))
    return estimate_words(found, lang)


def estimate_words(found, lang: str) -> str:
    """An estimate in a sentence, with what it rests on."""
    if found.basis == "unknown":
        return t("tune.estimate_unknown", lang, steps=found.steps)
    parts = t("tune.estimate_parts", lang, train=duration(found.train_seconds, lang),
              eval=duration(found.eval_seconds, lang), load=duration(found.load_seconds, lang))
    baselines = t("tune.estimate_reused" if found.baselines_reused else "tune.estimate_measured_baselines", lang)
    if found.basis == "measured":
        how = t("tune.estimate_how_measured", lang, speed=f"{found.speed['train_chars_per_s']:,.0f}",
                eval_speed=f"{found.speed['eval_chars_per_s']:,.0f}", run=md_code(found.speed.get("run", "")))
        head = t("tune.estimate", lang, time=duration(found.seconds, lang), steps=found.steps)
    else:
        how = t("tune.estimate_how_formula", lang, params=f"{found.speed['parameters'] / 1e6:,.1f}M",
                gflops=f"{found.speed['flops'] / 1e9:,.0f}")
        head = t("tune.estimate_at_most", lang, time=duration(found.seconds, lang), steps=found.steps)
    return f"{head} ({parts}; {baselines})  \n{how}"


@guarded("tune.launch_failed")
@takes_editor
def start_job(draft, sel, method, init, tokens, preset, lr, steps, batch, eval_every, eval_size, seed, warmup,
              schedule, patience, lang, request: gr.Request = None):
    if not state.CONFIG.allow_training:
        raise ValueError(t("tune.disabled", lang))
    if not draft.prompt.strip() or not sel:
        raise ValueError(t("tune.need_inputs", lang))
    owner = state.owner_of(request)
    model = state.model_for(state.visitor(request))  # the model picked in the header
    spec = job_spec(draft, sel, method, init, tokens, preset, lr, steps, batch, eval_every, eval_size, seed, warmup,
                    schedule, patience, model)
    run_id = submit(spec, owner=owner, allow_training=state.CONFIG.allow_training,
                    dataset=state.dataset_of(sel))  # as loaded for the visitor, within their bounds: not read again
    info(t("tune.launched", lang, run=run_id), lang)
    return gr.update(choices=_run_choices(owner), value=run_id), time.time()


@guarded("tune.cancel_failed")
def cancel_job(run_id, lang, request: gr.Request = None):
    if not run_id:
        raise ValueError(t("tune.pick_run", lang))
    store.cancel(run_id, owner=state.owner_of(request))
    info(t("tune.stopping_toast", lang, run=run_id), lang)
    return time.time()


def run_choices(current, lang: str, request: gr.Request = None):
    return gr.update(choices=_run_choices(state.owner_of(request)), value=current)


def _run_choices(owner: str | None):
    # No status in the label: the choices are not redrawn on every tick, the status line below is.
    return [(f"{r.run_id} · {r.name or r.template}", r.run_id) for r in store.list_runs(owner=owner)]


def watch_latest(lang: str, request: gr.Request = None):
    """On page load: show the newest active run, else the newest run (the job went on while the page was closed)."""
    owner = state.owner_of(request)
    runs = store.list_runs(owner=owner)
    active = [r for r in runs if r.status in ACTIVE]
    chosen = (active or runs or [None])[0]
    return gr.update(choices=_run_choices(owner), value=chosen.run_id if chosen else None)


def redraw(run_id, lang: str, request: gr.Request = None):
    """Every dashboard output for one run; the timer keeps ticking only while the run is queued or running."""
    if not run_id:
        empty = plots.empty(t("tune.no_run", lang))
        return ("", empty, empty, gr.update(visible=False), gr.update(visible=False), gr.update(visible=False),
                gr.update(visible=False), gr.Timer(active=False))
    try:
        owner = state.owner_of(request)
        run = store.get_run(run_id, owner=owner)
        lines = store.read_metrics(run_id, owner=owner)
    except ValueError as error:  # deleted meanwhile: say so instead of raising on every tick
        hidden = gr.update(visible=False)
        return (html_text(say(error, lang)), gr.skip(), gr.skip(), hidden, hidden, hidden,
                gr.update(visible=False), gr.Timer(active=False))
    metric = run_view.metric_of(run, lines)
    accuracy, loss = run_view.curves(run, lines, lang)
    files = run_view.downloads(run, owner) if run.best else (None, None)
    nearest = run_view.nearest_table(lines, lang)
    return (run_view.status_html(run, metric, lang, lines), accuracy, loss,
            gr.update(value=nearest, visible=nearest is not None),
            gr.update(visible=bool(run.best) and run.status != "queued"),
            gr.update(value=files[0], visible=files[0] is not None),
            gr.update(value=files[1], visible=files[1] is not None),
            gr.Timer(active=run.status in ACTIVE))
