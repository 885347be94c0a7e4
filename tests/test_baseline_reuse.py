"""Baselines measured once and reused across runs (a 20-step job used to spend 9.5 of its 26 minutes measuring
them again), and the duration a run is estimated to take before it is launched."""

from __future__ import annotations

import json

import pytest
from helpers import TEMPLATE, make_spec, write_task

from promptlab.prompts.values import Example
from promptlab.runs import layout, store
from promptlab.tuning import baseline_cache, estimate
from promptlab.tuning.config import preset
from promptlab.tuning.spec import load_parts, prepare_spec, submit
from promptlab.tuning.worker import main


def figures(baselines: dict) -> dict:
    """The measured numbers of a baselines dict (not how they came to the run)."""
    return {k: v for k, v in baselines.items() if k not in ("reused", "key", "measured_at", "templates", "seconds")}


def test_a_second_run_from_the_same_template_has_the_baselines_at_once(task, runs_dir, tiny_model_dir):
    first = submit(make_spec(task, tiny_model_dir, max_steps=2), runs_dir, launch=False)
    assert not (runs_dir / first / "baselines.json").exists()  # nothing measured yet
    assert main(layout.run_path(first, runs_dir)) == 0
    measured = store.get_run(first, runs_dir).baselines
    assert "few_shot_acc" in measured and not measured.get("reused")

    # Other soft-prompt settings, the same template, data, model, shots and seeds: no worker has run for it yet.
    second = submit(make_spec(task, tiny_model_dir, "p_tuning", max_steps=3, lr=0.01), runs_dir, launch=False)
    reused = store.get_run(second, runs_dir).baselines
    assert reused["reused"] is True and figures(reused) == figures(measured)
    assert reused["templates"] == measured["templates"]
    assert main(layout.run_path(second, runs_dir)) == 0
    log = store.read_log(second, runs_dir)
    assert "baselines: reused" in log and "baseline zero-shot" not in log  # not measured again


@pytest.mark.parametrize("change", [
    {"config": {"baseline_shots": 2}}, {"config": {"baseline_seeds": 3}}, {"config": {"eval_size": 6}},
    {"config": {"precision": "bf16"}}, {"template": TEMPLATE.replace("Sentiment:", "Feeling:")},
    {"eval_split": "train", "train_split": "validation"}])
def test_the_baselines_key_holds_everything_that_decides_them(task, tiny_model_dir, change):
    spec = make_spec(task, tiny_model_dir)
    changed = {**spec, **{k: v for k, v in change.items() if k != "config"},
               "config": {**spec["config"], **change.get("config", {})}}
    keys = [baseline_cache.baseline_key(load_parts(s), s) for s in map(prepare_spec, (spec, changed))]
    assert keys[0] != keys[1]


def test_a_renamed_template_or_other_soft_prompt_settings_keep_the_key(task, tiny_model_dir):
    spec = prepare_spec(make_spec(task, tiny_model_dir))
    renamed = prepare_spec({**make_spec(task, tiny_model_dir, "lora", max_steps=9, lr=0.2, seed=3),
                            "template": TEMPLATE.replace("toy-sentiment", "my copy")})
    assert baseline_cache.baseline_key(load_parts(spec), spec) == baseline_cache.baseline_key(load_parts(renamed),
                                                                                              renamed)


def test_data_with_the_same_path_but_other_rows_is_measured_again(tmp_path, tiny_model_dir):
    task = write_task(tmp_path / "data")
    spec = prepare_spec(make_spec(task, tiny_model_dir))
    before = baseline_cache.baseline_key(load_parts(spec), spec)
    write_task(tmp_path / "data", n_val=17)  # the file was edited in place
    assert baseline_cache.baseline_key(load_parts(spec), spec) != before


