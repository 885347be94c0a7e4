"""Hardening: tuning jobs under bad input and faults, with real worker subprocesses on the tiny random Llama.
Through `promptlab.runs` (the API the app calls) and the CLI (`promptlab tune`, `promptlab runs ...`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import last_step, make_spec, wait_for_end, wait_until, write_task

from promptlab.runs import layout, queue, store
from promptlab.tuning.checkpoint import list_checkpoints
from promptlab.tuning.spec import submit

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes


@pytest.fixture()
def task(tmp_path):
    return write_task(tmp_path / "task", n_train=32, n_val=8)


def spec_for(task, model, **config):
    config = {"baseline_shots": 0, "baseline_seeds": 1, **config}
    return make_spec(task, model, **config)


def checkpoint_steps(run_id, runs_dir) -> list[int]:
    return [int(p.name.split("-")[1]) for p in list_checkpoints(layout.run_path(run_id, runs_dir) / "checkpoints")]


def assert_checkpoints_load(run_id, runs_dir) -> None:
    for path in list_checkpoints(layout.run_path(run_id, runs_dir) / "checkpoints"):
        assert torch.load(path / "trainable.pt") and torch.load(path / "optimizer.pt", weights_only=False)
        assert json.loads((path / "state.json").read_text())["step"] == int(path.name.split("-")[1])


def train_steps(run_id, runs_dir) -> list[int]:
    return [m["step"] for m in store.read_metrics(run_id, runs_dir) if "loss" in m]


# ---- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("run_id", ["../victim", "..", "/etc/passwd", "a/../../victim", "run;rm -rf ~", "run\nx",
                                    ".hidden", "x" * 300])
def test_run_ids_that_leave_the_runs_folder_are_refused_by_the_cli(run_cli, runs_dir, tmp_path, run_id):
    runs_dir.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "spec.json").write_text("{}")
    for action in ("show", "resume", "delete", "cancel"):
        result = run_cli("runs", "--runs-dir", runs_dir, action, run_id)
        assert result.code == 2, (action, result.err)
        assert result.err.startswith(f"promptlab: error: Invalid run id {run_id!r}: use letters, digits, '-', '_' "
                                     "and '.' only, as `promptlab runs list` shows them.")
    assert (victim / "spec.json").exists()  # nothing outside the runs folder was touched
    assert run_cli("runs", "--runs-dir", runs_dir, "list").code == 0  # still serving


def test_unknown_run_id_names_the_runs_folder(run_cli, runs_dir):
    result = run_cli("runs", "--runs-dir", runs_dir, "resume", "20250101-000000-prompt-tuning-abcd")
    assert result.code == 2
    assert result.err.strip() == (f"promptlab: error: No run '20250101-000000-prompt-tuning-abcd' in "
                                  f"{runs_dir.resolve()}. `promptlab runs list` shows the runs there.")


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "lr must be a positive number"),
    (["--num-virtual-tokens", "0"], "num_virtual_tokens must be at least 1"),
    (["--batch-size", "5000"], "batch_size 5000 is larger than the 32 training examples"),
    (["--steps", "0"], "max_steps"),
    (["--set", "warp_drive=1"], "Unknown setting 'warp_drive' in --set. Settings:"),
    (["--set", "lr=fast"], "--set lr takes a number, not 'fast'."),
    (["--steps", "1e12"], "max_steps 1,000,000,000,000 is too large: use at most 100,000"),
    (["--steps", "1e300"], "max_steps is far too large (got 1e+300)"),
    (["--steps", "nan"], "max_steps must be a finite whole number (got nan)"),
    (["--set", "max_steps=inf"], "max_steps must be a finite whole number (got inf)"),
    (["--set", "epochs=inf"], "epochs must be a finite number (got inf)"),
    (["--eval-size", "1e9"], "eval_size 1,000,000,000 is too large: use at most 100,000"),
])
def test_tuning_configs_out_of_range_are_refused_before_any_run_exists(run_cli, task, runs_dir, tiny_model_dir,
                                                                        tmp_path, flags, message):
    template = tmp_path / "toy.yaml"
    from helpers import TEMPLATE

    template.write_text(TEMPLATE)
    result = run_cli("tune", "--template", template, "--data", task, "--model", tiny_model_dir, "--preset", "test",
                     "--runs-dir", runs_dir, *flags)
    assert result.code == 2, result.err
    assert result.err.startswith("promptlab: error: ") and message in result.err, result.err
    assert not runs_dir.exists() or not [p for p in runs_dir.iterdir() if not p.name.startswith(".")]


def test_torn_last_metrics_line_is_skipped_by_the_cli(run_cli, runs_dir):
    run = runs_dir / "20250101-000000-prompt-tuning-torn"
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({"template": "name: t\nprompt: x", "config": {"method": "lora"}}))
    layout.write_json_atomic(run / "status.json", {"status": "done", "created": 1.0, "step": 2, "total_steps": 2})
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.7}\n{"step": 2, "loss": 0.6}\n{"step": 3, "lo')
    result = run_cli("runs", "--runs-dir", runs_dir, "show", run.name, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["metrics"] == [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.6}]
    assert (run / "metrics.jsonl").read_text().endswith('"lo')  # reading never rewrites the file


# ---- faults -------------------------------------------------------------------------------------------------------

def test_worker_sigkilled_mid_step_then_resumed_from_the_cli(run_cli, task, runs_dir, tiny_model_dir):
    run = submit(spec_for(task, tiny_model_dir, max_steps=24, checkpoint_every=3, eval_every=12), runs_dir)
    wait_until(lambda: last_step(run, runs_dir) >= 5, 120, interval=0.02, what="step 5")
    os.killpg(json.loads((layout.run_path(run, runs_dir) / "worker.json").read_text())["pid"], signal.SIGKILL)
    listed = wait_until(lambda: (r := json.loads(run_cli("runs", "--runs-dir", runs_dir, "list", "--json").out))
                        and r[0]["status"] != "running" and r, 30, what="the kill to be noticed")
    assert listed[0]["status"] == "interrupted"
    assert checkpoint_steps(run, runs_dir) and all(s % 3 == 0 for s in checkpoint_steps(run, runs_dir))
    assert_checkpoints_load(run, runs_dir)
    resumed = run_cli("runs", "--runs-dir", runs_dir, "resume", run)
    assert resumed.code == 0 and resumed.out.strip() in queue.ACTIVE
    info = wait_for_end(run, runs_dir)
    assert (info.status, info.step) == ("done", 24)
    assert train_steps(run, runs_dir) == list(range(1, 25))  # curves intact: every step once


def test_worker_killed_mid_checkpoint_write_leaves_no_half_checkpoint(fault, task, runs_dir, tiny_model_dir):
    fault("kill-in-checkpoint:2")  # SIGKILL while writing the second checkpoint's optimizer state
    run = submit(spec_for(task, tiny_model_dir, max_steps=8, checkpoint_every=2, eval_every=4), runs_dir)
    info = wait_for_end(run, runs_dir, timeout=120)
    assert info.status == "interrupted" and "runs resume" in info.error
    assert checkpoint_steps(run, runs_dir) == [2]  # step 4's checkpoint was never named step-000004
    assert_checkpoints_load(run, runs_dir)
    fault(None)
    assert store.resume(run, runs_dir).status in queue.ACTIVE
    info = wait_for_end(run, runs_dir)
    assert (info.status, info.step) == ("done", 8)
    assert train_steps(run, runs_dir) == list(range(1, 9))
    assert not [p for p in (layout.run_path(run, runs_dir) / "checkpoints").iterdir() if p.name.startswith(".tmp")] \
        or checkpoint_steps(run, runs_dir)[-1] == 8


def test_disk_full_during_checkpoint_fails_the_run_with_the_reason(fault, task, runs_dir, tiny_model_dir):
    fault("disk-full-checkpoint:2")
    run = submit(spec_for(task, tiny_model_dir, max_steps=8, checkpoint_every=2, eval_every=4), runs_dir)
    info = wait_for_end(run, runs_dir, timeout=120)
    assert info.status == "failed"
    assert info.error.startswith("The disk is full (No space left on device: ")
    assert f"Free some space, then `promptlab runs resume {run}` continues; checkpoints up to step 2 are intact." \
        in info.error
    assert checkpoint_steps(run, runs_dir) == [2]  # the earlier checkpoint is intact
    assert_checkpoints_load(run, runs_dir)
    fault(None)  # space freed: the run resumes from step 2
    store.resume(run, runs_dir)
    info = wait_for_end(run, runs_dir)
    assert (info.status, info.step) == ("done", 8)
    assert train_steps(run, runs_dir) == list(range(1, 9))


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


FULL_DISK_JOB = textwrap.dedent("""
    import json, os, subprocess, sys, time
    runs, model, data, template = sys.argv[1:5]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", runs], check=True)  # a small, real disk

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "promptlab.cli", *args], capture_output=True, text=True,
                             timeout=240, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        return {"code": out.returncode, "out": out.stdout, "err": out.stderr[-3000:]}

    result = {"tune": cli("tune", "--template", template, "--data", data, "--model", model, "--preset", "test",
                          "--steps", "40", "--set", "checkpoint_every=1", "--set", "keep_checkpoints=100",
                          "--set", "eval_every=20", "--set", "baseline_shots=0", "--runs-dir", runs, "--wait",
                          "--json")}
    result["list"] = cli("runs", "--runs-dir", runs, "list", "--json")
    with open(os.path.join(runs, ".filler"), "wb", buffering=0) as f:  # and now not a byte left
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    result["list_full"] = cli("runs", "--runs-dir", runs, "list", "--json")
    run_id = json.loads(result["list"]["out"])[0]["run_id"]
    result["leftovers"] = [name for _, dirs, files in os.walk(os.path.join(runs, run_id)) for name in dirs + files
                           if name.startswith(".tmp") or name.endswith(".tmp")]
    os.unlink(os.path.join(runs, ".filler"))
    subprocess.run(["mount", "-o", "remount,size=64m", runs], check=True)  # space freed
    result["resume"] = cli("runs", "--runs-dir", runs, "resume", run_id)
    for _ in range(240):
        shown = cli("runs", "--runs-dir", runs, "show", run_id, "--json")
        if shown["code"] or json.loads(shown["out"])["status"] not in ("queued", "running"):
            break
        time.sleep(1)
    result["show"] = shown
    print(json.dumps(result))
