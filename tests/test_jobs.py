"""promptlab.runs without training: run ids, listing, torn metrics, dead workers, cancel/resume rules, adapters."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from promptlab.runs import export, layout, queue, store


def fake_run(runs_dir: Path, run_id: str, status: str = "done", created: float | None = None, **extra) -> Path:
    """A run folder written by hand (no worker), as a worker would have left it."""
    path = runs_dir / run_id
    path.mkdir(parents=True)
    (path / "spec.json").write_text(json.dumps({"template": "name: t\nprompt: x", "config": {"method": "lora"}}))
    now = created or time.time()
    layout.write_json_atomic(path / "status.json", {"status": status, "created": now, "started": now, "finished": None,
                                                  "step": 3, "total_steps": 10, "updated": now, **extra})
    return path


def dead_process_record() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    record = queue.process_record(proc.pid)
    proc.wait()
    return record


def test_run_ids_cannot_escape_the_runs_folder(tmp_path):
    for bad in ("../x", "..", "a/b", "/etc", ".hidden", "", "x" * 200, "a\\b", "run\n"):
        with pytest.raises(ValueError, match="Invalid run id"):
            layout.run_path(bad, tmp_path)
    assert layout.run_path("20250101-000000-lora-abcd", tmp_path) == tmp_path.resolve() / "20250101-000000-lora-abcd"
    with pytest.raises(ValueError, match="Invalid run id"):
        store.get_run("../../etc", tmp_path)
    with pytest.raises(ValueError, match="No run 'nope'"):
        store.get_run("nope", tmp_path)


def test_listing_is_newest_first_with_every_field(tmp_path):
    fake_run(tmp_path, "old", created=1000.0)
    fake_run(tmp_path, "new", created=2000.0, best={"step": 2, "acc": 0.8})
    (tmp_path / "new" / "baselines.json").write_text(json.dumps({"zero_shot_acc": 0.6}))
    (tmp_path / ".slots").mkdir()  # internal folders are not runs
    runs = store.list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["new", "old"]
    assert runs[0].best["acc"] == 0.8 and runs[0].baselines == {"zero_shot_acc": 0.6}
    assert [f.name for f in dataclasses.fields(store.RunInfo)] == [
        "run_id", "status", "created", "started", "finished", "spec", "step", "total_steps", "template", "method",
        "task", "model", "best", "baselines", "error", "eta_seconds", "name", "note", "active_seconds", "stopping",
        "resumed_from", "checkpoint"]
    assert store.list_runs(tmp_path / "missing") == []


def test_metrics_reader_tolerates_a_torn_last_line(tmp_path):
    path = fake_run(tmp_path, "r1")
    (path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    assert store.read_metrics("r1", tmp_path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]
    (path / "log.txt").write_text("\n".join(f"line {i}" for i in range(500)))
    assert store.read_log("r1", tmp_path, tail=2) == "line 498\nline 499"


def test_runs_whose_worker_died_are_marked_interrupted(tmp_path):
    running = fake_run(tmp_path, "running", status="running")
    layout.write_json_atomic(running / "worker.json", dead_process_record())
    never_started = fake_run(tmp_path, "queued", status="queued", updated=time.time() - 3600)
    layout.write_json_atomic(never_started / "status.json",
                           {**json.loads((never_started / "status.json").read_text()), "updated": time.time() - 3600})
    by_id = {r.run_id: r for r in store.list_runs(tmp_path)}
    assert by_id["running"].status == "interrupted" and "resume" in by_id["running"].error
    assert by_id["queued"].status == "interrupted"
    assert json.loads((running / "status.json").read_text())["status"] == "interrupted"  # written back


def test_a_live_worker_keeps_its_run_active_and_a_stuck_one_is_killed_after_the_grace(tmp_path, monkeypatch):
    path = fake_run(tmp_path, "live", status="running")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        layout.write_json_atomic(path / "worker.json", queue.process_record(proc.pid))
        assert store.get_run("live", tmp_path).status == "running"
        monkeypatch.setenv("PROMPTLAB_CANCEL_GRACE", "0")
        store.cancel("live", tmp_path)  # writes STOP; this worker never looks at it
        assert (path / "STOP").exists()
        time.sleep(0.05)
        assert store.get_run("live", tmp_path).status == "cancelled"
        assert proc.wait(timeout=10) == -9
    finally:
        proc.kill()


def test_cancel_resume_and_delete_refuse_runs_in_the_wrong_state(tmp_path):
    fake_run(tmp_path, "done", status="done")
    with pytest.raises(ValueError, match="is done, not queued or running"):
        store.cancel("done", tmp_path)
    with pytest.raises(ValueError, match="only interrupted, failed, cancelled runs can be resumed"):
        store.resume("done", tmp_path)
    path = fake_run(tmp_path, "active", status="running")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        layout.write_json_atomic(path / "worker.json", queue.process_record(proc.pid))
        with pytest.raises(ValueError, match="still active: cancel it first"):
            store.delete("active", tmp_path)
    finally:
        proc.kill()
        proc.wait()
    store.delete("done", tmp_path)
    assert not (tmp_path / "done").exists()


def _fake_adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def test_resolve_adapter_takes_an_adapter_dir_a_run_dir_or_a_run_id(tmp_path, monkeypatch):
    run = fake_run(tmp_path / "runs", "r1")
    adapter = _fake_adapter(run / "adapter")
    assert store.resolve_adapter(adapter) == adapter.resolve()
    assert store.resolve_adapter(run) == adapter.resolve()
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    assert store.resolve_adapter("r1") == adapter.resolve()
    assert store.adapter_dir("r1") == adapter.resolve()
    with pytest.raises(ValueError, match="neither an adapter folder, a run folder, nor a run id"):
        store.resolve_adapter("r2")
    with pytest.raises(ValueError, match="holds no adapter"):
        store.resolve_adapter(tmp_path)
    with pytest.raises(ValueError, match="neither.*Invalid run id"):  # not a folder, and not a valid run id
        store.resolve_adapter("../../no-such-run")


def test_export_bundle_holds_everything_a_run_needs_to_explain_itself(tmp_path):
    run = fake_run(tmp_path, "r1", best={"step": 4, "acc": 0.9})
    _fake_adapter(run / "adapter")
    (run / "template.yaml").write_text("name: t\nprompt: x\n")
    (run / "baselines.json").write_text(json.dumps({"metric": "acc", "zero_shot_acc": 0.7}))
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    out = export.export_bundle("r1", tmp_path / "out" / "bundle.zip", tmp_path)
    names = set(zipfile.ZipFile(out).namelist())
    assert {"README.md", "template.yaml", "tune_config.json", "dataset.json", "spec.json", "baselines.json",
            "metrics.jsonl", "status.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= names
    readme = zipfile.ZipFile(out).read("README.md").decode()
    assert "90.0%" in readme and "70.0%" in readme and "PeftModel.from_pretrained" in readme
    fake_run(tmp_path, "r2")
    with pytest.raises(ValueError, match="has no adapter yet"):
        export.export_bundle("r2", tmp_path / "b2.zip", tmp_path)


def test_push_without_a_token_says_so_and_loses_nothing(tmp_path, monkeypatch):
    from promptlab.runs.export import push_to_hub

    run = fake_run(tmp_path, "r1")
    _fake_adapter(run / "adapter")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login either
    with pytest.raises(ValueError, match="No Hugging Face token.*Nothing was lost"):
        push_to_hub(run, "me/soft-prompt")
    assert (run / "adapter" / "adapter_config.json").exists()


def test_slots_limit_how_many_runs_train_at_once(tmp_path, monkeypatch):
    first = queue.try_acquire_slot(tmp_path)
    assert first is not None and queue.try_acquire_slot(tmp_path) is None
    monkeypatch.setenv("PROMPTLAB_MAX_JOBS", "2")
    second = queue.try_acquire_slot(tmp_path)
    assert second is not None
    first.close()
    second.close()
    assert queue.try_acquire_slot(tmp_path) is not None


def test_queue_order_is_oldest_queued_first(tmp_path):
    older = fake_run(tmp_path, "a-older", status="queued", queued_at=100.0)
    newer = fake_run(tmp_path, "b-newer", status="queued", queued_at=200.0)
    for path in (older, newer):  # both have live workers (this test process stands in for them)
        layout.write_json_atomic(path / "worker.json", queue.process_record(os.getpid()))
    assert queue.is_next_in_queue(older) and not queue.is_next_in_queue(newer)
    layout.update_status(older, status="running")
    assert queue.is_next_in_queue(newer)


def test_push_without_a_network_says_so_and_loses_nothing(tmp_path):
    run = fake_run(tmp_path, "r1")
    _fake_adapter(run / "adapter")
    code = ("from pathlib import Path; from promptlab.runs.export import push_to_hub\n"
            f"try:\n    push_to_hub(Path(r'{run}'), 'me/soft-prompt', token='hf_fake')\n"
            "except ValueError as e:\n    print(e)\n")
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_ETAG_TIMEOUT="2")  # a port nothing listens on
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert "Could not push to the Hugging Face Hub" in out.stdout and "Nothing was lost" in out.stdout, out.stderr
    assert (run / "adapter" / "adapter_model.safetensors").read_bytes() == b"weights"
