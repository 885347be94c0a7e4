"""Tuning jobs: run folders are the database.

Each run is a folder `runs/<id>/`:

    spec.json        what to train (template YAML text, data source, splits, model, TuneConfig); never changes
    template.yaml    the template, as a file (the bundle ships it)
    status.json      queued | running | done | failed | cancelled | interrupted, step, best, eta (atomic writes)
    worker.json      pid and start time of the worker process (how a dead worker is recognised)
    metrics.jsonl    one JSON object per line: train steps, evaluations, nearest tokens
    baselines.json   the manual-prompt baselines measured on the run's validation subset
    log.txt          the worker's output (progress lines, tracebacks)
    checkpoints/     step-N/ folders (adapter weights, optimizer, scheduler, RNG, step) for exact resume
    adapter/         the best adapter so far, loadable with PeftModel.from_pretrained(base, dir)
    STOP             present = cancel requested (the worker checks it every step)

A job is a subprocess of our own CLI (`python -m promptlab.cli worker <run_dir>`, no shell, its own process
session), so it outlives the web page that started it and frees its memory when it ends.

Queue (file based, so the app and the CLI share it and it survives restarts): every started job gets its worker
process at once; the worker waits, status "queued", until it is the oldest live queued run and it holds one of
`PROMPTLAB_MAX_JOBS` (default 1) device slots, `flock`ed files under `runs/.slots/`. The kernel drops a lock when
its process dies, so a killed worker never blocks the queue.

This module imports neither torch nor gradio.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from promptlab import settings

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
RESUMABLE = ("interrupted", "failed", "cancelled")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_LAUNCH_GRACE_S = 60.0  # a queued run may have no worker.json yet for this long (the process is starting)
_children: dict[int, subprocess.Popen] = {}  # workers started by this process, polled so they don't linger as zombies


@dataclass(frozen=True)
class RunInfo:
    """One run as the UI and CLI show it. Times are Unix seconds (None when not reached yet)."""

    run_id: str
    status: str
    created: float
    started: float | None
    finished: float | None
    spec: dict
    step: int
    total_steps: int
    best: dict = field(default_factory=dict)  # the best evaluation line so far ({"step": .., "acc": .., ...})
    baselines: dict = field(default_factory=dict)  # baselines.json (empty until measured)
    error: str | None = None
    eta_seconds: float | None = None


# ---- paths -----------------------------------------------------------------------------------------------------


def runs_root(runs_dir=None) -> Path:
    """The runs folder: `runs_dir`, else settings.runs_dir() ($PROMPTLAB_RUNS or ./runs)."""
    return Path(runs_dir).resolve() if runs_dir is not None else settings.runs_dir()


def run_path(run_id: str, runs_dir=None) -> Path:
    """The folder of `run_id`; ValueError for ids that are malformed or would leave the runs folder."""
    root = runs_root(runs_dir)
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ValueError(f"Invalid run id {run_id!r}: use letters, digits, '-', '_' and '.' only, "
                         "as `promptlab runs list` shows them.")
    path = (root / run_id).resolve()
    if path.parent != root:
        raise ValueError(f"Invalid run id {run_id!r}: it points outside the runs folder {root}.")
    return path


def _existing(run_id: str, runs_dir=None) -> Path:
    path = run_path(run_id, runs_dir)
    if not (path / "spec.json").is_file():
        raise ValueError(f"No run {run_id!r} in {runs_root(runs_dir)}. `promptlab runs list` shows the runs there.")
    return path


# ---- small file helpers (also used by the worker) ---------------------------------------------------------------


def write_json_atomic(path: Path, data) -> None:
    """Write JSON so readers see the old file or the new one, never half of one (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def read_jsonl(path: Path) -> list[dict]:
    """JSON lines of `path`, skipping lines that do not parse (a writer killed mid-line leaves a torn last line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def update_status(run_dir: Path, **changes) -> dict:
    """Merge `changes` into status.json (atomically) and return the new status."""
    status = read_json(run_dir / "status.json", {}) or {}
    status.update(changes, updated=time.time())
    write_json_atomic(run_dir / "status.json", status)
    return status


# ---- process liveness -------------------------------------------------------------------------------------------


def process_record(pid: int | None = None) -> dict:
    """{pid, create_time} of a process: the pair tells a live worker from a recycled pid."""
    import psutil

    proc = psutil.Process(pid or os.getpid())
    return {"pid": proc.pid, "create_time": proc.create_time()}


def _alive(run_dir: Path) -> bool:
    import psutil

    for pid, proc in list(_children.items()):  # reap our own finished children
        if proc.poll() is not None:
            _children.pop(pid, None)
    record = read_json(run_dir / "worker.json")
    if not record:
        status = read_json(run_dir / "status.json", {}) or {}
        return time.time() - status.get("updated", 0) < _LAUNCH_GRACE_S
    try:
        proc = psutil.Process(record["pid"])
        same = abs(proc.create_time() - record["create_time"]) < 1.0
        return same and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError):
        return False


def _refresh(run_dir: Path, status: dict) -> dict:
    """Reconcile an active status with reality: a dead worker's run becomes interrupted (or cancelled)."""
    if status.get("status") not in ACTIVE:
        return status
    stop = run_dir / "STOP"
    if not _alive(run_dir):
        status = read_json(run_dir / "status.json", {}) or {}  # again: the worker may have finished meanwhile
        if status.get("status") not in ACTIVE:
            return status
        new = "cancelled" if stop.exists() else "interrupted"
        error = None if new == "cancelled" else "The worker process ended unexpectedly; `runs resume` continues it."
        return update_status(run_dir, status=new, finished=time.time(), error=status.get("error") or error)
    if stop.exists() and time.time() - stop.stat().st_mtime > cancel_grace_s():
        _kill(run_dir)  # the cooperative stop did not happen in time
        return update_status(run_dir, status="cancelled", finished=time.time())
    return status


def _kill(run_dir: Path) -> None:
    record = read_json(run_dir / "worker.json") or {}
    if record and _alive(run_dir):
        pid = record["pid"]
        try:  # a worker we launched leads its own process group: killing the group takes its children too
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def cancel_grace_s() -> float:
    """Seconds a worker gets to stop by itself before it is killed ($PROMPTLAB_CANCEL_GRACE, default 30)."""
    return float(os.environ.get("PROMPTLAB_CANCEL_GRACE", "30"))


def max_jobs() -> int:
    """How many runs train at once ($PROMPTLAB_MAX_JOBS, default 1: one job per device)."""
    return max(1, int(os.environ.get("PROMPTLAB_MAX_JOBS", "1")))


# ---- queue (used by the worker) ----------------------------------------------------------------------------------


def is_next_in_queue(run_dir: Path) -> bool:
    """True when no live queued run was created before this one (FIFO across app and CLI)."""
    me = _queued_at(read_json(run_dir / "status.json", {}) or {}), run_dir.name
    for other in run_dir.parent.iterdir():
        if other == run_dir or not (other / "status.json").is_file():
            continue
        status = read_json(other / "status.json", {}) or {}
        older = status.get("status") == "queued" and (_queued_at(status), other.name) < me
        if older and _refresh(other, status).get("status") == "queued":
            return False
    return True


def _queued_at(status: dict) -> float:
    return status.get("queued_at") or status.get("created") or 0.0


def try_acquire_slot(runs_dir: Path):
    """An open, exclusively locked slot file, or None when every slot is taken. Keep it open while training."""
    slots = Path(runs_dir) / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    for i in range(max_jobs()):
        f = open(slots / f"slot-{i}.lock", "a+")  # noqa: SIM115 - the open file is the lock: the caller holds it
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except OSError:
            f.close()
    return None


# ---- the public API ---------------------------------------------------------------------------------------------


def start(spec: dict, runs_dir=None) -> str:
    """Validate `spec`, create its run folder, launch (or queue) its worker, and return the run id.

    `spec` keys: template (YAML text), data (path or dataset name), model, config (TuneConfig fields) and
    optionally train_split, eval_split, eval_size, label_column. Raises ValueError before creating anything
    when the spec or config is invalid.
    """
    run_id = create_run(spec, runs_dir)
    launch(run_id, runs_dir)
    return run_id


def launch(run_id: str, runs_dir=None) -> None:
    """Start the worker process of a run made by `create_run` (it queues like any other)."""
    _launch(_existing(run_id, runs_dir))


def create_run(spec: dict, runs_dir=None) -> str:
    """Validate `spec` and write its run folder (status queued) without launching a worker; return the run id.

    `start` = `create_run` + `launch`; in between, a caller may add files (e.g. baselines.json measured
    already). Or run the worker yourself (`promptlab worker RUN_DIR`) to train in the foreground. A created run
    that no worker picks up within a minute is marked interrupted.
    """
    from promptlab.tuning.spec import prepare_spec

    spec = prepare_spec(spec)
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{spec['config']['method'].replace('_', '-')}-{uuid.uuid4().hex[:4]}"
    stage = root / f".{run_id}.tmp"
    stage.mkdir()
    write_json_atomic(stage / "spec.json", spec)
    (stage / "template.yaml").write_text(spec["template"], encoding="utf-8")
    now = time.time()
    write_json_atomic(stage / "status.json", {"status": "queued", "created": now, "started": None, "finished": None,
                                              "step": 0, "total_steps": spec["total_steps"], "best": {},
                                              "error": None, "eta_seconds": None, "queued_at": now, "updated": now})
    os.replace(stage, root / run_id)  # the run appears whole or not at all
    return run_id


def worker_command(run_dir: Path) -> list[str]:
    """The worker's command line: our own CLI, run by this Python, no shell."""
    return [sys.executable, "-m", "promptlab.cli", "worker", str(run_dir)]


def _launch(run_dir: Path) -> None:
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


def get_run(run_id: str, runs_dir=None) -> RunInfo:
    """The run's current state (a run whose worker died is marked interrupted on the way)."""
    return _info(_existing(run_id, runs_dir))


def _info(run_dir: Path) -> RunInfo:
    status = _refresh(run_dir, read_json(run_dir / "status.json", {}) or {})
    return RunInfo(
        run_id=run_dir.name,
        status=status.get("status", "interrupted"),
        created=status.get("created") or run_dir.stat().st_mtime,
        started=status.get("started"),
        finished=status.get("finished"),
        spec=read_json(run_dir / "spec.json", {}) or {},
        step=int(status.get("step") or 0),
        total_steps=int(status.get("total_steps") or 0),
        best=status.get("best") or {},
        baselines=read_json(run_dir / "baselines.json", {}) or {},
        error=status.get("error"),
        eta_seconds=status.get("eta_seconds"),
    )


def list_runs(runs_dir=None) -> list[RunInfo]:
    """Every run in the runs folder, newest first."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    runs = [_info(p) for p in root.iterdir() if not p.name.startswith(".") and (p / "spec.json").is_file()]
    return sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)


def read_metrics(run_id: str, runs_dir=None) -> list[dict]:
    """Every metrics line of the run, in order (a torn last line is skipped)."""
    return read_jsonl(_existing(run_id, runs_dir) / "metrics.jsonl")


def read_log(run_id: str, runs_dir=None, tail: int = 200) -> str:
    """The last `tail` lines of the worker's log."""
    try:
        lines = (_existing(run_id, runs_dir) / "log.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-tail:])


def cancel(run_id: str, runs_dir=None, wait: float | None = None) -> RunInfo:
    """Ask the run to stop (it stops within one step); killed if still alive after the grace period.

    With `wait`, block up to that many seconds for the worker to end, then kill it.
    """
    path = _existing(run_id, runs_dir)
    info = _info(path)
    if info.status not in ACTIVE:
        raise ValueError(f"Run {run_id} is {info.status}, not queued or running: there is nothing to cancel.")
    (path / "STOP").touch()
    deadline = time.time() + (wait or 0)
    while wait is not None and time.time() < deadline and _alive(path):
        time.sleep(0.2)
    if wait is not None and _alive(path):
        _kill(path)
        time.sleep(0.2)
    return _info(path)


def resume(run_id: str, runs_dir=None) -> RunInfo:
    """Continue an interrupted, failed or cancelled run from its last checkpoint (it queues like a new job)."""
    path = _existing(run_id, runs_dir)
    info = _info(path)
    if info.status not in RESUMABLE:
        raise ValueError(f"Run {run_id} is {info.status}: only {', '.join(RESUMABLE)} runs can be resumed.")
    (path / "STOP").unlink(missing_ok=True)
    # A resumed run queues behind the runs already waiting: its place is its resume time.
    update_status(path, status="queued", error=None, finished=None, queued_at=time.time())
    _launch(path)
    return _info(path)


def delete(run_id: str, runs_dir=None) -> None:
    """Remove a run folder. Active runs must be cancelled first."""
    path = _existing(run_id, runs_dir)
    if _info(path).status in ACTIVE:
        raise ValueError(f"Run {run_id} is still active: cancel it first (`promptlab runs cancel {run_id}`).")
    shutil.rmtree(path)


def adapter_dir(run_id: str, runs_dir=None) -> Path:
    """The run's adapter folder (for PeftModel.from_pretrained / load_lm(adapter=...))."""
    path = _existing(run_id, runs_dir) / "adapter"
    if not (path / "adapter_config.json").is_file():
        raise ValueError(f"Run {run_id} has no adapter yet: it is written at the first evaluation.")
    return path


def resolve_adapter(run_or_dir) -> Path:
    """An adapter folder from a run id (in the default runs folder), a run folder, or an adapter folder."""
    text = str(run_or_dir)
    path = Path(text).expanduser()
    if (path / "adapter_config.json").is_file():
        return path.resolve()
    if (path / "adapter" / "adapter_config.json").is_file():
        return (path / "adapter").resolve()
    if path.exists():
        raise ValueError(f"{path} holds no adapter: expected adapter_config.json there or in {path / 'adapter'}.")
    try:
        return adapter_dir(text)
    except ValueError as err:
        raise ValueError(f"{text!r} is neither an adapter folder, a run folder, nor a run id ({err})") from None


def export_bundle(run_id: str, out_path, runs_dir=None) -> Path:
    """Write a zip with the template, config, dataset spec, baselines, metrics and adapter; return its path."""
    from promptlab.tuning.export import write_bundle

    return write_bundle(_existing(run_id, runs_dir), Path(out_path))
