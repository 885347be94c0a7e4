"""Hardening: model ids and adapters, through `load_lm` (what the app and the CLI call) and `promptlab score`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptlab.models import registry
from promptlab.models.lm import load_lm


def test_unknown_hub_id_fails_fast_offline(run_cli, template_file, data_dir):
    result = run_cli("score", "--template", template_file, "--data", data_dir, "--model",
                     "nobody/does-not-exist-1b")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == (
        "promptlab: error: Model 'nobody/does-not-exist-1b' is not available offline (tried: a local folder named "
        "'nobody/does-not-exist-1b' (none), the local Hugging Face cache (not there), the Hugging Face Hub "
        "(unreachable)). Use a bundled model (smollm2-135m-instruct, gemma-3-270m) or a local folder with "
        "config.json.")


def test_missing_local_model_folder(tmp_path):
    with pytest.raises(ValueError, match=r"No model folder at .*nothing-here\. Pass a folder with config\.json"):
        load_lm(str(tmp_path / "nothing-here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is a folder but not a Hugging Face model: config.json is missing."):
        load_lm(str(tmp_path / "empty"))


@pytest.fixture()
def remote_code_model(tmp_path, tiny_model_dir) -> Path:
    """The tiny model dressed as a custom architecture whose code ships beside it (and would leave a mark)."""
    folder = tmp_path / "custom-arch"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evil-arch", auto_map={"AutoConfig": "evil.EvilConfig",
                                                    "AutoModelForCausalLM": "evil.EvilModel"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(f"open({str(tmp_path / 'PWNED')!r}, 'w').write('ran')\n")
    return folder


def test_model_needing_remote_code_is_refused_and_its_code_never_runs(remote_code_model, tmp_path, tiny_model_dir):
    with pytest.raises(ValueError) as info:
        load_lm(str(remote_code_model))
    assert str(info.value) == (
        f"Model {str(remote_code_model)!r} needs its own Python code to load (config.json has auto_map and model "
        "type 'evil-arch', which transformers does not know). PromptLab never runs code shipped with a model "
        "(trust_remote_code stays off). Use a model that transformers supports natively, e.g. "
        "smollm2-135m-instruct, or a local folder of one.")
    assert not (tmp_path / "PWNED").exists()
    assert load_lm(str(tiny_model_dir)).name == str(tiny_model_dir)  # still serving


def test_known_architecture_with_auto_map_loads_natively_without_the_shipped_code(tmp_path, tiny_model_dir):
    folder = tmp_path / "llama-with-auto-map"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(f"open({str(tmp_path / 'PWNED')!r}, 'w').write('ran')\n")
    assert type(load_lm(str(folder)).model).__name__ == "LlamaForCausalLM"
    assert not (tmp_path / "PWNED").exists()


@pytest.fixture()
def foreign_adapter(tmp_path) -> Path:
    """A prompt-tuning adapter trained on another (narrower) base model."""
    from peft import PromptTuningConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    other = LlamaForCausalLM(LlamaConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    other.config.name_or_path = "acme/other-base"
    peft = get_peft_model(other, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    out = tmp_path / "foreign-adapter"
    peft.save_pretrained(out)
    config = json.loads((out / "adapter_config.json").read_text())
    (out / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "acme/other-base"}))
    return out


def test_adapter_of_another_base_model(run_cli, foreign_adapter, template_file, data_dir, tiny_model_dir):
    result = run_cli("score", "--template", template_file, "--data", data_dir, "--model", tiny_model_dir,
                     "--adapter", foreign_adapter)
    assert result.code == 2
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(f"promptlab: error: The adapter at {foreign_adapter} does not fit model "
                           f"'{tiny_model_dir}': it was trained on 'acme/other-base'. Load it with that base model")
    assert "the adapter's token_dim is 32 but the model's hidden_size is 64" in last
    ok = run_cli("score", "--template", template_file, "--data", data_dir, "--model", tiny_model_dir, "--json")
    assert ok.code == 0, ok.err


def test_adapter_path_that_is_not_an_adapter(run_cli, tmp_path, template_file, data_dir, tiny_model_dir):
    result = run_cli("score", "--template", template_file, "--data", data_dir, "--model", tiny_model_dir,
                     "--adapter", "../../etc")
    assert result.code == 2 and "Traceback" not in result.err
    assert "../../etc" in result.err


def test_corrupt_model_cache_is_rebuilt(tmp_path, monkeypatch, tiny_model_dir):
    """A bundled model's safetensors cache with a damaged weights file is thrown away and converted again."""
    conversions = []

    def fake_convert(gguf, out):
        conversions.append(gguf)
        shutil.copytree(tiny_model_dir, out)

    fake = registry.BundledModel("fake", "json", "pip install nothing", lambda scratch: scratch / "m.gguf",
                                    lambda: "k1")
    monkeypatch.setitem(registry.BUNDLED, "fake-bundled", fake)
    monkeypatch.setattr(registry, "_convert_gguf", fake_convert)
    monkeypatch.setenv("PROMPTLAB_CACHE", str(tmp_path / "cache"))

    first = Path(registry.resolve_model("fake-bundled"))
    assert len(conversions) == 1 and registry.resolve_model("fake-bundled") == str(first)  # cached
    weights = first / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # torn by a crash or a full disk
    assert Path(registry.resolve_model("fake-bundled")) == first and len(conversions) == 2
    (first / "tokenizer.json").unlink()  # a missing file counts as corrupt too
    registry.resolve_model("fake-bundled")
    assert len(conversions) == 3
    assert load_lm(str(first)).loglikelihood  # the rebuilt cache loads
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temp folders left behind
