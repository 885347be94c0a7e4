"""A run's history told truthfully: where a resume continues (step 0 when no checkpoint was written, said before
and after), a duration of running time only, a cancel that shows at once, names and notes kept in the run folder,
and run folders of older versions still read."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from helpers import last_step, make_spec, wait_for_end, wait_until
from test_jobs import fake_run

from promptlab.runs import layout, queue, store
from promptlab.runs.info import active_seconds
from promptlab.tuning.spec import submit
from promptlab.tuning.worker import EXIT_CANCELLED, main

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes


@pytest.fixture(autouse=True)
def patient_cancel(monkeypatch):
    """An in-process worker must never be ended by its own stop watcher (it would end the test process)."""
    monkeypatch.setenv("PROMPTLAB_CANCEL_GRACE", "600")


def test_a_run_stopped_before_its_first_checkpoint_says_it_starts_over_before_and_after(task, runs_dir,
                                                                                       tiny_model_dir):
    run_id = submit(make_spec(task, tiny_model_dir, max_steps=2), runs_dir, launch=False)
    store.cancel(run_id, runs_dir)  # asked to stop while queued: no step, no checkpoint
    assert main(layout.run_path(run_id, runs_dir)) == EXIT_CANCELLED
    before = store.get_run(run_id, runs_dir)
    assert before.status == "cancelled" and before.checkpoint is None  # what the Runs tab says before Resume
    resumed = store.resume(run_id, runs_dir)
    assert resumed.resumed_from == 0 and resumed.step == 0
    after = wait_for_end(run_id, runs_dir)
    assert after.status == "done" and after.resumed_from == 0
    assert "training starts over at step 0" in store.read_log(run_id, runs_dir, tail=5000)


def test_a_resumed_run_continues_from_its_checkpoint_and_its_duration_leaves_out_the_gap(task, runs_dir,
                                                                                        tiny_model_dir):
    run_id = submit(make_spec(task, tiny_model_dir, max_steps=400, eval_every=0, checkpoint_every=0), runs_dir,
                    launch=False)
    path = layout.run_path(run_id, runs_dir)

    def stop_after_the_first_step():
        wait_until(lambda: last_step(run_id, runs_dir) >= 1, 120, what="the first step")
        layout.touch(path / "STOP")

    threading.Thread(target=stop_after_the_first_step, daemon=True).start()
    assert main(path) == EXIT_CANCELLED
    stopped = store.get_run(run_id, runs_dir)
    assert stopped.checkpoint == stopped.step >= 1  # a cancel keeps the progress in a checkpoint
    first_session = stopped.active_seconds
    assert 0 < first_session < 300
    # The run stopped an hour ago (the same files, their times an hour earlier): the hour is no running time.
    status = layout.read_status(path)
    layout.write_json_atomic(path / "status.json", {**status, "started": status["started"] - 3600,
                                                    "finished": status["finished"] - 3600})
    assert store.resume(run_id, runs_dir).resumed_from == stopped.step
    done = wait_for_end(run_id, runs_dir)
    assert done.status == "done" and done.resumed_from == stopped.step
    assert done.finished - done.started > 3600
    assert first_session < done.active_seconds < 600
    assert f"resumed from checkpoint step-{stopped.step:06d}" in store.read_log(run_id, runs_dir, tail=5000)


def test_duration_of_a_running_run_grows_and_runs_of_older_versions_keep_theirs():
    now = 1000.0
    assert active_seconds({"status": "running", "active_seconds": 10.0, "updated": 990.0}, now) == 20.0
    assert active_seconds({"status": "cancelled", "active_seconds": 10.0, "updated": 990.0}, now) == 10.0
    assert active_seconds({"status": "done", "started": 100.0, "finished": 400.0}, now) == 300.0  # no record
    assert active_seconds({"status": "queued", "started": None}, now) is None


def test_a_cancel_shows_at_once_as_stopping(tmp_path):
    path = fake_run(tmp_path, "live", status="running")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        layout.write_json_atomic(path / "worker.json", queue.process_record(proc.pid))
        assert store.get_run("live", tmp_path).stopping is False
        assert store.cancel("live", tmp_path).stopping is True  # the worker has not stopped yet: "stopping..."
        assert store.get_run("live", tmp_path).status == "running"
    finally:
        proc.kill()
        proc.wait()


def test_a_run_has_a_name_and_a_note_in_its_folder(tmp_path):
    fake_run(tmp_path, "r1")
    info = store.set_notes("r1", tmp_path, name="  lr 0.3\n try ", note="Works best so far.\nTry more steps.\x07")
    assert (info.name, info.note) == ("lr 0.3 try", "Works best so far.\nTry more steps.")
    assert json.loads((tmp_path / "r1" / "notes.json").read_text()) == {"name": "lr 0.3 try",
                                                                       "note": "Works best so far.\nTry more steps."}
    assert store.set_notes("r1", tmp_path, note="").name == "lr 0.3 try"  # None leaves the other part
    assert store.list_runs(tmp_path)[0].name == "lr 0.3 try"
    with pytest.raises(ValueError, match="name may have at most 120 characters"):
        store.set_notes("r1", tmp_path, name="x" * 121)
    owned = fake_run(tmp_path, "mine")
    layout.write_json_atomic(owned / "owner.json", {"sha256": store.owner_digest("a" * 20)})
    with pytest.raises(ValueError, match="started by someone else"):
        store.set_notes("mine", tmp_path, owner="b" * 20, name="x")


def test_a_run_folder_of_an_older_version_lists_with_its_duration(tmp_path):
    path = fake_run(tmp_path, "old", status="done")
    status = layout.read_status(path)
    for key in ("updated",):
        status.pop(key)
    layout.write_json_atomic(path / "status.json", {**status, "started": 100.0, "finished": 160.0})
    info = store.get_run("old", tmp_path)
    assert (info.active_seconds, info.name, info.note, info.resumed_from, info.checkpoint) == (60.0, "", "", None,
                                                                                                None)
    assert not info.stopping and time.time() > info.created
