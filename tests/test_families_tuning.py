"""Soft prompts on the other two families, through the app's worker: a tiny random T5 (encoder-decoder) and a tiny
random BERT (masked LM, cloze template). Every method trains and evaluates with the scorer's numbers, and the adapter
a run leaves behind loads with plain peft on the model class its card names and gives the run's own scores; a real
worker subprocess is killed and resumed to the same final step, and its exported bundle scores the same."""

from __future__ import annotations

import json
import math
import os
import signal
import zipfile

import pytest
import torch
from helpers import TEMPLATE, last_step, make_spec, wait_for_end, wait_until

from promptlab.models.lm import LM
from promptlab.runs import layout, queue, store
from promptlab.runs.export import export_bundle
from promptlab.scoring.evaluate import evaluate
from promptlab.tuning.checkpoint import list_checkpoints
from promptlab.tuning.spec import submit
from promptlab.tuning.worker import main

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

CLOZE = """\
name: toy-cloze
instruction: Classify the review.
prompt: "{{ sentence }} It was {{ mask }}."
target: '{{ {"negative": "terrible", "positive": "great"}[label] }}'
answer_choices: [terrible, great]
"""
METHODS = ("prompt_tuning", "p_tuning", "prefix_tuning", "lora")


@pytest.fixture(params=["seq2seq", "masked"])
def family(request, tiny_t5_dir, tiny_bert_dir):
    """(family, model folder, template YAML, transformers Auto class name)."""
    if request.param == "seq2seq":
        return "seq2seq", tiny_t5_dir, TEMPLATE, "AutoModelForSeq2SeqLM"
    return "masked", tiny_bert_dir, CLOZE, "AutoModelForMaskedLM"


def spec_for(family, task, method, **config) -> dict:
    _, model_dir, template, _ = family
    return {**make_spec(task, model_dir, method, **config), "template": template}


def plain_peft_lm(model_dir, auto_class: str, adapter) -> LM:
    """The adapter on its base exactly as a user without PromptLab loads it, wrapped for the engine's scorer."""
    import transformers
    from peft import PeftModel

    base = getattr(transformers, auto_class).from_pretrained(model_dir)
    model = PeftModel.from_pretrained(base, adapter).eval()
    return LM.from_model(model, transformers.AutoTokenizer.from_pretrained(model_dir))


