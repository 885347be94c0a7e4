"""The run store under races, damage, links, full disks and strangers: real processes, real files, no training.

Issue 12, classes 3-5: two Resume clicks start one worker; a damaged run is listed as damaged and every other run
as usual; nothing is read or written through a link planted in a run folder; a full disk never makes a reader
crash or a run look "running" forever; a visitor acts on their own runs only; training off starts no worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from promptlab import cli
from promptlab.runs import export, layout, queue, store
from promptlab.tuning.run import Run

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

SECRET = "root:x:0:0:SECRET-LINE:/root:/bin/bash"


def fake_run(runs_dir: Path, run_id: str, status: str = "done", **extra) -> Path:
    """A run folder written by hand (no worker), as a worker would have left it."""
    path = runs_dir / run_id
    path.mkdir(parents=True)
    (path / "spec.json").write_text(json.dumps({"template": "name: t\nprompt: x", "config": {"method": "lora"}}))
    now = time.time()
    layout.write_json_atomic(path / "status.json", {"status": status, "created": now, "started": now,
                                                  "finished": None, "step": 3, "total_steps": 10, "updated": now,
                                                  **extra})
    return path


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "passwd"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SECRET + "\n")
    return path


def cli_run(*argv) -> tuple[int, str, str]:
    """The real CLI in a subprocess (a traceback would show as exit 1 with the trace on stderr)."""
    out = subprocess.run([sys.executable, "-m", "promptlab.cli", *map(str, argv)], capture_output=True, text=True,
                         timeout=120)
    return out.returncode, out.stdout, out.stderr


def wait_for_no_worker(path: Path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not queue.worker_lock_held(path) and not queue.alive(path):
            return
        time.sleep(0.1)
    raise AssertionError(f"a worker of {path.name} is still running")


# ---- 1. state changes are atomic across processes -------------------------------------------------------------

RACER = textwrap.dedent("""
    import sys, time
    from promptlab.runs import store
    action, run_id, runs_dir, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    while time.time() < start:  # every racer acts at the same moment
        pass
    try:
        getattr(store, action)(run_id, runs_dir)
        print("ok")
    except ValueError as err:
        print("refused:", err)
