"""Reliability of tuning jobs, with the worker as a real subprocess on a tiny random Llama: SIGKILL and exact
resume, NaN losses, invalid configs refused before launch, queueing, cancel within one step, restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from helpers import last_step, make_spec, wait_for_end, wait_until, write_task

from promptlab.runs import layout, queue, store
from promptlab.tuning.checkpoint import list_checkpoints
from promptlab.tuning.spec import submit

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes


def _final_weights(run_id, runs_dir):
    newest = list_checkpoints(layout.run_path(run_id, runs_dir) / "checkpoints")[-1]
    return newest.name, torch.load(newest / "trainable.pt")


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(task, tmp_path, tiny_model_dir):
    spec = make_spec(task, tiny_model_dir, max_steps=60, checkpoint_every=4, eval_every=25, keep_checkpoints=2)
    ref_dir, killed_dir = tmp_path / "ref-runs", tmp_path / "killed-runs"  # two folders: two queues, in parallel
    ref = submit(spec, ref_dir)
    run = submit(spec, killed_dir)
    wait_until(lambda: last_step(run, killed_dir) >= 9, 120, interval=0.02, what="step 9")
    pid = json.loads((layout.run_path(run, killed_dir) / "worker.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    info = wait_until(lambda: (i := store.get_run(run, killed_dir)).status not in queue.ACTIVE and i, 30,
                      what="the killed run to be noticed")
    assert info.status == "interrupted"
    assert info.step < 60, "the kill must land mid-run for this test to mean anything"
    name, weights = _final_weights(run, killed_dir)  # the newest checkpoint is whole and loads
    assert int(name.split("-")[1]) >= 8 and weights

    assert store.resume(run, killed_dir).status in queue.ACTIVE
    resumed = wait_for_end(run, killed_dir)
    reference = wait_for_end(ref, ref_dir)
    assert (resumed.status, resumed.step) == (reference.status, reference.step) == ("done", 60)

    ref_name, ref_weights = _final_weights(ref, ref_dir)
    got_name, got_weights = _final_weights(run, killed_dir)
    assert ref_name == got_name == "step-000060"
    for key in ref_weights:
        torch.testing.assert_close(got_weights[key], ref_weights[key], rtol=1e-5, atol=1e-6)
    # the curves are the same too, and the resumed run's metrics have no duplicated steps
    evals = lambda r, d: [(m["step"], m["acc"], round(m["val_loss"], 5))  # noqa: E731
                          for m in store.read_metrics(r, d) if m.get("split") == "val"]
    assert evals(run, killed_dir) == evals(ref, ref_dir)
    train_steps = [m["step"] for m in store.read_metrics(run, killed_dir) if "loss" in m]
    assert train_steps == list(range(1, 61))
    ref_losses = [round(m["loss"], 5) for m in store.read_metrics(ref, ref_dir) if "loss" in m]
    assert [round(m["loss"], 5) for m in store.read_metrics(run, killed_dir) if "loss" in m] == ref_losses


@pytest.fixture()
def nan_model_dir(tmp_path, tiny_model_dir):
    """The tiny model, untied, with a NaN embedding for one token that only one training row contains."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_model_dir, tie_word_embeddings=False)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Review: 这部电影很好看\nSentiment:"
    poison = sorted(set(tokenizer.encode(text, add_special_tokens=False)) -
                    set(tokenizer.encode("Review: a great movie\nSentiment:", add_special_tokens=False)))
    assert poison
    with torch.no_grad():
        model.get_output_embeddings().weight.copy_(model.get_input_embeddings().weight)
        model.get_input_embeddings().weight[poison] = float("nan")
    out = tmp_path / "nan-model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_nan_loss_stops_the_run_with_a_clear_message(tmp_path, runs_dir, nan_model_dir):
    data = write_task(tmp_path / "nan-data", extra_train=[{"sentence": "这部电影很好看", "label": "positive"}])
    spec = make_spec(data, nan_model_dir, max_steps=40, baseline_shots=0)
    run = submit(spec, runs_dir)
    info = wait_for_end(run, runs_dir)
    assert info.status == "failed"
    assert "the loss is nan" in info.error and "Lower the learning rate" in info.error
    assert info.step < 40
    assert info.best, "the step-0 evaluation (before the bad row) still counts"


@pytest.mark.parametrize("change, message", [
    ({"num_virtual_tokens": 0}, "num_virtual_tokens must be at least 1"),
    ({"lr": -0.1}, "lr must be a positive number"),
    ({"batch_size": 500}, "batch_size 500 is larger than the 64 training examples"),
    ({"method": "prefix_tuning", "gradient_checkpointing": True}, "prefix_tuning cannot use gradient_checkpointing"),
])
def test_invalid_configs_are_refused_before_anything_is_launched(task, runs_dir, tiny_model_dir, change, message):
    spec = make_spec(task, tiny_model_dir)
    spec["config"] = {**spec["config"], **change}
    with pytest.raises(ValueError, match=message):
        submit(spec, runs_dir)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_second_job_queues_cancel_acts_within_one_step_and_the_queue_moves_on(task, runs_dir, tiny_model_dir):
    long = submit(make_spec(task, tiny_model_dir, max_steps=100000, eval_every=0, checkpoint_every=0), runs_dir)
    short = submit(make_spec(task, tiny_model_dir, max_steps=3), runs_dir)
    dropped = submit(make_spec(task, tiny_model_dir, max_steps=3), runs_dir)
    wait_until(lambda: last_step(long, runs_dir) >= 3, 120, what="the first job to train")
    assert store.get_run(short, runs_dir).status == "queued"  # waits for the device slot instead of failing
    store.cancel(dropped, runs_dir)  # cancelling a queued job ends it without training
    assert wait_for_end(dropped, runs_dir, timeout=60).status == "cancelled"
    assert store.read_metrics(dropped, runs_dir) == []
    step_at_cancel = last_step(long, runs_dir)
    store.cancel(long, runs_dir)
    info = wait_for_end(long, runs_dir, timeout=60)
    assert info.status == "cancelled"
    assert last_step(long, runs_dir) <= step_at_cancel + 2  # the step in flight, at most one more
    assert wait_for_end(short, runs_dir).status == "done"
    assert store.get_run(long, runs_dir).status == "cancelled"

    # a new process (an app or CLI restart) lists every run with its full curves
    out = subprocess.run([sys.executable, "-m", "promptlab.cli", "runs", "--runs-dir", str(runs_dir), "list",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [r["run_id"] for r in listed] == [dropped, short, long]
    shown = subprocess.run([sys.executable, "-m", "promptlab.cli", "runs", "--runs-dir", str(runs_dir), "show",
                            short, "--json"], capture_output=True, text=True, timeout=120)
    metrics = json.loads(shown.stdout)["metrics"]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3]
    assert [m["step"] for m in metrics if m.get("split") == "val"] == [0, 2, 3]