def validation_examples(run_id, runs_dir, lm):
    from promptlab.data.sampling import evaluation_rows
    from promptlab.scoring.experiment import build_examples, render_options
    from promptlab.tuning.spec import load_parts

    parts = load_parts(layout.read_json(layout.run_path(run_id, runs_dir) / "spec.json"))
    rows = evaluation_rows(parts.eval_rows, parts.config.eval_size)
    return build_examples(parts.template, rows, **render_options(lm, parts.template))


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_and_its_adapter_loads_with_plain_peft(family, task, runs_dir, method):
    name, model_dir, _, auto_class = family
    init = {} if method == "lora" else {"init": "class_labels" if method == "p_tuning" else "template"}
    spec = spec_for(family, task, method, max_steps=4, eval_every=2, baseline_shots=1, lr=0.05, **init)
    run_id = submit(spec, runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0  # the worker, in this process
    info = store.get_run(run_id, runs_dir)
    assert info.status == "done" and info.step == 4, info.error
    assert {"zero_shot_acc", "few_shot_acc"} <= set(info.baselines)

    adapter_config = json.loads((store.adapter_dir(run_id, runs_dir) / "adapter_config.json").read_text())
    assert adapter_config["task_type"] == {"seq2seq": "SEQ_2_SEQ_LM", "masked": "FEATURE_EXTRACTION"}[name]
    lm = plain_peft_lm(model_dir, auto_class, store.adapter_dir(run_id, runs_dir))
    assert lm.family == name
    val = validation_examples(run_id, runs_dir, lm)
    result = evaluate(lm, val)
    assert result.metrics["acc"] == info.best["acc"]
    val_loss = -sum(math.log(p[e.gold]) for p, e in zip(result.probs, val)) / len(val)
    assert val_loss == pytest.approx(info.best["val_loss"], rel=1e-5)
    probes = [m for m in store.read_metrics(run_id, runs_dir) if m.get("kind") == "nearest_tokens"]
    if method == "lora":
        assert not probes
    else:
        assert probes[0]["drift"] == [0.0] * 4 and max(probes[-1]["drift"]) > 0
        assert (probes[-1]["tokens"] is None) == (method == "prefix_tuning")


def test_template_init_reaches_the_virtual_tokens_of_each_family(tiny_t5_dir, tiny_bert_dir):
    """init "template": prompt tuning starts at the init text's embeddings (nearest tokens are its own tokens)."""
    from transformers import AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from promptlab.tuning.config import preset
    from promptlab.tuning.methods import nearest_tokens, wrap

    for folder, auto in ((tiny_t5_dir, AutoModelForSeq2SeqLM), (tiny_bert_dir, AutoModelForMaskedLM)):
        tokenizer = AutoTokenizer.from_pretrained(folder)
        ids = tokenizer.encode("a great movie", add_special_tokens=False)
        config = preset("test", "prompt_tuning", init="template", num_virtual_tokens=len(ids))
        model = wrap(auto.from_pretrained(folder), tokenizer, config, init_text="a great movie")
        assert [n[0] for n in nearest_tokens(model, tokenizer, k=1)] == [tokenizer.decode([i]) for i in ids]
        prefix = wrap(auto.from_pretrained(folder), tokenizer, preset("test", "prefix_tuning", init="template"),
                      init_text="a great movie")
        assert prefix.prompt_encoder["default"].embedding.weight.abs().sum() > 0
        for init in ("class_labels", "sample_vocab", "random"):
            for method in ("prompt_tuning", "p_tuning", "prefix_tuning"):
                wrap(auto.from_pretrained(folder), tokenizer, preset("test", method, init=init),
                     choices=("terrible", "great"))


def test_frequent_tokens_of_a_wordpiece_vocabulary_are_whole_words(tiny_bert_dir):
    from transformers import AutoTokenizer

    from promptlab.tuning.methods import frequent_token_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    pieces = tokenizer.convert_ids_to_tokens(frequent_token_ids(tokenizer))
    assert pieces and not [p for p in pieces if p.startswith("##") or p.startswith("[")]
    assert "好" in pieces  # a Chinese character is a whole word in BERT's vocabulary


def test_a_template_the_family_cannot_serve_is_refused_before_any_run_exists(task, runs_dir, tiny_bert_dir,
                                                                             tiny_model_dir):
    for model, template, message in ((tiny_bert_dir, TEMPLATE, "masked LM: it scores the answer at a mask slot"),
                                     (tiny_model_dir, CLOZE, "cloze template .* needs a masked LM")):
        with pytest.raises(ValueError, match=message):
            submit({**make_spec(task, model, max_steps=2), "template": template}, runs_dir, launch=False)
    assert store.list_runs(runs_dir) == []


def test_killed_worker_resumes_to_the_same_end_and_the_exported_bundle_scores_the_same(family, task, tmp_path):
    name, model_dir, _, auto_class = family
    spec = spec_for(family, task, "prompt_tuning", max_steps=24, checkpoint_every=2, eval_every=12,
                    baseline_shots=0, lr=0.05)
    ref_dir, killed_dir = tmp_path / "ref-runs", tmp_path / "killed-runs"  # two queues: they run side by side
    ref = submit(spec, ref_dir)
    run = submit(spec, killed_dir)
    wait_until(lambda: last_step(run, killed_dir) >= 5, 180, interval=0.02, what="step 5")
    pid = json.loads((layout.run_path(run, killed_dir) / "worker.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    info = wait_until(lambda: (i := store.get_run(run, killed_dir)).status not in queue.ACTIVE and i, 30,
                      what="the killed run to be noticed")
    assert info.status == "interrupted" and info.step < 24
    store.resume(run, killed_dir)
    resumed, reference = wait_for_end(run, killed_dir), wait_for_end(ref, ref_dir)
    assert (resumed.status, resumed.step) == (reference.status, reference.step) == ("done", 24)
    newest = [list_checkpoints(layout.run_path(r, d) / "checkpoints")[-1] for r, d in ((run, killed_dir),
                                                                                       (ref, ref_dir))]
    assert [p.name for p in newest] == ["step-000024"] * 2
    got, want = (torch.load(p / "trainable.pt") for p in newest)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6)

    bundle = export_bundle(run, tmp_path / "bundle.zip", killed_dir)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp_path / "bundle")
    card = (tmp_path / "bundle" / "README.md").read_text()
    assert f"{auto_class}.from_pretrained" in card
    lm = plain_peft_lm(model_dir, auto_class, tmp_path / "bundle" / "adapter")
    result = evaluate(lm, validation_examples(run, killed_dir, lm))
    assert result.metrics["acc"] == resumed.best["acc"]
