"""`promptlab tune` / `promptlab runs` through the real entry point, on the tiny random Llama."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from helpers import TEMPLATE, wait_for_end

from promptlab.runs import store

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "promptlab.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_tune_wait_json_then_runs_commands_and_score_with_the_adapter(task, tmp_path, tiny_model_dir):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    runs = str(tmp_path / "runs")
    out = cli("tune", "--template", str(tmp_path / "t.yaml"), "--data", str(task), "--method", "prompt_tuning",
              "--steps", "4", "--init", "class_labels", "--model", str(tiny_model_dir), "--preset", "test",
              "--eval-size", "16", "--runs-dir", runs, "--wait", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # stdout is exactly one JSON object
    assert result["status"] == "done" and result["step"] == 4
    assert 0 <= result["best"]["acc"] <= 1 and 0 <= result["baselines"]["zero_shot_acc"] <= 1
    assert result["seconds"] > 0
    run_id = result["run_id"]

    listed = cli("runs", "--runs-dir", runs, "list")
    assert run_id in listed.stdout and "done" in listed.stdout
    shown = json.loads(cli("runs", "--runs-dir", runs, "show", run_id, "--json").stdout)
    assert shown["spec"]["config"]["init"] == "class_labels" and shown["metrics"]

    bundle = tmp_path / "bundle.zip"
    assert cli("runs", "--runs-dir", runs, "export", run_id, "--out", str(bundle)).returncode == 0
    assert "adapter/adapter_config.json" in zipfile.ZipFile(bundle).namelist()

    # the lead's `score --adapter` scores the soft prompt with the same scorer: the run's own best accuracy
    scored = cli("score", "--template", str(tmp_path / "t.yaml"), "--data", str(task), "--model",
                 str(tiny_model_dir), "--adapter", str(tmp_path / "runs" / run_id), "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["metrics"]["acc"] == result["best"]["acc"]

    assert cli("runs", "--runs-dir", runs, "resume", run_id).returncode != 0  # done runs do not resume
    assert "only interrupted, failed, cancelled runs can be resumed" in cli("runs", "--runs-dir", runs, "resume",
                                                                            run_id).stderr


def test_tune_without_wait_returns_at_once_and_the_job_outlives_the_cli(task, tmp_path, tiny_model_dir):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    runs = tmp_path / "runs"
    out = cli("tune", "--template", str(tmp_path / "t.yaml"), "--data", str(task), "--method", "lora",
              "--steps", "3", "--model", str(tiny_model_dir), "--preset", "test", "--runs-dir", str(runs))
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    assert wait_for_end(run_id, runs).status == "done"  # the CLI process is long gone
    bad = cli("tune", "--template", str(tmp_path / "t.yaml"), "--data", str(task), "--steps", "3",
              "--model", str(tiny_model_dir), "--preset", "test", "--batch-size", "1000", "--runs-dir", str(runs))
    assert bad.returncode != 0 and "batch_size 1000 is larger than the 64 training examples" in bad.stderr
    assert [r.run_id for r in store.list_runs(runs)] == [run_id]  # the refused job left nothing behind


def test_num_processes_trains_through_accelerate_launch(task, tmp_path, tiny_model_dir):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    out = cli("tune", "--template", str(tmp_path / "t.yaml"), "--data", str(task), "--steps", "3",
              "--model", str(tiny_model_dir), "--preset", "test", "--num-processes", "2",
              "--runs-dir", str(tmp_path / "runs"), "--wait", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "done" and result["step"] == 3
    log = store.read_log(result["run_id"], tmp_path / "runs")
    assert "accelerate.commands.launch --num_processes 2" in log
    assert "3 steps of 4x1x2 examples" in log  # each of the two processes takes half of every batch
