"""TuneConfig validation (messages a user can act on), presets, and the CLI flags that build a config."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from promptlab.cli.tune import add_parser, config_from_args
from promptlab.tuning.config import DEFAULT_LR, METHODS, PRESETS, TuneConfig, preset


def test_defaults_are_valid_and_round_trip_through_a_dict():
    config = TuneConfig()
    assert TuneConfig.from_dict(config.to_dict()) == config
    lora = TuneConfig(method="lora", lora_target_modules=("q_proj", "k_proj"))
    assert TuneConfig.from_dict(lora.to_dict()) == lora  # lists in JSON come back as tuples


@pytest.mark.parametrize("change, message", [
    (dict(num_virtual_tokens=0), "num_virtual_tokens must be at least 1 for prompt_tuning (got 0)"),
    (dict(lr=-0.01), "lr must be a positive number no larger than 10 (got -0.01)"),
    (dict(lr=float("nan")), "lr must be a positive number"),
    (dict(method="prefix_tuning", gradient_checkpointing=True), "prefix_tuning cannot use gradient_checkpointing"),
    (dict(method="prompt-tuning"), 'method "prompt-tuning" is not one of: prompt_tuning, p_tuning'),
    (dict(init="text"), 'init "text" is not one of: template, class_labels, sample_vocab, random'),
    (dict(encoder="gru"), 'encoder "gru" is not one of: mlp, lstm'),
    (dict(precision="fp8"), 'precision "fp8" is not one of'),
    (dict(batch_size=0), "batch_size must be at least 1 (got 0)"),
    (dict(max_steps=0, epochs=0), "set max_steps or epochs"),
    (dict(eval_size=0), "eval_size must be at least 1"),
    (dict(keep_checkpoints=0), "resume needs a checkpoint"),
    (dict(method="prefix_tuning", prefix_projection=True, init="template"),
     "cannot start a prefix_tuning prefix with prefix_projection"),
    (dict(precision="fp16", device="cpu"), '"fp16" is not supported on the CPU'),
])
def test_invalid_settings_are_rejected_with_a_readable_message(change, message):
    with pytest.raises(ValueError, match="Invalid tuning config") as err:
        TuneConfig(**change)
    assert message in str(err.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ValueError) as err:
        TuneConfig(num_virtual_tokens=0, lr=0, batch_size=0)
    text = str(err.value)
    assert "num_virtual_tokens" in text and "lr must" in text and "batch_size" in text


def test_lora_needs_no_virtual_tokens():
    assert TuneConfig(method="lora", num_virtual_tokens=0).uses_virtual_tokens is False


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match="unknown setting.*learning_rate"):
        TuneConfig.from_dict({"learning_rate": 0.1})


def test_checks_against_the_data():
    with pytest.raises(ValueError, match="batch_size 16 is larger than the 10 training examples: lower batch_size"):
        TuneConfig(batch_size=16).check_data(n_train=10, mode="rank")
    with pytest.raises(ValueError, match='objective "choices" needs answer choices'):
        TuneConfig(objective="choices").check_data(n_train=100, mode="generate")
    with pytest.raises(ValueError, match='"class_labels" needs answer choices'):
        TuneConfig(init="class_labels").check_data(n_train=100, mode="generate")
    TuneConfig(batch_size=10).check_data(n_train=10, mode="rank")


def test_objective_and_steps_follow_the_template_and_data():
    config = TuneConfig()
    assert config.objective_for("rank") == "choices" and config.objective_for("generate") == "lm"
    assert TuneConfig(objective="lm").objective_for("rank") == "lm"
    assert TuneConfig(max_steps=0, epochs=2, batch_size=8, grad_accum=2).total_steps(100) == 13
    assert TuneConfig(max_steps=0, epochs=1, batch_size=8).total_steps(100, num_processes=2) == 7


@pytest.mark.parametrize("name", [*PRESETS, "test"])
@pytest.mark.parametrize("method", METHODS)
def test_presets_are_valid_for_every_method(name, method):
    config = preset(name, method, init="random")
    assert config.method == method and config.lr == DEFAULT_LR[method]


def test_the_ui_offers_the_device_presets_only():
    assert sorted(PRESETS) == ["cpu", "gpu"]


def test_preset_overrides_and_unknown_preset():
    assert preset("cpu", "prompt_tuning", max_steps=7, lr=None).max_steps == 7  # None = keep the preset's
    with pytest.raises(ValueError, match='Unknown preset "tpu"'):
        preset("tpu")


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["tune", "--template", "t.yaml", "--data", "d", *argv])


def test_cli_flags_and_set_build_the_config():
    args = _parse("--method", "p_tuning", "--steps", "30", "--init", "sample_vocab", "--preset", "cpu",
                  "--set", "encoder=lstm", "--set", "prefix_projection=false", "--set", "weight_decay=0.01",
                  "--set", "lora_target_modules=q_proj,v_proj")
    config = config_from_args(args)
    assert (config.method, config.max_steps, config.init, config.encoder) == ("p_tuning", 30, "sample_vocab", "lstm")
    assert config.weight_decay == 0.01 and config.lora_target_modules == ("q_proj", "v_proj")
    with pytest.raises(ValueError, match="Unknown setting 'lrate'"):
        config_from_args(_parse("--set", "lrate=1"))
    with pytest.raises(ValueError, match="--set max_steps takes a number"):
        config_from_args(_parse("--set", "max_steps=many"))


def test_torch_free_modules_do_not_import_torch():
    code = ("import sys, promptlab.runs.store, promptlab.runs.export, promptlab.tuning.config, promptlab.tuning.spec, "
            "promptlab.cli.tune, promptlab.cli.runs, promptlab.tuning.run; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
