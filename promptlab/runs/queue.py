"""The job queue: worker processes, their liveness, device slots and first-in-first-out order.

A job is a subprocess of our own CLI (`python -m promptlab.cli worker <run_dir>`, no shell, its own process
session), so it outlives the web page that started it and frees its memory when it ends. The queue is file based,
so the app and the CLI share it and it survives restarts: every started job gets its worker process at once; the
worker waits, status "queued", until it is the oldest live queued run and it holds one of `settings.max_jobs()`
device slots, `flock`ed files under `runs/.slots/`. The kernel drops a lock when its process dies, so a killed
worker never blocks the queue. The same way, a worker holds its run's `.worker.lock` for as long as it lives: a
second worker on the same run exits at once, and a held lock is how readers know the worker is alive.

Readers reconcile: an active run whose worker is gone becomes interrupted (or cancelled), written back under the
run lock when the disk allows, concluded in memory when it does not.
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
from promptlab.messages import Message, UserError
from promptlab.runs.layout import (
    RunBusy,
    disk_is_full,
    error_of,
    free_bytes,
    open_append,
    read_json,
    read_status,
    run_lock,
    size_text,
    update_status,
    write_json_atomic,
)

DAMAGED = "damaged"  # not written by anyone: what a reader says of a run whose files cannot be read
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", DAMAGED)
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
    if worker_lock_held(run_dir):
        return True
    record = read_json(run_dir / "worker.json")
    if not isinstance(record, dict) or not record:
        return time.time() - _number(read_status(run_dir).get("updated")) < _LAUNCH_GRACE_S
    try:
        proc = psutil.Process(record["pid"])
        same = abs(proc.create_time() - record["create_time"]) < 1.0
        return same and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError, ValueError, OverflowError):
        return False


def _number(value) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def refresh(run_dir: Path, status: dict) -> dict:
    """Reconcile an active status with reality: a dead worker's run becomes interrupted (or cancelled).

    Readers call this, so it never fails for want of writing: the verdict is written back when it can be (under
    the run lock, checked again there), and returned either way (a full or read-only disk keeps it in memory)."""
    if status.get("status") not in ACTIVE:
        return status
    stop = run_dir / "STOP"
    if alive(run_dir):
        if os.path.lexists(stop) and time.time() - stop.lstat().st_mtime > settings.cancel_grace_s():
            kill(run_dir)  # the cooperative stop did not happen in time
            return _reconcile(run_dir, status, {"status": "cancelled", "finished": time.time()}, dead_only=False)
        return status
    return _reconcile(run_dir, status, None, dead_only=True)


def _reconcile(run_dir: Path, status: dict, changes: dict | None, dead_only: bool) -> dict:
    """Write a reader's verdict under the run lock, best-effort; return the status it concludes."""
    try:
        with run_lock(run_dir, timeout=1.0):
            status = read_status(run_dir) or status  # again: the worker may have finished meanwhile
            if status.get("status") not in ACTIVE or (dead_only and alive(run_dir)):
                return status
            changes = changes or _dead_worker_verdict(run_dir, status)
            return update_status(run_dir, **changes)
    except RunBusy:  # another process is changing this run right now; the next read will tell
        return status
    except OSError:  # the disk is full or read-only: conclude anyway, write nothing
        if status.get("status") not in ACTIVE:
            return status
        return {**status, **(changes or _dead_worker_verdict(run_dir, status))}


def _dead_worker_verdict(run_dir: Path, status: dict) -> dict:
    """The status of a run whose worker is gone: cancelled if asked to stop, else interrupted (naming a full disk)."""
    if os.path.lexists(run_dir / "STOP"):
        return {"status": "cancelled", "finished": time.time(), "error": error_of(status)}
    if disk_is_full(run_dir):
        error = Message("run.disk_full_worker_ended", free=size_text(free_bytes(run_dir)), run=run_dir.name)
    else:
        error = Message("run.worker_ended")
    return {"status": "interrupted", "finished": time.time(), "error": error_of(status) or error}


def kill(run_dir: Path) -> None:
    """SIGKILL the run's worker (and its process group), if it is alive."""
    record = read_json(run_dir / "worker.json") or {}
    if isinstance(record, dict) and isinstance(record.get("pid"), int) and alive(run_dir):
        pid = record["pid"]
        try:  # a worker we launched leads its own process group: killing the group takes its children too
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---- one worker per run -------------------------------------------------------------------------------------------

def hold_worker_lock(run_dir: Path, wait: float = 5.0):
    """The run's `.worker.lock`, locked for this process's lifetime (the kernel drops it when the process dies), or
    None when another live worker holds it. Waits a little: a reader's liveness probe holds it for microseconds."""
    fd = os.open(run_dir / ".worker.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def worker_lock_held(run_dir: Path) -> bool:
    """Does a live worker hold the run's `.worker.lock`? (False also when there is no such file yet.)"""
    try:
        fd = os.open(run_dir / ".worker.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def is_next_in_queue(run_dir: Path) -> bool:
    """True when no live queued run was created before this one (FIFO across app and CLI)."""
    me = _queued_at(read_status(run_dir)), run_dir.name
    for other in run_dir.parent.iterdir():
        if other == run_dir or other.name.startswith(".") or os.path.islink(other):
            continue
        status = read_status(other)
        older = status.get("status") == "queued" and (_queued_at(status), other.name) < me
        if older and refresh(other, status).get("status") == "queued":
            return False
    return True


def _queued_at(status: dict) -> float:
    return _number(status.get("queued_at")) or _number(status.get("created"))


def try_acquire_slot(runs_dir: Path):
    """An open, exclusively locked slot file, or None when every slot is taken. Keep it open while training."""
    slots = Path(runs_dir) / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    for i in range(settings.max_jobs()):
        f = open_append(slots / f"slot-{i}.lock")  # the open file is the lock: the caller holds it
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
        with open_append(path) as f:
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
    """Start the run's worker process (it queues like any other). The caller holds the run lock; a run whose
    worker is still alive gets no second one."""
    if worker_lock_held(run_dir):
        raise UserError("run.worker_exists", run=run_dir.name)
    (run_dir / "worker.json").unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    package_root = str(settings.REPO_ROOT)  # so the worker imports this very checkout, installed or not
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    with open_append(run_dir / "log.txt") as log:
        proc = subprocess.Popen(worker_command(run_dir), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(run_dir))
    _children[proc.pid] = proc
    try:
        write_json_atomic(run_dir / "worker.json", process_record(proc.pid))
    except Exception:  # noqa: BLE001 - it died already; the worker.json-less grace period then marks it
        pass