""")


def race(runs_dir: Path, run_id: str, actions: list[str]) -> list[tuple[str, str]]:
    """Run `store.<action>(run_id)` in one process per action, all at the same instant; (action, output) each."""
    start = time.time() + 3.0  # every process has imported the store by then
    procs = [(a, subprocess.Popen([sys.executable, "-c", RACER, a, run_id, str(runs_dir), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)) for a in actions]
    results = []
    for action, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append((action, out.strip()))
    return results


def test_resumes_at_the_same_moment_start_one_worker(tmp_path):
    path = fake_run(tmp_path, "r1", status="interrupted")
    slot = queue.try_acquire_slot(tmp_path)  # the device is busy: a started worker waits, queued, doing nothing
    try:
        results = race(tmp_path, "r1", ["resume"] * 6)
        started = [out for _, out in results if out == "ok"]
        assert len(started) == 1, results
        for _, out in results:
            assert out == "ok" or out.startswith("refused: Run r1 is already queued: there is nothing to resume."), out
        deadline = time.time() + 30  # give any second worker the time to show itself in the log
        while time.time() < deadline and "queued: waiting" not in (path / "log.txt").read_text():
            time.sleep(0.1)
        time.sleep(1.0)
        store.cancel("r1", tmp_path)
        wait_for_no_worker(path)
    finally:
        slot.close()
    log = (path / "log.txt").read_text()
    assert log.count("queued: waiting") == 1, log  # one worker ran, and it ended cancelled
    assert log.count("cancelled while queued") == 1, log
    assert store.get_run("r1", tmp_path).status == "cancelled"


def test_delete_and_resume_at_the_same_moment_never_both_succeed(tmp_path):
    path = fake_run(tmp_path, "r1", status="cancelled")
    slot = queue.try_acquire_slot(tmp_path)
    try:
        results = race(tmp_path, "r1", ["resume", "delete"] * 3)
        succeeded = {action for action, out in results if out == "ok"}
        assert len(succeeded) == 1, results
        if succeeded == {"resume"}:  # then the run is queued, so every delete was refused, and it still exists
            assert all("is still active: cancel it first" in out for a, out in results if a == "delete"), results
            store.cancel("r1", tmp_path)
            wait_for_no_worker(path)
        else:  # deleted first: every resume found no run, and no worker started on the vanished folder
            assert not path.exists()
            assert all(out.startswith("refused: No run 'r1'") for a, out in results if a == "resume"), results
            assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    finally:
        slot.close()


def test_a_second_worker_on_the_same_run_exits_without_touching_it(tmp_path):
    path = fake_run(tmp_path, "r1", status="queued")
    slot = queue.try_acquire_slot(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    first = subprocess.Popen(queue.worker_command(path), cwd=path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not (queue.worker_lock_held(path) and (path / "worker.json").exists()):
            time.sleep(0.05)
        record = json.loads((path / "worker.json").read_text())
        second = subprocess.run(queue.worker_command(path), cwd=path, env=env, capture_output=True, timeout=60)
        assert second.returncode == 2
        assert json.loads((path / "worker.json").read_text()) == record  # the first worker's record stands
        assert "another worker is already running this run" in (path / "log.txt").read_text()
        assert store.get_run("r1", tmp_path).status == "queued" and queue.alive(path)
    finally:
        layout.touch(path / "STOP")
        first.wait(timeout=30)
        slot.close()
    assert store.get_run("r1", tmp_path).status == "cancelled"


# ---- 2. damaged runs are listed as damaged, and every other run as usual ----------------------------------------

def _damage(path: Path, name: str, how: str, tmp_path: Path) -> None:
    target = path / name
    target.unlink()
    if how == "folder":
        target.mkdir()
    elif how == "link":
        elsewhere = tmp_path / "elsewhere" / name
        elsewhere.parent.mkdir(exist_ok=True)
        elsewhere.write_text(json.dumps({"status": "done", "template": "name: stolen\nprompt: x"}))
        target.symlink_to(elsewhere)
    elif how == "fifo":
        os.mkfifo(target)
    elif how == "binary":
        target.write_bytes(bytes(range(256)) * 4)
    elif how == "missing":
        pass
    else:
        target.write_text(how)


DAMAGES = [
    ("status.json", "{not json", "status.json is not valid JSON"),
    ("status.json", "binary", "status.json is not UTF-8 text"),
    ("status.json", "folder", "status.json is a folder, not a file"),
    ("status.json", "link", "status.json is a symbolic link, which PromptLab never follows"),
    ("status.json", "fifo", "status.json is not a regular file"),
    ("status.json", "missing", "status.json is missing"),
    ("status.json", "[1, 2]", "status.json holds a list, not a JSON object"),
    ("status.json", '{"status": "done", "step": "three"}', "status.json's step is 'three', not a number"),
    ("status.json", '{"status": "exploded"}', "status.json has an unknown status 'exploded'"),
    ("spec.json", "\x00\x01garbage", "spec.json is not valid JSON"),
    ("spec.json", "binary", "spec.json is not UTF-8 text"),
    ("spec.json", "folder", "spec.json is a folder, not a file"),
    ("spec.json", "link", "spec.json is a symbolic link"),
    ("spec.json", "missing", "spec.json is missing"),
]


DAMAGE_IDS = ["status-garbage", "status-binary", "status-folder", "status-link", "status-fifo", "status-missing",
              "status-list", "status-bad-step", "status-unknown", "spec-garbage", "spec-binary", "spec-folder",
              "spec-link", "spec-missing"]


@pytest.mark.parametrize("name, how, reason", DAMAGES, ids=DAMAGE_IDS)
def test_a_damaged_run_is_listed_as_damaged_shown_and_deletable(tmp_path, name, how, reason):
    runs_dir = tmp_path / "runs"
    fake_run(runs_dir, "good", status="done", created=1000.0)
    bad = fake_run(runs_dir, "bad", status="done", created=2000.0)
    _damage(bad, name, how, tmp_path)

    runs = {r.run_id: r for r in store.list_runs(runs_dir)}
    assert set(runs) == {"good", "bad"}
    assert runs["good"].status == "done"
    assert runs["bad"].status == "damaged"
    assert runs["bad"].error.startswith(f"Run bad is damaged: {reason}"), runs["bad"].error
    assert "promptlab runs delete bad" in runs["bad"].error
    assert store.get_run("bad", runs_dir).status == "damaged"
    assert "stolen" not in json.dumps(runs["bad"].spec)  # nothing was read through the link

    code, out, err = cli_run("runs", "--runs-dir", runs_dir, "list")
    assert code == 0, err
    assert "good" in out and "damaged" in out and reason in out
    code, out, err = cli_run("runs", "--runs-dir", runs_dir, "list", "--json")
    assert code == 0 and {r["run_id"]: r["status"] for r in json.loads(out)} == {"good": "done", "bad": "damaged"}
    code, out, err = cli_run("runs", "--runs-dir", runs_dir, "show", "bad")
    assert code == 0, err
    assert out.startswith("run bad: damaged") and reason in out
    with pytest.raises(ValueError, match="Run bad cannot be resumed: Run bad is damaged"):
        store.resume("bad", runs_dir, allow_training=True)
    code, out, err = cli_run("runs", "--runs-dir", runs_dir, "delete", "bad")
    assert (code, out.strip()) == (0, "deleted bad"), err
    assert [r.run_id for r in store.list_runs(runs_dir)] == ["good"]
    assert not [p for p in runs_dir.iterdir() if p.name.startswith(".bad")]  # no half-deleted leftovers
    assert how != "link" or (tmp_path / "elsewhere" / name).is_file()  # the link went, not what it pointed to


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_status_file_is_damaged_not_a_crash(tmp_path):
    fake_run(tmp_path, "good")
    bad = fake_run(tmp_path, "bad")
    (bad / "status.json").chmod(0)
    runs = {r.run_id: r for r in store.list_runs(tmp_path)}
    assert runs["good"].status == "done" and runs["bad"].status == "damaged"
    assert "status.json is unreadable (Permission denied)" in runs["bad"].error
    store.delete("bad", tmp_path)


def test_a_run_folder_that_is_a_link_is_listed_as_damaged_and_never_followed(tmp_path):
    runs_dir = tmp_path / "runs"
    fake_run(runs_dir, "good")
    victim = fake_run(tmp_path / "elsewhere", "victim", status="interrupted")
    (runs_dir / "evil").symlink_to(victim)
    runs = {r.run_id: r for r in store.list_runs(runs_dir)}
    assert runs["good"].status == "done"
    assert runs["evil"].status == "damaged" and "symbolic link" in runs["evil"].error
    for action in (store.read_log, store.read_metrics, store.adapter_dir):
        with pytest.raises(ValueError, match="is a symbolic link to another folder"):
            action("evil", runs_dir)
    with pytest.raises(ValueError, match="is a symbolic link to another folder"):
        store.resume("evil", runs_dir, allow_training=True)
    store.delete("evil", runs_dir)  # removes the link, not what it points to
    assert not os.path.lexists(runs_dir / "evil")
    assert (victim / "spec.json").exists() and not (victim / "worker.json").exists()


def test_odd_values_in_readable_files_do_not_break_the_listing(tmp_path):
    run = fake_run(tmp_path, "odd", best=None, eta_seconds=None)
    (run / "baselines.json").write_text("[1, 2, 3]")  # not a mapping: ignored
    (run / "spec.json").write_text(json.dumps({"template": 5, "config": ["lora"], "data": None}))
    (run / "metrics.jsonl").mkdir()
    (run / "log.txt").mkdir()
    info = store.get_run("odd", tmp_path)
    assert (info.status, info.baselines, info.template, info.method) == ("done", {}, "?", "")
    code, out, err = cli_run("runs", "--runs-dir", tmp_path, "show", "odd")
    assert code == 0, err
    assert "log.txt is not shown: it is a folder" in out


# ---- 3. a full disk: readers conclude, never crash (a real tmpfs) -----------------------------------------------

def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_tmpfs = pytest.mark.skipif(not _namespaces_work(),
                                 reason="needs `unshare -rm` (a user+mount namespace) to mount a small tmpfs")

FULL_DISK_READERS = textwrap.dedent("""
    import json, os, subprocess, sys
    from promptlab.runs import layout
    runs = sys.argv[1]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", runs], check=True)
    run = os.path.join(runs, "r1")
    os.mkdir(run)
    now = __import__("time").time()
    layout.write_json_atomic(layout.Path(run, "spec.json"), {"template": "name: t", "config": {"method": "lora"}})
    layout.write_json_atomic(layout.Path(run, "status.json"), {"status": "running", "created": now, "step": 3,
                                                               "total_steps": 9, "updated": now})
    layout.write_json_atomic(layout.Path(run, "worker.json"), {"pid": 2**22 - 7, "create_time": 1.0})  # dead
    with open(os.path.join(runs, "filler"), "wb", buffering=0) as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "promptlab.cli", "runs", "--runs-dir", runs, *args],
                             capture_output=True, text=True)
        return {"code": out.returncode, "out": out.stdout, "err": out.stderr[-2000:]}
    result = {"free": os.statvfs(runs).f_bavail, "list": cli("list", "--json"), "show": cli("show", "r1"),
              "on_disk_while_full": json.load(open(os.path.join(run, "status.json")))["status"]}
    os.unlink(os.path.join(runs, "filler"))
    result["list_after"] = cli("list", "--json")
    result["on_disk_after"] = json.load(open(os.path.join(run, "status.json")))["status"]
    print(json.dumps(result))
