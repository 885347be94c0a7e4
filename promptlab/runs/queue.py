"""The job queue: worker processes, their liveness, device slots and first-in-first-out order.

A job is a subprocess of our own CLI (`python -m promptlab.cli worker <run_dir>`, no shell, its own process
session), so it outlives the web page that started it and frees its memory when it ends. The queue is file based,
so the app and the CLI share it and it survives restarts: every started job gets its worker process at once; the
worker waits, status "queued", until it is the oldest live queued run and it holds one of `settings.max_jobs()`
device slots, `flock`ed files under `runs/.slots/`. The kernel drops a lock when its process dies, so a killed
worker never blocks the queue.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from promptlab import settings
from promptlab.runs.layout import read_json, read_status, update_status, write_json_atomic

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
RESUMABLE = ("interrupted", "failed", "cancelled")
_LAUNCH_GRACE_S = 60.0  # a queued run may have no worker.json yet for this long (the process is starting)
_children: dict[int, subprocess.Popen] = {}  # workers started by this process, polled so they don't linger as zombies


def process_record(pid: int | None = None) -> dict:
    """{pid, create_time} of a process: the pair tells a live worker from a recycled pid."""
    import psutil

    proc = psutil.Process(pid or os.getpid())
    return {"pid": proc.pid, "create_time": proc.create_time()}


def alive(run_dir: Path) -> bool:
    """Is the run's worker process running (or still starting)?"""
    import psutil

    for pid, proc in list(_children.items()):  # reap our own finished children
        if proc.poll() is not None:
            _children.pop(pid, None)
    record = read_json(run_dir / "worker.json")
    if not record:
        return time.time() - read_status(run_dir).get("updated", 0) < _LAUNCH_GRACE_S
    try:
        proc = psutil.Process(record["pid"])
        same = abs(proc.create_time() - record["create_time"]) < 1.0
        return same and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError):
        return False


def refresh(run_dir: Path, status: dict) -> dict:
    """Reconcile an active status with reality: a dead worker's run becomes interrupted (or cancelled)."""
    if status.get("status") not in ACTIVE:
        return status
    stop = run_dir / "STOP"
    if not alive(run_dir):
        status = read_status(run_dir)  # again: the worker may have finished meanwhile
        if status.get("status") not in ACTIVE:
            return status
        new = "cancelled" if stop.exists() else "interrupted"
        error = None if new == "cancelled" else "The worker process ended unexpectedly; `runs resume` continues it."
        return update_status(run_dir, status=new, finished=time.time(), error=status.get("error") or error)
    if stop.exists() and time.time() - stop.stat().st_mtime > settings.cancel_grace_s():
        kill(run_dir)  # the cooperative stop did not happen in time
        return update_status(run_dir, status="cancelled", finished=time.time())
    return status


def kill(run_dir: Path) -> None:
    """SIGKILL the run's worker (and its process group), if it is alive."""
    record = read_json(run_dir / "worker.json") or {}
    if record and alive(run_dir):
        pid = record["pid"]
        try:  # a worker we launched leads its own process group: killing the group takes its children too
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def is_next_in_queue(run_dir: Path) -> bool:
    """True when no live queued run was created before this one (FIFO across app and CLI)."""
    me = _queued_at(read_status(run_dir)), run_dir.name
    for other in run_dir.parent.iterdir():
        if other == run_dir or not (other / "status.json").is_file():
            continue
        status = read_status(other)
        older = status.get("status") == "queued" and (_queued_at(status), other.name) < me
        if older and refresh(other, status).get("status") == "queued":
            return False
    return True


def _queued_at(status: dict) -> float:
    return status.get("queued_at") or status.get("created") or 0.0


def try_acquire_slot(runs_dir: Path):
    """An open, exclusively locked slot file, or None when every slot is taken. Keep it open while training."""
    slots = Path(runs_dir) / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    for i in range(settings.max_jobs()):
        f = open(slots / f"slot-{i}.lock", "a+")  # noqa: SIM115 - the open file is the lock: the caller holds it
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except OSError:
            f.close()
    return None


def slots_in_use(runs_dir) -> int:
    """How many device slots a worker holds right now (a worker that is training holds one). Cheap: one
    non-blocking lock attempt per slot, no run folder read."""
    slots = Path(runs_dir) / ".slots"
    held = 0
    for i in range(settings.max_jobs()):
        path = slots / f"slot-{i}.lock"
        if not path.is_file():
            continue
        with open(path, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
            except OSError:
                held += 1
    return held


def worker_command(run_dir: Path) -> list[str]:
    """The worker's command line: our own CLI, run by this Python, no shell."""
    return [sys.executable, "-m", "promptlab.cli", "worker", str(run_dir)]


def launch_worker(run_dir: Path) -> None:
    """Start the run's worker process (it queues like any other)."""
    (run_dir / "worker.json").unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    package_root = str(settings.REPO_ROOT)  # so the worker imports this very checkout, installed or not
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    with open(run_dir / "log.txt", "a", encoding="utf-8") as log:
        proc = subprocess.Popen(worker_command(run_dir), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(run_dir))
    _children[proc.pid] = proc
    try:
        write_json_atomic(run_dir / "worker.json", process_record(proc.pid))
    except Exception:  # noqa: BLE001 - it died already; the worker.json-less grace period then marks it
        pass
