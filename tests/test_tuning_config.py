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


@pytest.mark.parametrize("change, message", [
    (dict(max_steps=10**12), "max_steps 1,000,000,000,000 is too large: use at most 100,000 (a job holds the device"),
    (dict(max_steps=1e300), "max_steps is far too large (got 1e+300)"),
    (dict(max_steps=float("nan")), "max_steps must be a finite whole number (got nan)"),
    (dict(max_steps=float("inf")), "max_steps must be a finite whole number (got inf)"),
    (dict(max_steps="many"), "max_steps must be a number (got 'many')"),
    (dict(max_steps=12.5), "max_steps must be a whole number (got 12.5)"),
    (dict(max_steps=True), "max_steps must be a number (got True)"),
    (dict(epochs=float("inf")), "epochs must be a finite number (got inf)"),
    (dict(epochs=1e9, max_steps=0), "epochs 1,000,000,000.0 is too large: use at most 1,000"),
    (dict(weight_decay=float("nan")), "weight_decay must be a finite number (got nan)"),
    (dict(batch_size=10**6), "batch_size 1,000,000 is too large: use at most 65,536"),
    (dict(eval_size=10**9), "eval_size 1,000,000,000 is too large: use at most 100,000"),
    (dict(grad_accum=10**7), "grad_accum 10,000,000 is too large"),
    (dict(baseline_seeds=10**6), "baseline_seeds 1,000,000 is too large: use at most 100"),
    (dict(keep_checkpoints=10**5), "keep_checkpoints 100,000 is too large"),
    (dict(num_processes=10**4), "num_processes 10,000 is too large"),
    (dict(max_tokens=2**40), "max_tokens 1,099,511,627,776 is too large"),
    (dict(seed=10**30), "seed is far too large"),
    (dict(method="lora", lora_r=10**6), "lora_r 1,000,000 is too large"),
    (dict(init=3), "init must be text (got 3)"),
    (dict(lora_target_modules=[1, 2]), "lora_target_modules must be a list of names"),
])
def test_counts_are_bounded_and_non_numbers_are_named(change, message):
    with pytest.raises(ValueError, match="Invalid tuning config") as err:
        TuneConfig.from_dict(change)
    assert message in str(err.value)


def test_numbers_from_json_or_text_become_the_settings_type():
    config = TuneConfig.from_dict({"max_steps": 300.0, "batch_size": "8", "lr": "0.05", "epochs": 2})
    assert (config.max_steps, config.batch_size, config.lr, config.epochs) == (300, 8, 0.05, 2.0)
    assert type(config.max_steps) is int and type(config.epochs) is float
    assert TuneConfig.from_dict(config.to_dict()) == config


def test_epochs_that_make_too_many_steps_are_refused_against_the_data():
    with pytest.raises(ValueError, match="epochs 1000 of 1,000,000 training examples make 62,500,000 steps, more than "
                                         "the limit of 100,000: lower epochs"):
        TuneConfig(max_steps=0, epochs=1000).check_data(n_train=10**6, mode="rank")
    TuneConfig(max_steps=0, epochs=10).check_data(n_train=1000, mode="rank")


@pytest.mark.parametrize("argv, message", [
    (["--set", "max_steps=1e12"], "max_steps 1,000,000,000,000 is too large"),
    (["--set", "max_steps=1e300"], "max_steps is far too large (got 1e+300)"),
    (["--set", "max_steps=nan"], "max_steps must be a finite whole number (got nan)"),
    (["--set", "epochs=inf"], "epochs must be a finite number (got inf)"),
    (["--set", "lr=nan"], "lr must be a positive number no larger than 10 (got nan)"),
    (["--steps", "1e12"], "max_steps 1,000,000,000,000 is too large"),
    (["--steps", "inf"], "max_steps must be a finite whole number (got inf)"),
    (["--batch-size", "1e9"], "batch_size 1,000,000,000 is too large"),
])
def test_cli_numbers_out_of_bounds_name_the_setting(argv, message):
    with pytest.raises(ValueError, match="Invalid tuning config") as err:
        config_from_args(_parse("--preset", "cpu", *argv))
    assert message in str(err.value)


def test_a_job_spec_eval_size_that_is_not_a_count_is_named():
    from promptlab.tuning.spec import prepare_spec

    for value, message in ((float("nan"), "eval_size must be a finite whole number (got nan)"),
                           (float("inf"), "eval_size must be a finite whole number (got inf)"),
                           ("lots", "eval_size must be a number (got 'lots')"),
                           (10**9, "eval_size 1,000,000,000 is too large")):
        with pytest.raises(ValueError, match="Invalid tuning config") as err:
            prepare_spec({"template": "name: t", "data": "nowhere", "eval_size": value})
        assert message in str(err.value)


def test_a_job_spec_with_odd_types_or_an_endless_name_is_refused_with_the_key():
    from promptlab.tuning.spec import prepare_spec

    with pytest.raises(ValueError, match="The job spec's 'data' must be text, not int."):
        prepare_spec({"template": "name: t", "data": 5})
    with pytest.raises(ValueError, match="The job's name is 300 characters long: use at most 200."):
        prepare_spec({"template": "name: t", "data": "d", "name": "n" * 300})
