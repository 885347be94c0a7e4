"""Tune tab: a form prefilled from the current template and task launches a soft-prompt tuning job; a dashboard
redrawn on a timer shows its curves beside the manual prompts' scores.

Training never runs in this process: `jobs.start` launches a worker subprocess that writes its run folder, and the
dashboard only reads that folder. Closing the page leaves the job running; reopening the app finds it on disk.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from promptlab import jobs, plots
from promptlab import templates as tpl
from promptlab.tuning import config as tuning_config
from promptlab.ui import session
from promptlab.ui.helpers import Page, fmt, guarded
from promptlab.ui.i18n import t

REFRESH_SECONDS = 2.0
METHODS = ("prompt_tuning", "p_tuning", "prefix_tuning", "lora")
INITS = ("template", "class_labels", "sample_vocab", "random")


def build(page: Page) -> None:
    L = page.labels
    L(gr.Markdown, value_key="tune.intro")
    if not session.CONFIG.allow_training:
        L(gr.Markdown, value_key="tune.disabled", elem_id="tune-disabled")
    using = gr.Markdown(elem_id="tune-using")
    with gr.Row():
        method = L(gr.Dropdown, label_key="tune.method", choices_fn=method_choices, value="prompt_tuning")
        init = L(gr.Dropdown, label_key="tune.init", choices_fn=init_choices, value="template")
        tokens = L(gr.Slider, label_key="tune.tokens", minimum=1, maximum=100, step=1, value=20,
                   elem_id="tune-tokens")
        preset = L(gr.Dropdown, label_key="tune.preset", choices_fn=preset_choices, value=default_preset(),
                   elem_id="tune-preset")
    with gr.Row():
        lr = L(gr.Number, label_key="tune.lr", value=tuning_config.DEFAULT_LR["prompt_tuning"], minimum=0)
        steps = L(gr.Number, label_key="tune.steps", precision=0, minimum=1, elem_id="tune-steps",
                  value=presets()[default_preset()]["max_steps"])
        batch = L(gr.Number, label_key="tune.batch", precision=0, minimum=1, elem_id="tune-batch",
                  value=presets()[default_preset()]["batch_size"])
        launch = L(gr.Button, value_key="tune.launch", variant="primary", elem_id="tune-launch",
                   interactive=session.CONFIG.allow_training)
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

    for widget in (page.draft, page.data, page.lang):
        widget.change(describe_job, [page.draft, page.data, page.lang], using, show_progress="hidden")
    preset.input(apply_preset, [preset, method], [lr, steps, batch])
    method.input(apply_preset, [preset, method], [lr, steps, batch])
    dashboard = [status, accuracy, loss, nearest, to_compare, adapter, bundle, timer]
    launch.click(start_job, [page.draft, page.data, method, init, tokens, preset, lr, steps, batch, page.lang],
                 [watch, page.runs_changed])
    watch.change(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    timer.tick(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    page.lang.change(redraw, [watch, page.lang], dashboard, show_progress="hidden")
    cancel.click(cancel_job, [watch, page.lang], page.runs_changed).then(
        redraw, [watch, page.lang], dashboard, show_progress="hidden")
    page.runs_changed.change(run_choices, [watch, page.lang], watch, show_progress="hidden")
    page.watch_run = watch
    page.extra["tune"] = {"to_compare": to_compare, "watch_on_load": (watch_latest, [page.lang], watch)}


def method_choices(lang: str):
    return [(t(f"method.{m}", lang), m) for m in METHODS]


def init_choices(lang: str):
    return [(t(f"init.{i}", lang), i) for i in INITS]


def presets() -> dict[str, dict]:
    """The device presets plus the tiny smoke test (a few steps: checks that a job runs end to end)."""
    return {**tuning_config.PRESETS, "test": tuning_config.TEST_PRESET}


def preset_choices(lang: str):
    return [(t(f"preset.{p}", lang), p) for p in presets()]


def default_preset() -> str:
    # Not torch.cuda.is_available(): importing torch here would add seconds to the app's start.
    return "gpu" if Path("/proc/driver/nvidia/version").exists() else "cpu"


def apply_preset(preset: str, method: str):
    values = presets()[preset]
    return tuning_config.DEFAULT_LR.get(method, 0.03), values["max_steps"], values["batch_size"]


def describe_job(draft, sel, lang: str) -> str:
    if draft is None or not sel:
        return t("tune.need_inputs", lang)
    return t("tune.using", lang, template=draft.name, data=sel["name"], train=sel["train"], eval=sel["eval"],
             n=sel["eval_size"], model=session.model_id())


def job_spec(draft, sel, method, init, tokens, preset, lr, steps, batch) -> dict:
    """The form's values as a job spec (the engine validates it before anything is launched)."""
    overrides = dict(init=init, lr=float(lr), max_steps=int(steps), batch_size=int(batch))
    if method in tuning_config.PROMPT_METHODS:
        overrides["num_virtual_tokens"] = int(tokens)
    config = tuning_config.preset(preset, method, **overrides)
    return {"template": tpl.dump_template(draft), "data": sel["source"], "model": session.model_id(),
            "train_split": sel["train"], "eval_split": sel["eval"], "eval_size": int(sel["eval_size"]),
            "label_column": sel.get("label_column"), "config": config.to_dict()}


@guarded("tune.launch_failed")
def start_job(draft, sel, method, init, tokens, preset, lr, steps, batch, lang):
    if not session.CONFIG.allow_training:
        raise ValueError(t("tune.disabled", lang))
    if draft is None or not sel:
        raise ValueError(t("tune.need_inputs", lang))
    run_id = jobs.start(job_spec(draft, sel, method, init, tokens, preset, lr, steps, batch))
    gr.Info(t("tune.launched", lang, run=run_id))
    return gr.update(choices=_run_choices(lang), value=run_id), time.time()


