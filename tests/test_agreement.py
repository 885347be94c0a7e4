"""Every number agrees across screens: a tuning run's baselines (the Tune plot's zero- and few-shot lines) are
exactly what Compare reports for the same template, data, rows, shots and seeds, and "Score in Compare" of a run
scores the rows the run was evaluated on, whatever data is loaded when it is clicked."""

from __future__ import annotations

import pytest
from gradio import Progress
from test_tuning_fixtures import TEMPLATE, write_task

from promptlab.data.sampling import evaluation_rows
from promptlab.prompts.files import parse_template
from promptlab.runs import layout, store
from promptlab.tuning import baselines
from promptlab.tuning.spec import load_parts, submit
from promptlab.tuning.worker import main
from promptlab.ui import app, state
from promptlab.ui.editor import fields_from_template
from promptlab.ui.tabs import compare, data, tune

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
    assert picks["value"] == ["draft", f"run:{run.run_id}"]
    assert sel["source"] != other["source"] and sel["eval_size"] == 12
    parts = load_parts(run.spec)
    assert state.eval_rows(sel) == evaluation_rows(parts.eval_rows, parts.config.eval_size)  # the run's rows
    soft = scored(picks["value"], sel, shots=0, seeds=1)
    name = next(n for n in soft if run.run_id in n)
    assert soft[name]["acc"] == run.best["acc"]  # its best evaluation, re-scored by Compare
