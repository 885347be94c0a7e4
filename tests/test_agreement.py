"""Every number agrees across screens: a tuning run's baselines (the Tune plot's zero- and few-shot lines) are
exactly what Compare reports for the same template, data, rows, shots and seeds, and "Score in Compare" of a run
scores the rows the run was evaluated on, whatever data is loaded when it is clicked."""

from __future__ import annotations

import pytest
from gradio import Progress
from helpers import TEMPLATE, write_task

from promptlab.data.sampling import evaluation_rows
from promptlab.prompts.files import parse_template
from promptlab.runs import layout, store
from promptlab.tuning import baselines
from promptlab.tuning.spec import load_parts, submit
from promptlab.tuning.worker import main
from promptlab.ui import app, state
from promptlab.ui.editor import fields_from_template
from promptlab.ui.tabs import compare, data, tune

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

DRAFT = parse_template(TEMPLATE)


@pytest.fixture()
def finished_run(tiny_model_dir, runs_dir, tmp_path, monkeypatch):
    """A tiny run of the toy template on a task with 2,500 training rows (more than any pool sample used to
    draw demonstrations from) and 12 evaluation rows, trained by the worker in this process; records the rows its
    baselines were measured with."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(runs_dir))
    state.configure(model_id=str(tiny_model_dir))
    folder = str(write_task(tmp_path / "task", n_train=2500, n_val=40))
    sel = data.change_splits("train", "validation", 12, data.load_source(folder, None, "en"), "en")
    measured = []
    real = baselines.measure_baselines
    monkeypatch.setattr(baselines, "measure_baselines", lambda lm, template, rows, pool, **kw: (
        measured.append((rows, pool)) or real(lm, template, rows, pool, **kw)))
    spec = tune.job_spec(DRAFT, sel, "prompt_tuning", "template", 4, "test", 0.05, 2, 4)
    run_id = submit(spec, launch=False)
    assert main(layout.run_path(run_id)) == 0
    run = store.get_run(run_id)
    assert run.status == "done" and run.baselines["shots"] == 1 and run.baselines["seeds"] == 2
    return run, measured[0]


def scored(picks, sel, shots: int, seeds: int) -> dict:
    result = compare.compare(*fields_from_template(DRAFT), picks, sel, shots, seeds, "random", "en",
                             progress=Progress())[0]
    return result["metrics"].set_index("name").to_dict("index")


def test_the_tune_plots_baselines_are_comparés_scores(finished_run):
    run, (rows, pool) = finished_run
    sel = app.run_selection(run)
    assert rows == state.eval_rows(sel) and pool == state.demonstrations(sel)  # the same rows, the same pool
    few, zero = (next(iter(scored(["draft"], sel, shots, seeds).values())) for shots, seeds in ((1, 2), (0, 1)))
    base = run.baselines
    assert few["acc"] == base["few_shot_acc"] and few["acc_std"] == base["few_shot_acc_std"]
    assert zero["acc"] == base["zero_shot_acc"] and zero["acc_norm"] == base["zero_shot_acc_norm"]
    assert zero["majority"] == base["majority"]


def test_score_in_compare_uses_the_runs_own_rows_whatever_is_loaded(finished_run):
    run, _ = finished_run
    other = data.load_source("demo-reviews-zh", None, "en")  # the visitor has moved on to other data
    picks, _, sel, models = app.pick_runs_for_compare(*fields_from_template(DRAFT), run.run_id, "en")
    assert models["value"] == [run.spec["model"]]  # the run's own base model, whatever is picked now
    assert picks["value"] == [f"hard:{run.run_id}", f"run:{run.run_id}"]  # the run's own hard prompt beside it
    assert sel["source"] != other["source"] and sel["eval_size"] == 12
    parts = load_parts(run.spec)
    assert state.eval_rows(sel) == evaluation_rows(parts.eval_rows, parts.config.eval_size)  # the run's rows
    soft = scored(picks["value"], sel, shots=0, seeds=1)
    name = next(n for n in soft if run.run_id in n and "+" in n)
    assert soft[name]["acc"] == run.best["acc"]  # its best evaluation, re-scored by Compare
    assert soft[f"{run.template} [{run.run_id}]"]["acc"] == run.baselines["zero_shot_acc"]  # the plot's line


# ---- prompts x models --------------------------------------------------------------------------------------------

THREE = ["tpl:demo-reviews-sentiment", "tpl:demo-reviews-recommend", "tpl:demo-reviews-good-bad"]


@pytest.fixture()
def two_models(tiny_model_dir, tiny_t5_dir, monkeypatch, tmp_path):
    """The app on the tiny Llama, with the tiny T5 beside it (a local folder); the demo task, 12 rows."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    state.configure(model_id=str(tiny_model_dir))
    sel = data.change_splits("train", "validation", 12, data.load_source("demo-reviews", None, "en"), "en")
    yield [str(tiny_model_dir), str(tiny_t5_dir)], sel
    state.configure()


