"""The `promptlab` command line, through its real entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from promptlab.cli import main

TEMPLATE = """\
name: tiny-sentiment
prompt: "Review: {{ text }}\\nSentiment:"
target: "{{ label }}"
answer_choices: [negative, positive]
"""


@pytest.fixture()
def task(tmp_path):
    rows = [{"text": f"a {'great' if i % 2 else 'terrible'} film {i}", "label": "positive" if i % 2 else "negative"}
            for i in range(20)]
    (tmp_path / "data").mkdir()
    for split, part in (("train", rows[:12]), ("validation", rows[12:])):
        (tmp_path / "data" / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in part) + "\n")
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    return tmp_path


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "promptlab.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.jobs  # the CLI in a child process
def test_score_json_prints_exactly_one_object(task, tiny_model_dir):
    proc = run_cli("score", "--template", str(task / "t.yaml"), "--data", str(task / "data"),
                   "--model", str(tiny_model_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole stdout is one JSON document
    assert result["n"] == 8 and result["split"] == "validation" and result["seconds"] > 0
    for key in ("acc", "acc_norm", "acc_calibrated", "macro_f1", "majority"):
        assert 0 <= result["metrics"][key] <= 1


def test_few_shot_json_reports_mean_and_std(task, tiny_model_dir, capsys):
    code = main(["score", "--template", str(task / "t.yaml"), "--data", str(task / "data"), "--model",
                 str(tiny_model_dir), "--shots", "2", "--seeds", "3", "--limit", "4", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 4 and len(result["per_seed"]) == 3
    for key in ("acc", "acc_norm", "acc_calibrated", "macro_f1", "majority"):
        assert f"{key}_std" in result["metrics"]


@pytest.mark.parametrize("flag,value,message", [
    ("--shots", "-1", "argument --shots: must be 0 or more, got -1"),
    ("--limit", "0", "argument --limit: must be 1 or more, got 0"),
    ("--seeds", "two", "argument --seeds: must be a whole number, got 'two'"),
])
def test_bad_numbers_are_refused_with_the_argument_named(task, capsys, flag, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["score", "--template", str(task / "t.yaml"), "--data", str(task / "data"), flag, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_engine_errors_are_messages_not_tracebacks(task, capsys):
    code = main(["score", "--template", str(task / "t.yaml"), "--data", str(task / "missing.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("promptlab: error:") and "missing.jsonl" in err
    assert "Traceback" not in err


def test_errors_are_said_in_chinese_with_promptlab_lang(task, capsys, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_LANG", "zh")
    code = main(["score", "--template", str(task / "t.yaml"), "--data", str(task / "missing.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.jsonl" in err and re.search(r"[\u4e00-\u9fff]", err), err


def test_template_that_does_not_fit_the_data_lists_every_problem(task, capsys):
    (task / "bad.yaml").write_text(TEMPLATE.replace("{{ text }}", "{{ txt }}"))
    code = main(["score", "--template", str(task / "bad.yaml"), "--data", str(task / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "txt" in err and "text" in err


def test_more_shots_than_rows_is_explained(task, tiny_model_dir, capsys):
    code = main(["score", "--template", str(task / "t.yaml"), "--data", str(task / "data"), "--model",
                 str(tiny_model_dir), "--shots", "50"])
    assert code == 2 and "50" in capsys.readouterr().err


def test_templates_and_models_list(capsys):
    assert main(["templates", "list", "--json"]) == 0
    names = {t["name"] for t in json.loads(capsys.readouterr().out)}
    assert "sst2-review-sentiment" in names
    assert main(["models", "list"]) == 0
    assert "smollm2-135m-instruct" in capsys.readouterr().out


def test_score_finds_a_run_id_in_the_runs_dir_it_is_given(task, tiny_model_dir, tmp_path, capsys):
    """`--adapter RUN_ID --runs-dir DIR`, as `tune --runs-dir DIR` made it: the soft prompt is put on the model."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from promptlab.tuning.config import preset
    from promptlab.tuning.methods import peft_config_for

    run = tmp_path / "elsewhere" / "20250101-000000-prompt-tuning-abcd"
    (run / "adapter").mkdir(parents=True)
    (run / "spec.json").write_text("{}")
    config = preset("test", "prompt_tuning")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), peft_config_for(config)).save_pretrained(
        run / "adapter")
    argv = ["score", "--template", str(task / "t.yaml"), "--data", str(task / "data"), "--model", str(tiny_model_dir),
            "--json", "--adapter", run.name]
    assert main(argv) == 2 and "is neither an adapter folder, a run folder, nor a run id" in capsys.readouterr().err
    assert main([*argv, "--runs-dir", str(run.parent)]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == f"{tiny_model_dir} + adapter"


def test_the_progress_bar_shows_believable_rates():
    """The bar starts with the scoring, so its first rate counts the first batch's time (a bar made at the first
    callback showed millions of requests per second)."""
    import time

    from promptlab.cli.score import _ProgressBar

    with _ProgressBar("scoring") as progress:
        time.sleep(0.05)  # the first batch's work, before its callback
        progress.update(64, 128)
        rate = progress.bar.format_dict["rate"] or progress.bar.n / progress.bar.format_dict["elapsed"]
    assert rate < 64 / 0.05 * 1.01