def test_the_cache_is_bounded_and_never_written_through_a_link(tmp_path, monkeypatch):
    monkeypatch.setattr(baseline_cache, "MAX_ENTRIES", 2)
    for key in ("a", "b", "c"):
        baseline_cache.remember_baselines(tmp_path, key, {"metric": "acc", "templates": {}})
    assert len(list((tmp_path / ".baselines").glob("*.json"))) == 2
    assert baseline_cache.cached_baselines(tmp_path, "c")["key"] == "c"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".baselines").symlink_to(elsewhere)
    baseline_cache.remember_baselines(tmp_path / "linked", "d", {"metric": "acc"})
    assert not list(elsewhere.iterdir())


# ---- the duration estimate ----------------------------------------------------------------------------------------

EXAMPLE = Example("Review: good\nSentiment:", "positive", ("negative", "positive"), 1)


def test_work_counts_the_characters_a_run_reads():
    assert estimate.example_chars(EXAMPLE) == len(EXAMPLE.prompt) + len(" negative") + len(" positive")
    assert estimate.example_chars(EXAMPLE, "lm") == len(EXAMPLE.prompt) + len(" positive")
    config = preset("test", max_steps=10, batch_size=4, eval_every=5, baseline_shots=2, baseline_seeds=3)
    per_row = estimate.example_chars(EXAMPLE)
    done = estimate.work(config, total_steps=10, train_examples=[EXAMPLE], eval_examples=[EXAMPLE], eval_size=8,
                         mode="rank", baselines_reused=False)
    assert done.train_chars == 10 * 4 * per_row
    assert done.eval_chars == 3 * 8 * per_row  # steps 0, 5 and 10
    assert done.baseline_chars == 8 * per_row * (1 + 3 * 5)  # zero-shot, then 3 seeds of 2 shots at 1 + 2 x 2
    reused = estimate.work(config, total_steps=10, train_examples=[EXAMPLE], eval_examples=[EXAMPLE], eval_size=8,
                           mode="rank", baselines_reused=True)
    assert reused.baseline_chars == 0
    assert estimate.tokens_of(300, "abc") == 100 and estimate.tokens_of(300, "好好好") == 300


def test_the_estimate_uses_this_machines_speed_once_a_run_measured_it(task, runs_dir, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert estimate.parameter_count(str(tiny_model_dir)) == sum(p.numel() for p in model.parameters())
    amount = estimate.Work(train_chars=1e6, eval_chars=1e5, baseline_chars=0, train_tokens=3e5, eval_tokens=3e4)
    before = estimate.estimate(amount, str(tiny_model_dir), "cpu", runs_dir)
    assert before.basis == "formula" and before.seconds >= estimate.FORMULA_LOAD_SECONDS
    assert estimate.estimate(amount, "no/such-model-here", "cpu", runs_dir).basis == "unknown"

    run_id = submit(make_spec(task, tiny_model_dir, max_steps=4), runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0
    after = estimate.estimate(amount, str(tiny_model_dir), "cpu", runs_dir)
    assert after.basis == "measured" and after.speed["run"] == run_id
    speed = after.speed
    assert after.train_seconds == pytest.approx(1e6 / speed["train_chars_per_s"])
    assert after.eval_seconds == pytest.approx(1e5 / speed["eval_chars_per_s"])
    assert estimate.estimate(amount, str(tiny_model_dir), "cuda", runs_dir).basis == "formula"  # another device
    assert json.loads(next((runs_dir / ".speed").glob("*.json")).read_text())["model"] == str(tiny_model_dir)


def test_a_loaded_datasets_pool_is_hashed_once_and_forgotten_with_it(tmp_path, monkeypatch):
    """The Tune form estimates at every change: a large train split must not be hashed again each time, and no
    dataset may be kept alive for it."""
    import gc

    from promptlab.data import sampling
    from promptlab.data.datasets import load_dataset

    calls = []
    real = sampling.demonstration_pool
    monkeypatch.setattr(sampling, "demonstration_pool", lambda *args: calls.append(1) or real(*args))
    dataset = load_dataset(str(write_task(tmp_path / "data")))
    first = baseline_cache._pool_digest(dataset, "train")
    assert baseline_cache._pool_digest(dataset, "train") == first and len(calls) == 1
    gone = id(dataset)
    del dataset
    gc.collect()
    assert not [key for key in baseline_cache._pool_digests if key[0] == gone]
