"""Tuning the bundled SmolLM2-135M-Instruct on SST-2 through the real job path (slow: minutes on a CPU)."""

from __future__ import annotations

import pytest
from helpers import wait_for_end

from promptlab.prompts.files import dump_template, find_template
from promptlab.runs import store
from promptlab.tuning.config import preset
from promptlab.tuning.spec import submit

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_a_short_run_trains_and_its_adapter_scores_the_same_through_load_lm(method, shared_datasets, tmp_path):
    from promptlab.data.datasets import load_dataset
    from promptlab.data.sampling import sample_rows
    from promptlab.models.lm import load_lm
    from promptlab.scoring.evaluate import evaluate
    from promptlab.scoring.experiment import build_examples

    config = preset("cpu", method, max_steps=6, batch_size=4, eval_every=3, eval_size=32, checkpoint_every=3,
                    baseline_shots=1, baseline_seeds=2, train_size=200)
    template = find_template("sst2-review-sentiment")
    spec = {"template": dump_template(template), "data": str(shared_datasets / "sst2"), "config": config.to_dict()}
    run_id = submit(spec, tmp_path / "runs")
    info = wait_for_end(run_id, tmp_path / "runs", timeout=1200)
    assert info.status == "done", info.error
    assert info.baselines["zero_shot_acc"] > 0.6 and "few_shot_acc_std" in info.baselines
    losses = [m["loss"] for m in store.read_metrics(run_id, tmp_path / "runs") if "loss" in m]
    assert len(losses) == 6 and all(0 < loss < 5 for loss in losses)

    lm = load_lm("smollm2-135m-instruct", adapter=store.adapter_dir(run_id, tmp_path / "runs"), device="cpu")
    rows = sample_rows(load_dataset(str(shared_datasets / "sst2")).rows("validation"), 32, seed=0)
    assert evaluate(lm, build_examples(template, rows)).metrics["acc"] == info.best["acc"]