@guarded("tune.cancel_failed")
def cancel_job(run_id, lang):
    if not run_id:
        raise ValueError(t("tune.pick_run", lang))
    jobs.cancel(run_id)
    return time.time()


def run_choices(current, lang: str):
    return gr.update(choices=_run_choices(lang), value=current)


def _run_choices(lang: str):
    # No status in the label: the choices are not redrawn on every tick, the status line below is.
    return [(f"{r.run_id} · {_template_name(r)}", r.run_id) for r in jobs.list_runs()]


def _template_name(run) -> str:
    try:
        return tpl.parse_template(run.spec.get("template", "")).name
    except ValueError:
        return "?"


def watch_latest(lang: str):
    """On page load: show the newest active run, else the newest run (the job went on while the page was closed)."""
    runs = jobs.list_runs()
    active = [r for r in runs if r.status in jobs.ACTIVE]
    chosen = (active or runs or [None])[0]
    return gr.update(choices=_run_choices(lang), value=chosen.run_id if chosen else None)


def redraw(run_id, lang: str):
    """Every dashboard output for one run; the timer keeps ticking only while the run is queued or running."""
    if not run_id:
        empty = plots.empty(t("tune.no_run", lang))
        return ("", empty, empty, gr.update(visible=False), gr.update(visible=False), gr.update(visible=False),
                gr.update(visible=False), gr.Timer(active=False))
    try:
        run = jobs.get_run(run_id)
        lines = jobs.read_metrics(run_id)
    except ValueError as error:  # deleted meanwhile: say so instead of raising on every tick
        hidden = gr.update(visible=False)
        return (str(error), gr.skip(), gr.skip(), hidden, hidden, hidden,
                gr.update(visible=False), gr.Timer(active=False))
    metric = run.baselines.get("metric") or ("acc" if any("acc" in m for m in lines) else "exact_match")
    accuracy = plots.accuracy_curves(
        lines, run.baselines, metric=metric, total_steps=run.total_steps, title=t("tune.accuracy", lang),
        step_label=t("plot.step", lang), soft_label=t("plot.soft", lang), zero_shot_label=t("plot.zero", lang),
        few_shot_label=t("plot.few", lang), majority_label=t("plot.majority", lang))
    loss = plots.loss_curves(lines, title=t("tune.loss", lang), step_label=t("plot.step", lang),
                             train_label=t("plot.train_loss", lang), val_label=t("plot.val_loss", lang))
    done = run.status == "done"
    files = downloads(run) if run.best else (None, None)
    nearest = nearest_table(lines, lang)
    return (status_html(run, metric, lang), accuracy, loss, gr.update(value=nearest, visible=nearest is not None),
            gr.update(visible=bool(run.best) and run.status != "queued"),
            gr.update(value=files[0], visible=files[0] is not None and done),
            gr.update(value=files[1], visible=files[1] is not None and done),
            gr.Timer(active=run.status in jobs.ACTIVE))


def status_html(run, metric: str, lang: str) -> str:
    """Status, a progress bar, ETA and the best score so far."""
    share = run.step / run.total_steps if run.total_steps else 0.0
    parts = [f"<b>{t(f'status.{run.status}', lang)}</b>",
             t("tune.step", lang, step=run.step, total=run.total_steps, share=f"{share:.0%}")]
    if run.status in jobs.ACTIVE and run.eta_seconds:
        parts.append(t("tune.eta", lang, eta=duration(run.eta_seconds)))
    if run.best.get(metric) is not None:
        parts.append(t("tune.best", lang, metric=metric, value=fmt(run.best[metric]), step=run.best.get("step")))
    if run.status in jobs.ACTIVE and not run.baselines:
        parts.append(t("tune.measuring", lang))
    error = f"<div class='pl-error'>{run.error}</div>" if run.error else ""
    return (f"<div class='pl-status'>{' · '.join(parts)}<div class='pl-bar'><div style='width:{share * 100:.1f}%'>"
            f"</div></div>{error}</div>")


def nearest_table(lines: list[dict], lang: str) -> pd.DataFrame | None:
    """The soft prompt's latest nearest vocabulary tokens, one row per virtual token, with its drift from init."""
    probes = [m for m in lines if m.get("kind") == "nearest_tokens" and m.get("tokens")]
    if not probes:
        return None
    last = probes[-1]
    drift = last.get("drift") or []
    return pd.DataFrame({
        t("tune.col_token", lang): [f"v{i}" for i in range(len(last["tokens"]))],
        t("tune.col_nearest", lang): [" · ".join(repr(tok)[1:-1] for tok in row) for row in last["tokens"]],
        t("tune.col_drift", lang): [round(d, 3) for d in drift] + [None] * (len(last["tokens"]) - len(drift)),
    })


_files: dict[tuple, tuple] = {}  # (run id, finished) -> (adapter zip, bundle zip): built once per finished run


def downloads(run) -> tuple[str | None, str | None]:
    """Zips of the adapter and the run bundle of a finished run (made on first ask, then reused)."""
    if run.status != "done":
        return None, None
    key = (run.run_id, run.finished)
    if key not in _files:
        folder = Path(tempfile.mkdtemp(prefix="promptlab-run-"))
        try:
            adapter = shutil.make_archive(str(folder / f"{run.run_id}-adapter"), "zip", jobs.adapter_dir(run.run_id))
            bundle = jobs.export_bundle(run.run_id, folder / f"{run.run_id}-bundle.zip")
        except (ValueError, OSError):  # no adapter (or a folder being deleted): nothing to offer
            return None, None
        _files[key] = (adapter, str(bundle))
    return _files[key]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