""")


@pytest.mark.skipif(not _namespaces_work(), reason="needs `unshare -rm` (a user+mount namespace) to mount a tmpfs")
def test_a_real_full_disk_fails_the_run_with_the_reason_and_resume_finishes_it(tmp_path, task, tiny_model_dir):
    from helpers import TEMPLATE

    (tmp_path / "runs").mkdir()
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    (tmp_path / "job.py").write_text(FULL_DISK_JOB)
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(["unshare", "-rm", sys.executable, str(tmp_path / "job.py"), str(tmp_path / "runs"),
                          str(tiny_model_dir), str(task), str(tmp_path / "t.yaml")], capture_output=True, text=True,
                         timeout=600, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    tune = json.loads(result["tune"]["out"])  # --wait --json: one JSON object, exit 1 (the run did not finish)
    assert result["tune"]["code"] == 1, result["tune"]["err"]
    assert tune["status"] in ("failed", "interrupted") and tune["step"] < 40
    assert tune["error"].startswith("The disk is full (") and "Internal error" not in tune["error"], tune["error"]
    assert f"`promptlab runs resume {tune['run_id']}` continues" in tune["error"]
    for listing in ("list", "list_full"):  # `runs list` works while the disk is full
        assert result[listing]["code"] == 0, result[listing]["err"]
        assert json.loads(result[listing]["out"])[0]["status"] == tune["status"]
    assert result["leftovers"] == []  # a failed checkpoint write leaves no temp folder
    assert result["resume"]["code"] == 0, result["resume"]["err"]
    shown = json.loads(result["show"]["out"])
    assert (shown["status"], shown["step"]) == ("done", 40), shown["error"]
    assert [m["step"] for m in shown["metrics"] if "loss" in m] == list(range(1, 41))


def test_out_of_memory_fails_with_a_smaller_batch_suggestion(fault, task, runs_dir, tiny_model_dir):
    fault("oom-at-step:3")
    run = submit(spec_for(task, tiny_model_dir, max_steps=8, checkpoint_every=2, eval_every=4), runs_dir)
    info = wait_for_end(run, runs_dir, timeout=120)
    assert info.status == "failed"
    assert info.error.startswith("Out of memory during training (CUDA out of memory. Tried to allocate 2.00 GiB)")
    assert "smaller batch_size (now 4; raise grad_accum" in info.error
    assert info.error.endswith("checkpoints up to step 2 are intact.")


def test_out_of_memory_marks_the_run_failed_and_keeps_checkpoints(fault, task, runs_dir, tiny_model_dir):
    fault("oom-at-step:3")
    run = submit(spec_for(task, tiny_model_dir, max_steps=8, checkpoint_every=2, eval_every=4), runs_dir)
    info = wait_for_end(run, runs_dir, timeout=120)
    assert info.status == "failed" and "CUDA out of memory" in info.error
    assert checkpoint_steps(run, runs_dir) == [2]
    assert_checkpoints_load(run, runs_dir)


def test_app_process_killed_while_its_job_runs(task, runs_dir, tiny_model_dir, tmp_path):
    """The app (a process that started the job) dies: the job, in its own session, runs on to the end, and a
    restarted app (a new process) lists it with its whole curve."""
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_for(task, tiny_model_dir, max_steps=12, checkpoint_every=4,
                                             eval_every=6)))
    app = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import json, sys, time
        from promptlab.runs import layout, queue, store
        from promptlab.tuning.spec import submit
        print(submit(json.load(open({str(spec_path)!r})), {str(runs_dir)!r}), flush=True)
        time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        run = app.stdout.readline().strip()
        wait_until(lambda: last_step(run, runs_dir) >= 2, 120, interval=0.05, what="the job to train")
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait()
    info = wait_for_end(run, runs_dir)
    assert (info.status, info.step) == ("done", 12)
    restarted = subprocess.run([sys.executable, "-m", "promptlab.cli", "runs", "--runs-dir", str(runs_dir), "show",
                                run, "--json"], capture_output=True, text=True, timeout=120)
    shown = json.loads(restarted.stdout)
    assert shown["status"] == "done"
    assert [m["step"] for m in shown["metrics"] if "loss" in m] == list(range(1, 13))
    assert [m["step"] for m in shown["metrics"] if m.get("split") == "val"] == [0, 6, 12]


# ---- load: the queue ----------------------------------------------------------------------------------------------

def test_five_submissions_at_once_run_one_at_a_time_in_order(task, runs_dir, tiny_model_dir):
    from concurrent.futures import ThreadPoolExecutor

    spec = spec_for(task, tiny_model_dir, max_steps=2, checkpoint_every=0, eval_every=0)
    with ThreadPoolExecutor(5) as pool:
        runs = list(pool.map(lambda _: submit(spec, runs_dir, launch=False), range(5)))
    order = sorted(runs, key=lambda r: layout.read_json(layout.run_path(r, runs_dir) / "status.json")["queued_at"])
    with ThreadPoolExecutor(5) as pool:  # all five workers start at the same moment
        list(pool.map(lambda r: store.launch(r, runs_dir), runs))
    infos = [wait_for_end(r, runs_dir, timeout=240) for r in order]
    assert [i.status for i in infos] == ["done"] * 5
    spans = [(i.started, i.finished) for i in infos]
    assert [s for s, _ in spans] == sorted(s for s, _ in spans), "runs started out of submission order"
    assert all(spans[k][1] <= spans[k + 1][0] for k in range(4)), "two runs trained at the same time"
