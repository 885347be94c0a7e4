"""The tabs' handlers called directly (no browser): widget values in, engine calls, formatted values out.

Model-bound handlers run on the tiny random model, so these take seconds.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
import pytest

from promptlab.data import datasets
from promptlab.prompts import files, render
from promptlab.prompts.values import Template
from promptlab.scoring.compare import examples_table
from promptlab.tuning import config as tuning_config
from promptlab.ui import editor, format, run_view, state
from promptlab.ui.tabs import compare, data, studio, tune
from promptlab.ui.tabs import runs as runs_tab


class Progress:
    """Stands in for gr.Progress: records the (done, total) calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, **kwargs):
        self.calls.append(value)


@pytest.fixture
def tiny_session(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    state.configure(model_id=str(tiny_model_dir), allow_training=True)
    yield state
    state.configure()


@pytest.fixture
def demo():
    """The demo task as the Data tab leaves it: (selection, dataset)."""
    return data.load_source("demo-reviews", None, "en")


def fields(template) -> tuple:
    """The editor's fields showing `template` (empty fields for None): what handlers take."""
    return editor.fields_from_template(template) if template is not None else ("",) * len(editor.FIELD_NAMES)


# ---- settings -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env, space, explicit, allowed", [
    ({}, False, None, True),
    ({"PROMPTLAB_ALLOW_TRAINING": "0"}, False, None, False),
    ({}, True, None, False),                                   # a public Space: off unless opted in
    ({"PROMPTLAB_ALLOW_TRAINING": "1"}, True, None, True),
    ({"PROMPTLAB_ALLOW_TRAINING": "1"}, False, False, False),  # --no-training wins
])
def test_training_switch(monkeypatch, env, space, explicit, allowed):
    monkeypatch.delenv("PROMPTLAB_ALLOW_TRAINING", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if space:
        monkeypatch.setenv("SPACE_ID", "someone/promptlab")
    assert state.configure(allow_training=explicit).allow_training is allowed


# ---- helpers --------------------------------------------------------------------------------------------------

def test_engine_errors_become_readable_toasts_in_the_page_language():
    @format.guarded("compare.failed")
    def handler(x, lang):
        raise ValueError("Unknown column 'txet'. Did you mean 'text'?")

    with pytest.raises(gr.Error) as caught:
        handler(1, "zh")
    assert caught.value.message == "无法完成对比: Unknown column 'txet'. Did you mean 'text'?"
    assert caught.value.title == "操作失败"


def test_unexpected_errors_show_one_line_not_a_traceback():
    @format.guarded("compare.failed")
    def handler(lang, progress=None):
        return 1 / 0

    with pytest.raises(gr.Error) as caught:
        handler("zh", object())  # a Progress after the language, as gradio passes it
    assert caught.value.message == "无法完成对比: ZeroDivisionError: division by zero"


def test_delimiters_and_choices_round_trip_through_the_editor():
    for text in ("\n\n", " ", "\t|\\n literal", ""):
        assert editor.unescape(editor.escape(text)) == text
    assert editor.text_to_choices("negative ||| positive") == ("negative", "positive")
    assert editor.text_to_choices("{{ choices | join('|||') }}") == "{{ choices | join('|||') }}"
    assert editor.text_to_choices("") == ()


def test_every_library_template_survives_the_editor():
    for template in state.library().values():
        assert editor.template_from_fields(*editor.fields_from_template(template)) == template


def test_metrics_markdown_shows_spread_and_translated_names():
    text = format.metrics_markdown({"acc": 0.5, "acc_std": 0.1, "acc_min": 0.4, "acc_max": 0.6}, 8, 1.23, "zh")
    assert "准确率" in text and "0.500 ± 0.10" in text and "8 行 · 1.2 秒" in text


# ---- data -----------------------------------------------------------------------------------------------------

def test_load_demo_shows_summary_splits_distribution_and_preview(demo):
    sel = data.load_source("demo-reviews", None, "en")
    summary, label, train, evals, size, plot, preview = data.show(sel, "en")
    assert sel["label_column"] == "label" and sel["train"] == "train" and sel["eval"] == "validation"
    assert "negative" in summary and "`text`" in summary
    assert label["value"] == "label" and size["maximum"] == size["value"] == sel["eval_size"]
    assert [trace.name for trace in plot.data] == ["train", "validation"]
    assert list(preview.columns)[0] == "label" and len(preview) == data.PREVIEW_ROWS


def test_splits_and_eval_size_are_kept_in_the_selection(demo):
    sel = data.change_splits("train", "validation", 10, demo, "en")
    assert sel["eval_size"] == 10 and len(state.eval_rows(sel)) == 10
    assert state.eval_rows(sel, 4) == state.eval_rows(sel)[:4] or len(state.eval_rows(sel, 4)) == 4


def test_too_large_upload_is_refused_with_sizes(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "x,1\n" * 1000)
    monkeypatch.setattr(datasets, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(gr.Error) as caught:
        data.load_upload(str(path), None, "en")
    assert "more than the 0.0 MiB limit" in caught.value.message


def test_upload_of_a_csv_loads_it(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("sentence,label\ngood,pos\nbad,neg\nfine,pos\n")
    sel = data.load_upload(str(path), None, "en")
    assert sel["columns"] == ["sentence", "label"] and sel["label_column"] == "label"


def test_missing_source_is_a_readable_error():
    with pytest.raises(gr.Error) as caught:
        data.load_source("/nowhere/data.csv", None, "en")
    assert caught.value.message.startswith("Could not load the data: ")


# ---- studio ---------------------------------------------------------------------------------------------------

def test_live_check_reports_a_problem_then_clears_it(demo):
    fields = list(editor.fields_from_template(files.find_template("demo-reviews-sentiment")))
    fields[2] = fields[2].replace("{{ text }}", "{{ txet }}")
    draft, placeholders, problems, rendered, yaml_text, download = studio.check(*fields, demo, "en")
    assert "`txet` ✗" in placeholders and "Unknown column 'txet'" in problems and "line 2" in problems
    fields[2] = fields[2].replace("{{ txet }}", "{{ text }}")
    draft, placeholders, problems, rendered, yaml_text, download = studio.check(*fields, demo, "en")
    assert "No problems" in problems and rendered.count("```text") == studio.RENDERED_ROWS
    assert files.parse_template(yaml_text) == draft
    assert download["value"].endswith("demo-reviews-sentiment.yaml")


def test_the_rendered_prompts_are_what_the_picked_model_reads(demo, tiny_roberta_dir):
    """A cloze template shows the picked masked LM's own mask token (RoBERTa's `<mask>`, not a generic `[MASK]`);
    a chat template says that the model's chat template wraps it."""
    cloze = Template("cloze", "{{ text }} It was {{ mask }}.", '{{ {"negative": "bad", "positive": "good"}[label] }}',
                     ("bad", "good"), chat=True)
    fields = editor.fields_from_template(cloze)
    rendered = studio.check_for_model(*fields, demo, "en", str(tiny_roberta_dir))[3]
    assert "It was <mask>." in rendered and "[MASK]" not in rendered
    assert "inside its own chat template" in rendered
    assert "It was [MASK]." in studio.check_for_model(*fields, demo, "en", None)[3]  # a causal LM: the generic mask


def test_blank_template_fits_the_data(demo):
    template = studio.blank_template(demo)
    assert render.validate(template, demo["columns"], state.eval_rows(demo, 5)) == []


def test_preview_scores_eight_rows(tiny_session, demo):
    template = files.find_template("demo-reviews-sentiment")
    progress = Progress()
    metrics, table, last = studio.preview(*fields(template), demo, 8, 0, "random", 0, False, "en", progress=progress)
    assert "accuracy" in metrics and "8 rows" in metrics
    df = table["value"]
    assert len(df) == 8 and {"gold", "prediction", "p(negative)", "p(positive)"} <= set(df.columns)
    assert df.columns[-1] == "prompt"
    assert progress.calls  # the bar moved
    metrics_zh, table_zh = studio.show_preview(last, "zh")
    assert "准确率" in metrics_zh and "标准答案" in table_zh["value"].columns


def test_preview_few_shot_with_a_seed(tiny_session, demo):
    template = files.find_template("demo-reviews-sentiment")
    metrics, table, _ = studio.preview(*fields(template), demo, 4, 2, "balanced", 3, False, "zh", progress=Progress())
    assert "准确率" in metrics
    assert table["value"]["提示"].str.contains("Review:").all()


def test_the_seed_picks_the_demonstrations(tiny_session, demo):
    """Seed 3 renders other demonstrations than seed 0, and the same ones every time."""
    template = files.find_template("demo-reviews-sentiment")

    def prompts(seed):
        _, table, _ = studio.preview(*fields(template), demo, 3, 2, "random", seed, False, "en", progress=Progress())
        return table["value"]["prompt"].tolist()

    assert prompts(3) == prompts(3) != prompts(0)


def test_save_to_library(tmp_path, monkeypatch):
    """Saved templates go to the user's library (issue 13: not into the shipped one); tests/test_library_ui.py
    has the rest of the library's handlers."""
    monkeypatch.setenv("PROMPTLAB_USER_TEMPLATES", str(tmp_path))
    template = Template("mine", "Q: {{ text }}", "{{ label }}", ("a", "b"))
    message, pick, overwrite, asked = studio.save_to_library(*fields(template), "en")
    assert (tmp_path / "mine.yaml").is_file() and pick["value"] == "mine" and "mine" in message


# ---- compare --------------------------------------------------------------------------------------------------

def test_compare_two_templates(tiny_session, demo):
    draft = files.find_template("demo-reviews-good-bad")
    demo = data.change_splits("train", "validation", 12, demo, "en")  # Compare scores the Data tab's rows
    out = compare.compare(*fields(draft), ["tpl:demo-reviews-sentiment", "draft"], demo, 0, 1, "random", "en",
                          progress=Progress())
    result, metrics, bars, confusion, examples, csv_metrics, csv_examples, shown, disagree, failures, *_ = out
    assert failures == ""
    per_example = result["examples"]
    assert list(metrics["prompt"]) == ["demo-reviews-sentiment", "demo-reviews-good-bad (draft)"]
    assert {"accuracy", "macro-F1", "rows"} <= set(metrics.columns)
    assert len(per_example) == 12 and "agree" in per_example
    # the legend names the metrics as the tables do (in the page's language)
    assert [tr.name for tr in bars.data if tr.type == "bar"] == ["accuracy", "acc (length-normalised)",
                                                                 "acc (calibrated)", "macro-F1"]
    assert len(confusion.data) == 2
    assert pd.read_csv(csv_examples).shape[0] == 12 and pd.read_csv(csv_metrics).shape[0] == 2
    only = compare.filter_examples(result, True, "en")
    assert len(only) == (~per_example["agree"]).sum()
    metrics_zh, *_ = compare.render(result, "zh")
    assert "准确率" in metrics_zh.columns


def test_agreement_is_by_answer_position_not_wording():
    class R:
        def __init__(self, predictions, correct):
            self.table = pd.DataFrame({"gold": ["x"] * 2, "prediction": predictions, "correct": correct})

    templates = {"a": Template("a", "{{ t }}", "{{ l }}", ("negative", "positive")),
                 "b": Template("b", "{{ t }}", "{{ l }}", ("no", "yes"))}
    reports = {"a": R(["negative", "positive"], [True, False]), "b": R(["no", "no"], [True, True])}
    df = examples_table(reports, templates, [{"t": "one"}, {"t": "two"}])
    assert list(df["agree"]) == [True, False]
    assert list(df["a"]) == ["negative ✓", "positive ✗"]


def test_gold_is_the_datasets_label_not_the_first_templates_wording():
    class R:
        table = pd.DataFrame({"gold": ["bad", "good"], "prediction": ["bad", "bad"], "correct": [True, False]})

    templates = {"good-bad": Template("good-bad", "{{ t }}", "{{ l }}", ("bad", "good"))}
    rows = [{"t": "one", "l": "negative"}, {"t": "two", "l": "positive"}]
    assert list(examples_table({"good-bad": R()}, templates, rows, "l")["gold"]) == ["negative", "positive"]


def test_compare_needs_a_pick():
    with pytest.raises(gr.Error):
        compare.compare(*fields(None), [], {"source": "demo-reviews"}, 0, 1, "random", "en", progress=Progress())


def test_a_broken_prompt_fails_alone_and_is_named(tiny_session, demo):
    broken = Template("broken-draft", "Review: {{ txet }}\nSentiment:", "{{ label }}", ("negative", "positive"))
    demo = data.change_splits("train", "validation", 8, demo, "en")
    out = compare.compare(*fields(broken), ["tpl:demo-reviews-sentiment", "draft", "run:no-such-run"], demo, 0, 1,
                          "random", "en", progress=Progress())
    metrics, failures = out[1], out[9]
    assert list(metrics["prompt"]) == ["demo-reviews-sentiment"]
    assert "**broken\\-draft \\(draft\\)**: prompt, line 1" in failures and "Unknown column 'txet'" in failures
    assert "**no\\-such\\-run**: No run 'no\\-such\\-run'" in failures
    with pytest.raises(gr.Error, match=r"broken-draft \(draft\): prompt, line 1.*Unknown column"):
        compare.compare(*fields(broken), ["draft"], demo, 0, 1, "random", "en", progress=Progress())


def test_a_comparison_shares_one_rendering_budget(tiny_session, demo, monkeypatch):
    """Rendering is bounded per comparison, not per prompt: a library of slow templates cannot add up to minutes.
    (With no rendering time at all, every prompt fails, saying why.)"""
    monkeypatch.setattr(compare, "COMPARE_RENDER_SECONDS", 0.0)
    draft = files.find_template("demo-reviews-good-bad")
    demo = data.change_splits("train", "validation", 8, demo, "en")
    with pytest.raises(gr.Error, match=r"(?s)demo-reviews-sentiment: .*render.*good-bad \(draft\): .*render"):
        compare.compare(*fields(draft), ["tpl:demo-reviews-sentiment", "draft"], demo, 0, 1, "random", "en",
                        progress=Progress())


# ---- tune -----------------------------------------------------------------------------------------------------

def test_job_spec_from_the_form_is_valid(tiny_session, demo):
    from promptlab.tuning.spec import prepare_spec

    draft = files.find_template("demo-reviews-sentiment")
    spec = tune.job_spec(draft, demo, "prompt_tuning", "template", 8, "test", 0.03, 4, 4)
    prepared = prepare_spec(spec)
    assert prepared["config"]["num_virtual_tokens"] == 8 and prepared["config"]["max_steps"] == 4
    assert prepared["eval_size"] == demo["eval_size"] and prepared["model"] == state.model_id()
    assert files.parse_template(prepared["template"]) == draft


def test_launch_refused_when_training_is_disabled(demo):
    state.configure(allow_training=False)
    try:
        with pytest.raises(gr.Error) as caught:
            tune.start_job(*fields(files.find_template("demo-reviews-sentiment")), demo, "prompt_tuning", "template", 8,
                           "test", 0.03, 4, 4, 2, 8, 0, 1, "linear", 0, "en")
        assert "disabled" in caught.value.message
    finally:
        state.configure()


def test_dashboard_of_no_run_and_of_a_missing_run():
    status, accuracy, loss, nearest, *_, timer = tune.redraw(None, "en")
    assert accuracy.layout.annotations[0].text.startswith("No run yet")
    status, *_ = tune.redraw("no-such-run", "en")
    assert "no-such-run" in status


def test_nearest_tokens_table_uses_the_latest_probe():
    lines = [{"step": 1, "kind": "nearest_tokens", "tokens": [["a", "b"]], "drift": [0.1]},
             {"step": 2, "kind": "nearest_tokens", "tokens": [[" good", "\n"], ["x", "y"]], "drift": [0.2, 0.3]}]
    table = run_view.nearest_table(lines, "en")
    assert table.iloc[0].tolist() == ["v0", " good · \\n", 0.2] and len(table) == 2


def test_durations_read_naturally():
    assert [format.duration(s) for s in (None, 5, 125, 7260)] == ["–", "5 s", "2 min 05 s", "2 h 01 min"]


def test_changing_the_method_keeps_the_steps_and_batch_typed():
    """Only the learning rate follows the method; a preset sets steps and batch."""
    assert tune.method_lr("prefix_tuning") == tuning_config.DEFAULT_LR["prefix_tuning"]
    assert tune.apply_preset("test", "lora") == (tuning_config.DEFAULT_LR["lora"], 4, 4, 2, 1)


def test_resume_is_offered_only_for_resumable_runs(monkeypatch):
    from promptlab.runs.store import RunInfo

    runs = [RunInfo(f"r-{s}", s, 0.0, None, None, {}, 0, 1) for s in ("done", "failed", "interrupted")]
    monkeypatch.setattr(runs_tab.store, "list_runs", lambda owner=None: runs)
    assert runs_tab.actions_for(["r-failed", "r-interrupted"])[0]["interactive"] is True
    assert runs_tab.actions_for(["r-failed", "r-done"])[0]["interactive"] is False
    assert runs_tab.actions_for([])[0]["interactive"] is False


# ---- the tuning form, the dashboard and the Runs tab (issue 13: items 6 and 8, "Tuning form", "Runs") --------------

def test_the_form_sends_evaluation_seed_schedule_and_early_stopping(tiny_session, demo):
    from promptlab.tuning.spec import prepare_spec

    draft = files.find_template("demo-reviews-sentiment")
    typed = prepare_spec(tune.job_spec(draft, demo, "prompt_tuning", "template", 8, "test", 0.03, 4, 4, eval_every=3,
                                       eval_size=12, seed=7, warmup=2, schedule="cosine", patience=2))["config"]
    assert (typed["eval_every"], typed["eval_size"], typed["seed"], typed["warmup_steps"], typed["schedule"],
            typed["early_stopping_patience"]) == (3, 12, 7, 2, "cosine", 2)
    empty = prepare_spec(tune.job_spec(draft, demo, "prompt_tuning", "template", 8, "test", 0.03, 4, 4, None, None,
                                       None, None, None, None))["config"]
    test = tuning_config.TEST_PRESET
    assert (empty["eval_every"], empty["eval_size"], empty["warmup_steps"]) == (test["eval_every"],
                                                                               demo["eval_size"], 1)


def form(demo, **change) -> tuple:
    """The Tune form's values after the editor's fields and the data (what its handlers take)."""
    values = dict(method="prompt_tuning", init="template", tokens=4, preset="test", lr=0.1, steps=4, batch=4,
                  eval_every=2, eval_size=8, seed=0, warmup=1, schedule="linear", patience=0)
    values.update(change)
    return (*fields(files.find_template("demo-reviews-sentiment")), demo, *values.values())


def test_the_estimate_says_how_long_and_how_it_is_made(tiny_session, demo, tmp_path):
    from promptlab.tuning import estimate

    before = tune.estimate_markdown(*form(demo), "en")
    assert "at most about" in before and "for 4 steps" in before and "upper bound" in before
    assert "includes measuring the manual prompts' baselines" in before
    estimate.record_speed(tmp_path / "runs", state.model_id(), "cpu", run_id="r0", train_chars_per_s=1000.0,
                          eval_chars_per_s=4000.0, load_seconds=5.0)
    after = tune.estimate_markdown(*form(demo), "en")
    assert "Measured on this machine" in after and "1,000 characters/s" in after and "about" in after
    assert "无法估计" in tune.estimate_markdown(*form(demo, batch=10**4), "zh")  # says why, as the launch would


def test_the_estimate_knows_when_the_baselines_will_be_reused(tiny_session, demo):
    """The estimate checks the very baselines a launch of the form would reuse (the same spec, eval size included)."""
    from promptlab.runs import layout
    from promptlab.tuning.spec import submit
    from promptlab.tuning.worker import main

    assert "includes measuring the manual prompts' baselines" in tune.estimate_markdown(*form(demo), "en")
    values = form(demo, eval_size=12)[len(editor.FIELD_NAMES):]  # not the preset's 8
    spec = tune.job_spec(files.find_template("demo-reviews-sentiment"), *values)
    run_id = submit(spec, launch=False)
    assert main(layout.run_path(run_id, state.settings.runs_dir())) == 0
    again = tune.estimate_markdown(*form(demo, lr=0.3, seed=1, eval_size=12), "en")
    assert "were measured before and are reused" in again and "Measured on this machine" in again


def test_cancel_shows_stopping_at_once(tiny_session, tmp_path, monkeypatch):
    import subprocess
    import sys

    from test_jobs import fake_run

    from promptlab.runs import layout, queue

    monkeypatch.setenv("PROMPTLAB_CANCEL_GRACE", "600")
    path = fake_run(tmp_path / "runs", "live", status="running")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        layout.write_json_atomic(path / "worker.json", queue.process_record(proc.pid))
        assert "stopping" not in tune.redraw("live", "en")[0]
        tune.cancel_job("live", "en")
        assert "<b>stopping…</b>" in tune.redraw("live", "en")[0]  # before the worker has noticed
        assert runs_tab.runs_frame(runs_tab.store.list_runs(), "en").iloc[0]["status"] == "stopping…"
    finally:
        proc.kill()
        proc.wait()


def test_an_ended_run_says_which_adapter_is_exported_and_that_it_ended_worse(tiny_session):
    from promptlab.runs.store import RunInfo

    run = RunInfo("r1", "done", 0.0, 0.0, 90.0, {}, 10, 10, best={"step": 0, "acc": 0.7},
                  baselines={"metric": "acc"}, active_seconds=65.0)
    lines = [{"step": 0, "split": "val", "acc": 0.7}, {"step": 10, "split": "val", "acc": 0.55}]
    status = run_view.status_html(run, "acc", "en", lines)
    assert "ended worse than it started: accuracy 0.700 at step 0, 0.550 at step 10" in status
    assert "best evaluation, step 0" in status and "ran 1 min 05 s" in status
    better = run_view.status_html(run, "acc", "en", lines[:1] + [{"step": 10, "split": "val", "acc": 0.8}])
    assert "worse" not in better and "best evaluation, step 0" in better


def test_resume_says_before_and_after_where_the_run_continues(tiny_session, tmp_path):
    from promptlab.runs.store import RunInfo

    fresh = RunInfo("r-none", "cancelled", 0.0, 0.0, 1.0, {}, 3, 10)
    kept = RunInfo("r-kept", "interrupted", 0.0, 0.0, 1.0, {}, 7, 10, checkpoint=6)
    assert runs_tab.resume_words(fresh, "en") == ("Resume: run r-none has no checkpoint (it stopped before writing "
                                                  "one), so it starts over at step 0 (3 steps were taken before).")
    assert "continues from step 6" in runs_tab.resume_words(kept, "en")
    assert "从第 0 步重新开始" in runs_tab.resume_words(fresh, "zh")
    restarted = RunInfo("r-none", "running", 0.0, 0.0, None, {}, 0, 10, resumed_from=0)
    assert "restarted at step 0: no checkpoint had been written" in run_view.status_html(restarted, "acc", "en")


def test_a_click_on_a_row_picks_its_run_and_a_second_unpicks_it():
    def click(row):
        return gr.SelectData(None, {"index": [0, 2], "value": row[2], "row_value": row})

    row = ["my run", "done", "tpl", "task", "prompt tuning", "4/4", "–", "–", "3 s", "2026-01-01 00:00", "", "r-2"]
    assert runs_tab.pick_row(["r-1"], click(row)) == ["r-1", "r-2"]
    assert runs_tab.pick_row(["r-1", "r-2"], click(row)) == ["r-1"]


def test_runs_are_named_noted_sorted_and_named_in_legends(tiny_session, tmp_path):
    import json

    from test_jobs import fake_run

    runs_dir = tmp_path / "runs"
    for run_id, created, acc in (("r-old", 1000.0, 0.9), ("r-new", 2000.0, 0.6)):
        path = fake_run(runs_dir, run_id, created=created, best={"step": 2, "acc": acc})
        (path / "metrics.jsonl").write_text(json.dumps({"step": 2, "split": "val", "acc": acc}) + "\n")
    runs_tab.save_notes(["r-old"], "  baseline   run ", "first try\nlr 0.1", "en")
    frame = runs_tab.runs_frame(runs_tab.store.list_runs(), "en")
    assert list(frame["run"]) == ["r-new", "r-old"] and list(frame["name"]) == ["–", "baseline run"]
    assert list(frame["note"]) == ["", "first try lr 0.1"]
    assert runs_tab.notes_of(["r-old"]) == ("baseline run", "first try\nlr 0.1")
    listed = runs_tab.list_table([], "en", "best")
    assert list(listed[0]["run"]) == ["r-old", "r-new"]
    assert ("r-old · done · baseline run", "r-old") in listed[1]["choices"]
    overlay = runs_tab.show_runs(["r-old", "r-new"], "en")[0]
    names = [trace.name for trace in overlay.data if trace.showlegend is not False]
    assert names[0] == "baseline run" and names[1].startswith("t · ") and "r-" not in " ".join(names)
