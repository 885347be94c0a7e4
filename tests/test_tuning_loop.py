"""The training loop's parts on a tiny random Llama (in-process): inits, loss, schedule, data order, and the
adapter a run leaves behind, which must load with PeftModel.from_pretrained and give the run's own scores."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import make_spec

from promptlab.models import packing
from promptlab.models.lm import LM
from promptlab.models.requests import Request
from promptlab.prompts.values import Example
from promptlab.runs import layout, store
from promptlab.scoring.evaluate import evaluate
from promptlab.tuning import loop
from promptlab.tuning.config import TuneConfig, preset
from promptlab.tuning.methods import (
    frequent_token_ids,
    init_token_ids,
    nearest_tokens,
    template_init_text,
    virtual_token_vectors,
    wrap,
)
from promptlab.tuning.spec import submit


@pytest.fixture()
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load():
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa")
        return model, AutoTokenizer.from_pretrained(tiny_model_dir)

    return load


EXAMPLES = [Example("Review: a great movie\nSentiment:", "positive", ("negative", "positive"), 1),
            Example("Review: a bad plot\nSentiment:", "negative", ("negative", "positive"), 0)]


def test_lr_schedule_warms_up_then_decays():
    config = TuneConfig(warmup_steps=10, max_steps=100, schedule="linear")
    f = loop.lr_schedule(config, 100)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(99) > 0
    cosine = loop.lr_schedule(config.replace(schedule="cosine"), 100)
    assert cosine(55) == pytest.approx(0.5) and cosine(99) < 0.01
    assert loop.lr_schedule(config.replace(schedule="constant"), 100)(90) == 1.0
    assert loop.lr_schedule(config, 20)(0) == pytest.approx(0.5)  # warmup clipped to a tenth of a short run


def test_epoch_batches_are_full_deterministic_and_grouped_by_length():
    lengths = [(i * 37) % 101 for i in range(1000)]
    first = loop.epoch_batches(lengths, 16, seed=3, epoch=0)
    assert first == loop.epoch_batches(lengths, 16, seed=3, epoch=0)
    assert first != loop.epoch_batches(lengths, 16, seed=3, epoch=1)
    assert all(len(b) == 16 for b in first) and len(first) == 1000 // 16
    assert len({i for b in first for i in b}) == 62 * 16  # no example twice in an epoch
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 15  # random batches would spread over ~90


def test_choice_loss_is_the_cross_entropy_of_the_scorers_probabilities(tiny):
    model, tokenizer = tiny()
    model = wrap(model, tokenizer, preset("test", "prompt_tuning", init="random"))
    requests, owners = loop.objective_requests(EXAMPLES, "choices")
    encoded = packing.encode(tokenizer, requests)
    sums, _ = packing.logprobs(model, encoded, list(range(len(requests))))
    loss = loop.choice_cross_entropy(sums, owners, EXAMPLES)
    loss.backward()
    assert model.prompt_encoder["default"].embedding.weight.grad.abs().sum() > 0
    probs = evaluate(LM.from_model(model, tokenizer), EXAMPLES).probs
    expected = -math.log(probs[0][1]) - math.log(probs[1][0])
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_init_token_choices(tiny):
    _, tokenizer = tiny()
    config = preset("test", "prompt_tuning", num_virtual_tokens=6)
    ids = init_token_ids(tokenizer, config.replace(init="template"), init_text="Classify the review.")
    text_ids = tokenizer.encode("Classify the review.", add_special_tokens=False)
    assert ids == (text_ids * 6)[:6]
    labels = init_token_ids(tokenizer, config.replace(init="class_labels"), choices=("negative", "positive"))
    label_ids = tokenizer.encode(" negative", add_special_tokens=False) + tokenizer.encode(" positive",
                                                                                           add_special_tokens=False)
    assert labels[:len(label_ids)] == label_ids and len(labels) == 6
    frequent = frequent_token_ids(tokenizer)
    sampled = init_token_ids(tokenizer, config.replace(init="sample_vocab"))
    assert set(sampled) <= set(frequent) and sampled == init_token_ids(tokenizer, config.replace(init="sample_vocab"))
    assert not set(frequent) & set(tokenizer.all_special_ids)
    assert init_token_ids(tokenizer, config.replace(init="random")) is None
    with pytest.raises(ValueError, match='init "class_labels" needs answer choices'):
        init_token_ids(tokenizer, config.replace(init="class_labels"), choices=())


def test_template_init_text_prefers_the_instruction():
    from promptlab.prompts.values import Template

    assert template_init_text(Template("t", "Review: {{ x }}\nSentiment:", instruction="Rate it.")) == "Rate it."
    assert template_init_text(Template("t", "Review: {{ x }}\nSentiment:")) == "Review: Sentiment:"


def test_template_init_makes_the_soft_prompt_the_text_itself(tiny):
    """Prompt tuning and prefix tuning started from a text score exactly like that text written before the prompt."""
    text = "Classify the review."
    context, continuation = "Review: a great movie\nSentiment:", " positive"
    base, tokenizer = tiny()
    text_ids = tokenizer.encode(text, add_special_tokens=False)
    plain = packing.encode(tokenizer, [Request(context, continuation)])[0]
    with_text = packing.Encoded(tuple(text_ids) + plain.context, plain.continuation)
    with torch.no_grad():
        expected = packing.logprobs(base, [with_text], [0])[0]
    for method in ("prompt_tuning", "prefix_tuning"):
        model, _ = tiny()
        config = preset("test", method, init="template", num_virtual_tokens=len(text_ids))
        model = wrap(model, tokenizer, config, init_text=text)
        with torch.no_grad():
            got = packing.logprobs(model, [plain], [0])[0]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        if method == "prompt_tuning":
            nearest = nearest_tokens(model, tokenizer, k=1)
            assert [n[0] for n in nearest] == [tokenizer.decode([i]) for i in text_ids]


def test_p_tuning_and_lora_wrap_and_train(tiny):
    for method, extra in (("p_tuning", {"encoder": "lstm"}), ("p_tuning", {}), ("lora", {})):
        model, tokenizer = tiny()
        config = preset("test", method, **extra) if method == "lora" else preset("test", method, init="class_labels",
                                                                               **extra)
        model = wrap(model, tokenizer, config, choices=("negative", "positive"))
        requests, owners = loop.objective_requests(EXAMPLES, "choices")
        encoded = packing.encode(tokenizer, requests)
        loop.choice_cross_entropy(packing.logprobs(model, encoded, [0, 1, 2, 3])[0], owners, EXAMPLES).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)
        assert (virtual_token_vectors(model) is None) == (method == "lora")


@pytest.mark.parametrize("method, extra", [("prompt_tuning", {}), ("p_tuning", {}), ("prefix_tuning", {}),
                                           ("lora", {}), ("prompt_tuning", {"objective": "lm"})])
def test_the_adapter_loads_with_peft_and_gives_the_runs_scores(task, runs_dir, tiny_model_dir, method, extra):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptlab.data.sampling import sample_rows
    from promptlab.scoring.experiment import build_examples
    from promptlab.tuning.spec import load_parts
    from promptlab.tuning.worker import main

    spec = make_spec(task, tiny_model_dir, method, max_steps=6, eval_every=3, baseline_shots=0, lr=0.05, **extra)
    run_id = submit(spec, runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0  # the worker, in this process
    info = store.get_run(run_id, runs_dir)
    assert info.status == "done" and info.step == 6 and info.best

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa")
    model = PeftModel.from_pretrained(base, store.adapter_dir(run_id, runs_dir)).eval()
    lm = LM.from_model(model, AutoTokenizer.from_pretrained(tiny_model_dir))
    saved = layout.read_json(layout.run_path(run_id, runs_dir) / "spec.json")
    parts = load_parts(saved)
    val = build_examples(parts.template, sample_rows(parts.eval_rows, parts.config.eval_size, seed=0))
    result = evaluate(lm, val)
    assert result.metrics["acc"] == info.best["acc"]
    if info.spec["config"]["objective"] == "auto":
        val_loss = -sum(math.log(p[e.gold]) for p, e in zip(result.probs, val)) / len(val)
        assert val_loss == pytest.approx(info.best["val_loss"], rel=1e-5)
    evals = [m for m in store.read_metrics(run_id, runs_dir) if m.get("split") == "val"]
    assert [m["step"] for m in evals] == [0, 3, 6]
    probes = [m for m in store.read_metrics(run_id, runs_dir) if m.get("kind") == "nearest_tokens"]
    if method == "lora":
        assert not probes  # no virtual tokens
    else:
        assert probes[0]["drift"] == [0.0] * 4 and max(probes[-1]["drift"]) > 0
        # prefix tuning's virtual tokens are key/values: they drift, but have no nearest words
        assert (probes[-1]["tokens"] is None) == (method == "prefix_tuning")
        assert probes[-1]["tokens"] is None or len(probes[-1]["tokens"]) == 4


@pytest.mark.parametrize("model", ["tiny_model_dir", "tiny_t5_dir"])  # a decoder-only LM and an encoder-decoder
def test_generation_templates_train_on_target_tokens_and_report_generation_metrics(task, runs_dir, model, request):
    from promptlab.tuning.worker import main

    spec = make_spec(task, request.getfixturevalue(model), max_steps=2, baseline_shots=1)
    spec["template"] = 'name: toy-gen\nprompt: "Review: {{ sentence }}\\nSentiment:"\ntarget: "{{ label }}"\n'
    run_id = submit(spec, runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0
    info = store.get_run(run_id, runs_dir)
    assert info.status == "done", info.error
    evals = [m for m in store.read_metrics(run_id, runs_dir) if m.get("split") == "val"]
    assert {"exact_match", "rouge_l", "val_loss"} <= set(evals[-1]) and "acc" not in evals[-1]
    assert "zero_shot_exact_match" in info.baselines and "few_shot_exact_match" in info.baselines
    with pytest.raises(ValueError, match='objective "choices" needs answer choices'):
        submit({**spec, "config": {**spec["config"], "objective": "choices"}}, runs_dir, launch=False)


class _Recorder:
    """Stands in for a Run folder: collects metric lines."""

    adapter = None

    def __init__(self):
        self.lines = []

    def metric(self, **fields):
        self.lines.append(fields)

    def log(self, message):
        pass


def test_early_stopping_counts_evaluations_without_improvement(monkeypatch):
    scripted = iter([0.5, 0.7, 0.6, 0.7, 0.65])
    monkeypatch.setattr(loop, "evaluate", lambda s, step: {"step": step, "split": "val", "acc": next(scripted)})
    saved = []
    monkeypatch.setattr(loop.ckpt, "save_adapter", lambda model, target, finish=None: saved.append(True))
    setup = loop.Setup(run=_Recorder(), config=TuneConfig(early_stopping_patience=2), model=None, tokenizer=None,
                       train=[], val=[], mode="rank", accelerator=None, total_steps=10)
    stops = [loop.evaluate_and_track(setup, step) for step in range(5)]
    assert stops == [False, False, False, True, True]  # 0.6, then 0.7 (a tie) do not beat 0.7: two strikes
    assert setup.state.best["acc"] == 0.7 and setup.state.best["step"] == 1
    assert len(saved) == 2  # the adapter is saved at each new best only
