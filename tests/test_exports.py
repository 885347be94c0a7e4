"""Exported adapters are portable: a stranger with the zip (and the Hub) loads them with plain PEFT as the card says.

The Hub is a local Hugging Face cache here (HF_HUB_OFFLINE): the tiny model is stored there under a hub id, so the
card's `from_pretrained("<hub id>")` resolves to it exactly as it would on a machine with internet access.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from helpers import hub_cache, make_spec
from test_jobs import _fake_adapter, fake_run

from promptlab.runs import card, export, layout, store
from promptlab.tuning.spec import submit

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

HUB_ID = "promptlab-tests/tiny-llama"
PROBE = "Review: a great movie\nSentiment:"


@pytest.fixture()
def hub(tmp_path, tiny_model_dir, monkeypatch):
    """The tiny model on "the Hub" (a local cache, offline), for this process and the processes it starts."""
    from huggingface_hub import constants

    cache = hub_cache(tmp_path / "hub", tiny_model_dir, HUB_ID)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def card_code(readme: str) -> str:
    """The Python block of a model card."""
    return re.search(r"```python\n(.*?)```", readme, re.S).group(1)


def logits_of(model, tokenizer) -> list[float]:
    import torch

    with torch.no_grad():
        return model(**tokenizer(PROBE, return_tensors="pt")).logits[0, -1].tolist()


def test_an_exported_adapter_loads_from_its_cards_lines_with_the_hub_id(hub, task, tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptlab.tuning.worker import main

    runs_dir = tmp_path / "runs"
    run_id = submit(make_spec(task, HUB_ID, max_steps=4, lr=0.3), runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(export.export_bundle(run_id, tmp_path / "bundle.zip", runs_dir)) as z:
        z.extractall(bundle)

    config = json.loads((bundle / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == HUB_ID  # not the local cache folder it was trained from
    assert config["prompt_tuning_init"] == "TEXT" and config["prompt_tuning_init_text"] == "Classify the review."
    assert config["tokenizer_name_or_path"] == HUB_ID
    readme = (bundle / "README.md").read_text()
    assert (bundle / "adapter" / "README.md").read_text().startswith("# PromptLab soft prompt")  # not PEFT's card
    for fact in (f"`{HUB_ID}` on the Hugging Face Hub", "template: `toy-sentiment`", f"data: `{task}`",
                 "method: prompt tuning, 4 virtual tokens", 'init: the template\'s own text: "Classify the review."',
                 "steps: 4 of 4 (done)", "this adapter:", "zero-shot", "majority class"):
        assert fact in readme, fact
    code = card_code(readme)
    assert f'from_pretrained({HUB_ID!r})' in code and "PeftModel.from_pretrained(base, 'adapter')" in code

    # A stranger runs the card's lines in the unzipped bundle: the hub id is all they have of the base model.
    probe = f"\nimport json\nprint(json.dumps(model(**tokenizer({PROBE!r}, return_tensors='pt')).logits[0, -1]" \
            ".detach().tolist()))\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code + probe], cwd=bundle, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    plain = logits_of(base, tokenizer)
    trained = PeftModel.from_pretrained(base, store.adapter_dir(run_id, runs_dir)).eval()
    assert loaded == pytest.approx(logits_of(trained, tokenizer), abs=1e-5)
    assert loaded != pytest.approx(plain, abs=1e-5)  # the soft prompt is in what was loaded


def test_the_adapter_folder_of_a_run_is_portable_too(hub, task, tmp_path):
    """The run's own adapter/ (what `Download adapter` zips, and what the CLI's users copy) carries the card and
    the hub id from the moment it is written."""
    from promptlab.tuning.worker import main

    runs_dir = tmp_path / "runs"
    run_id = submit(make_spec(task, HUB_ID, "p_tuning", max_steps=2, init="class_labels"), runs_dir, launch=False)
    assert main(layout.run_path(run_id, runs_dir)) == 0
    adapter = store.adapter_dir(run_id, runs_dir)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == HUB_ID
    readme = (adapter / "README.md").read_text()
    assert "P-tuning" in readme and "answer choices' words" in readme
    assert "PeftModel.from_pretrained(base, '.')" in card_code(readme)
    with zipfile.ZipFile(export.export_adapter_zip(run_id, tmp_path / "adapter.zip", runs_dir)) as z:
        assert json.loads(z.read("adapter_config.json"))["base_model_name_or_path"] == HUB_ID
        assert z.read("README.md").decode().startswith("# PromptLab soft prompt")


def test_bundled_models_are_named_by_their_hub_id_and_local_folders_stay_paths(tmp_path):
    assert card.base_reference("smollm2-135m-instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.base_reference("gemma-3-270m") == "google/gemma-3-270m"
    assert card.base_reference("gpt2") == "gpt2"
    assert card.base_reference(str(tmp_path)) == str(tmp_path)
    peft_config = {"peft_type": "PROMPT_TUNING", "base_model_name_or_path": "/root/.cache/promptlab/models/x",
                   "prompt_tuning_init": "RANDOM"}
    text = card.portable_config(peft_config, "smollm2-135m-instruct", init="template", init_text="Classify it.")
    assert text["base_model_name_or_path"] == text["tokenizer_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert text["prompt_tuning_init"] == "TEXT" and text["prompt_tuning_init_text"] == "Classify it."
    other = card.portable_config(peft_config, "smollm2-135m-instruct", init="class_labels", init_text="Classify it.")
    assert other["prompt_tuning_init"] == "RANDOM" and other["prompt_tuning_init_text"] is None


def test_a_run_of_an_older_version_exports_portable_too(tmp_path):
    """Its adapter was saved with a local cache path and PEFT's empty card: the zip has the hub id and our card
    (the init it does not know stays as saved)."""
    run = fake_run(tmp_path, "old", best={"step": 4, "acc": 0.9})
    spec = json.loads((run / "spec.json").read_text())
    (run / "spec.json").write_text(json.dumps({**spec, "model": "smollm2-135m-instruct"}))
    _fake_adapter(run / "adapter")
    (run / "adapter" / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "/home/x/.cache/models/smol"}))
    (run / "adapter" / "README.md").write_text("# Model Card for Model ID\n")
    with zipfile.ZipFile(export.export_bundle("old", tmp_path / "b.zip", tmp_path)) as z:
        config = json.loads(z.read("adapter/adapter_config.json"))
        readme, adapter_readme = z.read("README.md").decode(), z.read("adapter/README.md").decode()
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "GGUF build" in readme and "Model Card for Model ID" not in adapter_readme
    assert 'AutoModelForCausalLM.from_pretrained(\'HuggingFaceTB/SmolLM2-135M-Instruct\')' in card_code(readme)


def test_the_card_says_when_a_run_ended_worse_than_it_started(tmp_path):
    run = fake_run(tmp_path, "r1", best={"step": 0, "acc": 0.75})
    _fake_adapter(run / "adapter")
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in (
        {"step": 0, "split": "val", "acc": 0.75}, {"step": 5, "split": "val", "acc": 0.5})))
    (run / "baselines.json").write_text(json.dumps({"metric": "acc", "n": 8, "zero_shot_acc": 0.7}))
    text = card.model_card(run)
    assert "the run ended worse than it started: this adapter is the best evaluation, step 0" in text
    assert "at the last evaluation (step 5): 50.0%" in text