""")


@needs_tmpfs
def test_a_full_disk_never_breaks_listing_and_a_dead_workers_run_is_not_running(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    script = tmp_path / "readers.py"
    script.write_text(FULL_DISK_READERS)
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["unshare", "-rm", sys.executable, str(script), str(runs)], capture_output=True, text=True,
                         timeout=300, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["free"] == 0
    assert result["list"]["code"] == 0, result["list"]["err"]  # was: a traceback (the reconciliation write)
    listed = json.loads(result["list"]["out"])[0]
    assert listed["status"] == "interrupted"
    assert listed["error"].startswith("The disk is full (0 KB free where the runs are) and the worker process ended.")
    assert "`promptlab runs resume r1` continues" in listed["error"]
    assert result["show"]["code"] == 0 and "run r1: interrupted" in result["show"]["out"]
    assert result["on_disk_while_full"] == "running"  # nothing could be written; the verdict held anyway
    assert json.loads(result["list_after"]["out"])[0]["status"] == "interrupted"
    assert result["on_disk_after"] == "interrupted"  # space again: the verdict is written back


# ---- 5. links inside a run folder are never followed ------------------------------------------------------------

def _fake_adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def test_links_in_a_run_folder_are_not_shown(tmp_path):
    secret = secret_file(tmp_path)
    run = fake_run(tmp_path / "runs", "r1")
    (run / "log.txt").symlink_to(secret)
    (run / "metrics.jsonl").symlink_to(secret.parent / "metrics.jsonl")
    (secret.parent / "metrics.jsonl").write_text(json.dumps({"step": 1, "leak": SECRET}) + "\n")
    log = store.read_log("r1", tmp_path / "runs")
    assert SECRET not in log
    assert log == "(log.txt is not shown: it is a symbolic link, which PromptLab never follows in a run folder.)"
    assert store.read_metrics("r1", tmp_path / "runs") == []
    code, out, err = cli_run("runs", "--runs-dir", tmp_path / "runs", "show", "r1")
    assert code == 0 and SECRET not in out, err


def test_links_in_a_run_folder_are_left_out_of_the_export(tmp_path):
    secret = secret_file(tmp_path)
    run = fake_run(tmp_path / "runs", "r1")
    _fake_adapter(run / "adapter")
    (run / "log.txt").symlink_to(secret)
    (run / "adapter" / "extra.bin").symlink_to(secret)
    bundle = export.export_bundle("r1", tmp_path / "bundle.zip", tmp_path / "runs")
    with zipfile.ZipFile(bundle) as z:
        assert all(SECRET.encode() not in z.read(name) for name in z.namelist()), z.namelist()
        assert "log.txt" not in z.namelist() and "adapter/extra.bin" not in z.namelist()
        assert z.read("adapter/adapter_model.safetensors") == b"weights"
        readme = z.read("README.md").decode()
    assert "- log.txt: it is a symbolic link, which PromptLab never follows in a run folder" in readme
    assert "- adapter/extra.bin: it is a symbolic link" in readme
    adapter_zip = export.export_adapter_zip("r1", tmp_path / "adapter.zip", tmp_path / "runs")
    with zipfile.ZipFile(adapter_zip) as z:  # what the app offers for download
        assert sorted(z.namelist()) == ["README.md", "adapter_config.json", "adapter_model.safetensors"]


def test_the_worker_never_writes_through_a_link_in_its_run_folder(tmp_path):
    victim = secret_file(tmp_path)
    run_dir = fake_run(tmp_path / "runs", "r1")
    (run_dir / "log.txt").symlink_to(victim)
    (run_dir / "metrics.jsonl").symlink_to(victim)
    (run_dir / ".metrics.jsonl.tmp").symlink_to(victim)  # the temp name an older writer used
    run = Run(run_dir)
    run.log("a log line")
    run.metric(step=1, loss=0.5)
    run.keep_metrics_through(1)
    assert victim.read_text() == SECRET + "\n"
    assert not (run_dir / "log.txt").is_symlink() and "a log line" in (run_dir / "log.txt").read_text()
    assert store.read_metrics("r1", tmp_path / "runs") == [{"step": 1, "loss": 0.5}]


def test_a_checkpoint_planted_as_a_link_is_never_loaded(tmp_path):
    from promptlab.tuning.checkpoint import list_checkpoints

    checkpoints = tmp_path / "run" / "checkpoints"
    for step in (2, 4):
        real = checkpoints / f"step-{step:06d}"
        real.mkdir(parents=True)
        for name in ("trainable.pt", "optimizer.pt", "scheduler.pt", "rng.pt", "state.json"):
            (real / name).write_bytes(b"x")
    elsewhere = tmp_path / "attacker" / "step-000009"
    shutil.copytree(checkpoints / "step-000004", elsewhere)
    (checkpoints / "step-000009").symlink_to(elsewhere)  # the newest, so resume would load its pickles
    (checkpoints / "step-000004" / "optimizer.pt").unlink()
    (checkpoints / "step-000004" / "optimizer.pt").symlink_to(elsewhere / "optimizer.pt")
    assert [p.name for p in list_checkpoints(checkpoints)] == ["step-000002"]


def test_cancel_never_creates_a_file_through_a_stop_link(tmp_path):
    run = fake_run(tmp_path / "runs", "r1", status="queued")
    planted = tmp_path / "elsewhere" / "created-by-cancel"
    planted.parent.mkdir()
    (run / "STOP").symlink_to(planted)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        layout.write_json_atomic(run / "worker.json", queue.process_record(proc.pid))
        store.cancel("r1", tmp_path / "runs")
    finally:
        proc.kill()
        proc.wait()
    assert not planted.exists()
    assert (run / "STOP").is_file() and not (run / "STOP").is_symlink()


def test_export_into_a_shared_folder_never_writes_through_a_planted_temp_link(tmp_path):
    victim = secret_file(tmp_path)
    run = fake_run(tmp_path / "runs", "r1")
    _fake_adapter(run / "adapter")
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    (shared / ".bundle.zip.tmp").symlink_to(victim)  # another local user's trap at the old fixed temp name
    out = export.export_bundle("r1", shared / "bundle.zip", tmp_path / "runs")
    assert victim.read_text() == SECRET + "\n"
    assert zipfile.ZipFile(out).testzip() is None
    assert sorted(p.name for p in shared.iterdir()) == [".bundle.zip.tmp", "bundle.zip"]


# ---- 6. ownership and the training gate ------------------------------------------------------------------------

ALICE, BOB = "alice-secret-token-0123456789", "bob-secret-token-9876543210"
SPEC = {"template": "name: t\nprompt: x", "config": {"method": "lora"}, "total_steps": 4}


def test_a_visitor_sees_and_changes_only_their_own_runs(tmp_path):
    mine = store.create_run(SPEC, tmp_path, owner=ALICE)
    theirs = store.create_run(SPEC, tmp_path, owner=BOB)
    local = store.create_run(SPEC, tmp_path)
    for run_id in (mine, theirs, local):
        layout.update_status(tmp_path / run_id, status="cancelled")
    assert [r.run_id for r in store.list_runs(tmp_path, owner=ALICE)] == [mine]
    assert [r.run_id for r in store.list_runs(tmp_path, owner=BOB)] == [theirs]
    assert {r.run_id for r in store.list_runs(tmp_path)} == {mine, theirs, local}  # no owner: local use, the CLI
    refused = f"Run {theirs} was started by someone else: you can see and change only your own runs here."
    for action in (store.get_run, store.read_log, store.read_metrics, store.delete, store.cancel):
        with pytest.raises(ValueError, match=refused):
            action(theirs, tmp_path, owner=ALICE)
    with pytest.raises(ValueError, match=refused):
        store.resume(theirs, tmp_path, owner=ALICE, allow_training=True)
    with pytest.raises(ValueError, match=refused):
        export.export_bundle(theirs, tmp_path / "b.zip", tmp_path, owner=ALICE)
    with pytest.raises(ValueError, match="started by someone else"):
        store.delete(local, tmp_path, owner=ALICE)  # a run without an owner is no visitor's
    assert (tmp_path / theirs).is_dir() and (tmp_path / local).is_dir()
    store.delete(mine, tmp_path, owner=ALICE)
    assert not (tmp_path / mine).exists()
    stored = json.loads((tmp_path / theirs / "owner.json").read_text())
    assert len(stored["sha256"]) == 64
    for f in (tmp_path / theirs).iterdir():  # the token itself is written nowhere
        assert BOB not in f.read_text(errors="replace")
    assert "owner" not in json.loads((tmp_path / theirs / "spec.json").read_text())
    with pytest.raises(ValueError, match="owner token must be a secret string of 16 to 512 characters"):
        store.list_runs(tmp_path, owner="short")


def test_a_visitor_may_have_only_a_few_runs_queued_or_running(tmp_path, monkeypatch):
    """Each run holds a worker process and a place in the queue: a visitor of a public app gets
    PROMPTLAB_RUNS_PER_VISITOR (default 2) at a time, others are not held up, and the local user has no limit."""
    monkeypatch.delenv("PROMPTLAB_RUNS_PER_VISITOR", raising=False)
    first, second = (store.create_run(SPEC, tmp_path, owner=ALICE) for _ in range(2))
    with pytest.raises(ValueError, match=r"You have 2 run\(s\) queued or running .* allows 2 at a time per visitor"):
        store.create_run(SPEC, tmp_path, owner=ALICE)
    store.create_run(SPEC, tmp_path, owner=BOB)
    for _ in range(3):
        store.create_run(SPEC, tmp_path)
    layout.update_status(tmp_path / first, status="cancelled")
    third = store.create_run(SPEC, tmp_path, owner=ALICE)  # one ended: room for another
    with pytest.raises(ValueError, match="allows 2 at a time per visitor"):
        store.resume(first, tmp_path, owner=ALICE, allow_training=True)
    assert {r.run_id for r in store.list_runs(tmp_path, owner=ALICE)} == {first, second, third}


def test_with_training_off_resume_starts_no_worker(tmp_path, monkeypatch):
    path = fake_run(tmp_path, "r1", status="interrupted")
    with pytest.raises(ValueError, match=r"^Training is turned off on this server \(e.g. a public Space\)"):
        store.resume("r1", tmp_path, allow_training=False)
    monkeypatch.setenv("PROMPTLAB_ALLOW_TRAINING", "0")
    with pytest.raises(ValueError, match="Training is turned off on this server"):
        store.resume("r1", tmp_path)  # the server's switch is the default
    with pytest.raises(ValueError, match="Training is turned off on this server"):
        store.launch("r1", tmp_path)
    from promptlab.tuning.spec import submit

    with pytest.raises(ValueError, match="Training is turned off on this server"):
        submit({"template": "name: t", "data": "anything"}, tmp_path / "new-runs")
    assert not (tmp_path / "new-runs").exists()
    assert store.get_run("r1", tmp_path).status == "interrupted"
    assert not (path / "worker.json").exists() and not (path / "log.txt").exists()


def test_the_cli_says_why_it_refuses_instead_of_a_traceback(tmp_path, capsys, monkeypatch):
    fake_run(tmp_path, "r1", status="interrupted")
    monkeypatch.setenv("PROMPTLAB_ALLOW_TRAINING", "0")
    assert cli.main(["runs", "--runs-dir", str(tmp_path), "resume", "r1"]) == 2
    assert capsys.readouterr().err.startswith("promptlab: error: Training is turned off on this server")