def test_the_grid_of_prompts_x_models_is_what_promptlab_score_says(two_models):
    """Three templates x two models (decoder-only and encoder-decoder), 1-shot over 2 seeds: each pair's figures
    in Compare are exactly `promptlab score --model A --model B` on the same rows, shots and seeds."""
    import json
    import subprocess
    import sys

    models, sel = two_models
    out = compare.compare(*fields_from_template(DRAFT), THREE, sel, 1, 2, "random", "en", models, progress=Progress())
    result, grid = out[0], out[11]
    metrics = result["metrics"].set_index(["name", "model"])
    labels = [state.model_label(m) for m in models]
    assert len(metrics) == 6 and list(dict.fromkeys(result["metrics"]["model"])) == labels
    for pick in THREE:
        name = pick.partition(":")[2]
        proc = subprocess.run([sys.executable, "-m", "promptlab.cli", "score", "--template", name, "--data",
                               "demo-reviews", "--split", sel["eval"], "--limit", "12", "--shots", "1", "--seeds",
                               "2", "--model", models[0], "--model", models[1], "--json"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        for label, cli in zip(labels, json.loads(proc.stdout)):
            app_row = metrics.loc[(name, label)]
            for metric, value in cli["metrics"].items():
                assert app_row[metric] == value, (name, label, metric)
    shown = grid["value"]
    assert grid["visible"] and len(shown) == 3 and list(shown.columns[1:]) == labels
    bars = out[2]  # grouped by model: one trace per prompt, the models along the axis
    assert [trace.name for trace in bars.data if trace.type == "bar"] == [p.partition(":")[2] for p in THREE]
    assert [str(x) for x in bars.data[0].x] == labels


def test_per_row_disagreements_across_models(two_models):
    models, sel = two_models
    result = compare.compare(*fields_from_template(DRAFT), THREE[:2], sel, 0, 1, "random", "en", models,
                             progress=Progress())[0]
    per_row = result["examples"]
    for _, row in per_row.iterrows():  # a row where models disagree: for some prompt the two models answer apart
        differ = any(row[f"{p.partition(':')[2]} · {state.model_label(models[0])}"].split()[0] !=
                     row[f"{p.partition(':')[2]} · {state.model_label(models[1])}"].split()[0] for p in THREE[:2])
        assert row["models_agree"] is not differ
    shown = compare.filter_examples(result, False, "en", True)
    assert len(shown) == (~per_row["models_agree"]).sum() and set(shown["models agree"]) <= {"✗"}


def test_a_run_is_scored_on_its_own_model_whatever_models_are_picked(finished_run, tiny_t5_dir):
    run, _ = finished_run
    sel = app.run_selection(run)
    out = compare.compare(*fields_from_template(DRAFT), ["draft", f"run:{run.run_id}"], sel, 0, 1, "random", "en",
                          [str(tiny_t5_dir)], progress=Progress())
    metrics = out[0]["metrics"]
    soft = metrics[metrics["name"].str.contains(run.run_id)]
    assert list(soft["model"]) == [state.model_label(run.spec["model"])] and soft["acc"].iloc[0] == run.best["acc"]
    assert list(metrics[~metrics["name"].str.contains(run.run_id)]["model"]) == [state.model_label(str(tiny_t5_dir))]


def test_a_prompt_the_models_family_cannot_serve_fails_alone_named(two_models, tiny_bert_dir):
    """A cloze template is scored on the masked LM and refused, by name, on the causal one; the grid keeps both."""
    from promptlab.prompts.values import Template

    models, sel = two_models
    cloze = Template("cloze", "{{ text }} It was {{ mask }}.", '{{ {"negative": "bad", "positive": "good"}[label] }}',
                     ("bad", "good"))
    out = compare.compare(*fields_from_template(cloze), ["draft", THREE[0]], sel, 0, 1, "random", "en",
                          [models[0], str(tiny_bert_dir)], progress=Progress())
    metrics, failures = out[0]["metrics"], out[9]
    pairs = set(zip(metrics["name"], metrics["model"]))
    bert, llama = state.model_label(str(tiny_bert_dir)), state.model_label(models[0])
    assert ("cloze (draft)", bert) in pairs and ("demo-reviews-sentiment", llama) in pairs
    assert f"cloze \\(draft\\) · {llama}" in failures.replace("\\-", "-") and "needs a masked LM" in failures


def test_a_model_that_cannot_be_used_fails_once_by_name(two_models, tmp_path):
    models, sel = two_models
    (tmp_path / "not-a-model").mkdir()
    out = compare.compare(*fields_from_template(DRAFT), THREE[:2], sel, 0, 1, "random", "en",
                          [models[0], str(tmp_path / "not-a-model")], progress=Progress())
    assert len(out[0]["metrics"]) == 2 and "1 prompt(s) or model(s) could not be scored" in out[9]
    assert out[9].count("config\\.json is missing") == 1 and "**not\\-a\\-model**" in out[9]


# ---- which seed, and is it real ----------------------------------------------------------------------------------

def test_each_table_says_which_shots_and_seed_it_shows_and_the_query_row_is_shown(two_models):
    models, sel = two_models
    out = compare.compare(*fields_from_template(DRAFT), THREE[:2], sel, 2, 3, "random", "en", models[:1],
                          progress=Progress())
    result, confusion, examples, note, significance = out[0], out[3], out[4], out[10], out[12]
    assert "2-shot" in note and "seeds 0–2" in note and "show seed 0" in note
    assert "(2-shot, seed 0)" in confusion.layout.title.text
    assert any("(2-shot, seed 0)" in column for column in significance.columns)
    rows = state.eval_rows(sel)  # the query rows (not a demonstration): every text field, not the label
    assert list(examples["input"]) == [f"text: {r['text']} · product: {r['product']}" for r in rows]
    assert "种子 0–2" in compare.rerender(result, False, "zh", False)[4]


def test_mcnemar_exact_p_values():
    from promptlab.scoring.compare import mcnemar_p

    assert mcnemar_p([True] * 10, [False] * 10) == pytest.approx(2 / 1024)
    assert mcnemar_p([True, True, True, False], [False, False, False, True]) == pytest.approx(0.625)  # 3 vs 1
    assert mcnemar_p([True, False], [True, False]) == 1.0  # no row tells them apart


def test_the_bootstrap_interval_is_a_paired_bootstrap():
    """The multinomial shortcut draws the same distribution as resampling rows: its interval matches a direct
    resampling's, and a difference seen on every row has a zero-width interval."""
    import numpy as np

    from promptlab.scoring.compare import bootstrap_interval

    rng = np.random.default_rng(1)
    a, b = rng.random(40) < 0.7, rng.random(40) < 0.5
    low, high = bootstrap_interval(a, b, resamples=20000)
    idx = rng.integers(0, 40, size=(20000, 40))
    direct = np.percentile(a[idx].mean(1) - b[idx].mean(1), [2.5, 97.5])
    assert low == pytest.approx(direct[0], abs=0.03) and high == pytest.approx(direct[1], abs=0.03)
    assert low < a.mean() - b.mean() < high
    assert bootstrap_interval(np.ones(10, bool), np.zeros(10, bool)) == (1.0, 1.0)


def test_every_prompt_is_tested_against_the_best_on_the_same_rows(two_models):
    """The reference is the best prompt; each other one's p-value is McNemar's on the rows both answered."""
    from promptlab.scoring.compare import mcnemar_p

    models, sel = two_models
    out = compare.compare(*fields_from_template(DRAFT), THREE, sel, 0, 1, "random", "en", models[:1],
                          progress=Progress())
    tests, per_row = out[0]["significance"].set_index("name"), out[0]["examples"]
    best = tests.index[tests["reference"]][0]
    assert tests.loc[best, "metric"] == tests["metric"].max()
    right = {name: [cell.endswith("✓") for cell in per_row[name]] for name in tests.index}
    for name in tests.index.drop(best):
        assert tests.loc[name, "p_value"] == pytest.approx(mcnemar_p(right[name], right[best]))
        assert tests.loc[name, "ci_low"] <= tests.loc[name, "diff"] <= tests.loc[name, "ci_high"]
    assert "best (reference)" in set(out[12]["a real difference?"])


# ---- the report --------------------------------------------------------------------------------------------------

def test_the_html_report_is_self_contained_and_shows_outside_text_as_text(two_models):
    from html.parser import HTMLParser

    from promptlab.prompts.values import Template

    models, sel = two_models
    evil = Template("<img src=x onerror=alert(1)>", "Review: {{ text }}\nSentiment:", "{{ label }}",
                    ("negative", "positive"), description="</script><script>alert(2)</script>")
    out = compare.compare(*fields_from_template(evil), ["draft", THREE[0]], sel, 0, 1, "random", "en", models,
                          progress=Progress())
    with open(out[13], encoding="utf-8") as f:
        page = f.read()

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.scripts = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "script":
                self.scripts.append(dict(attrs))

    parser = Tags()
    parser.feed(page)
    assert "img" not in parser.tags and all("src" not in attrs for attrs in parser.scripts)
    assert "<link" not in page  # no outside stylesheet: it opens offline
    assert len(parser.scripts) >= 3  # plotly.js itself, inline, and one per figure
    assert "alert(2)</script>" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    for text in ("PromptLab comparison", "demo-reviews", "Prompts × models", "Is the difference real?",
                 *(state.model_label(m) for m in models), "encoder-decoder (seq2seq LM)", "Zero-shot"):
        assert text in page, text
