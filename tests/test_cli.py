"""The `promptlab` command line, through its real entry point."""

from __future__ import annotations

import json
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
