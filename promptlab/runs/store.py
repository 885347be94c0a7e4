"""The run store: create, read, list, cancel, resume and delete runs (folders laid out as `promptlab.runs.layout`
says). The API the web app and the CLI share; torch-free, and it never imports tuning.

Robust by construction:
* State changes (resume, cancel, delete) are read-check-write sections under the run's lock, so two Resume
  clicks at once start one worker, and the other is told the run is already queued.
* A run whose files cannot be read is listed as "damaged" with the reason; every other run is listed as usual.
  Reading never writes, except a best-effort reconciliation of a dead worker's run (a full disk keeps it in
  memory), so listing works on a full or read-only disk.
* Ownership: `owner` is a secret token of whoever started a run (the web app gives each browser one); only its
  SHA-256 is stored (owner.json). Functions that take `owner` act only on that owner's runs; None means no
  ownership check (local use, the CLI).
* Training gate: starting or resuming a worker is refused when training is turned off (settings), unless the
  caller decides otherwise with `allow_training`.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import shutil
import stat
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from promptlab import settings
from promptlab.messages import Message, UserError, message_of
from promptlab.runs.info import RunInfo, run_info
from promptlab.runs.layout import (
    existing_run,
    free_bytes,
    is_run_folder,
    newest_checkpoint_step,
    problem,
    read_bytes,
    read_dict,
    read_jsonl,
    remove_path,
    run_lock,
    runs_root,
    size_text,
    touch,
    update_status,
    write_json_atomic,
)
from promptlab.runs.queue import ACTIVE, DAMAGED, RESUMABLE, alive, kill, launch_worker, worker_lock_held

TRAINING_OFF = Message("run.training_off")
_WORKER_EXIT_WAIT_S = 10.0  # resume waits this long for a finished run's worker process to exit


# ---- ownership and the training gate -----------------------------------------------------------------------------

def owner_digest(owner: str) -> str:
    """The SHA-256 of an owner token, as stored in owner.json (the token itself is never written)."""
    if not isinstance(owner, str) or not 16 <= len(owner) <= 512:
        raise UserError("run.bad_owner")
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


def _owned(path: Path, owner: str | None) -> bool:
    if owner is None:
        return True
    if os.path.islink(path):
        return False
    stored = read_dict(path / "owner.json").get("sha256")
    return isinstance(stored, str) and hmac.compare_digest(stored, owner_digest(owner))


def _check_owner(path: Path, owner: str | None) -> None:
    if not _owned(path, owner):
        raise UserError("run.not_yours", run=path.name)


def check_training(allow_training: bool | None = None) -> None:
    """ValueError(TRAINING_OFF) when no worker may start: `allow_training`, or by default the server's switch."""
    allowed = settings.training_allowed() if allow_training is None else allow_training
    if not allowed:
        raise UserError(TRAINING_OFF)


# ---- create, read, list ------------------------------------------------------------------------------------------

def launch(run_id: str, runs_dir=None, allow_training: bool | None = None) -> None:
    """Start the worker process of a run made by `create_run` (it queues like any other). Refused when training is
    off (`allow_training`, default: settings.training_allowed())."""
    check_training(allow_training)
    path = existing_run(run_id, runs_dir)
    with _changing(path, "start"):
        launch_worker(path)


def create_run(spec: dict, runs_dir=None, owner: str | None = None) -> str:
    """Write the run folder of a prepared `spec` (status queued) without launching a worker; return the run id.

    `spec` is what `promptlab.tuning.spec.prepare_spec` returned (validated and complete); tuning's `submit` is
    prepare + create + `launch`. In between, a caller may add files (e.g. baselines.json measured already), or run
    the worker itself (`promptlab worker RUN_DIR`) to train in the foreground. A created run that no worker picks
    up within a minute is marked interrupted. `owner` (a secret token) makes the run that owner's.
    """
    digest = owner_digest(owner) if owner is not None else None
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    _check_active_runs(root, owner)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{spec['config']['method'].replace('_', '-')}-{uuid.uuid4().hex[:4]}"
    stage = root / f".{run_id}.tmp"
    stage.mkdir()
    try:
        write_json_atomic(stage / "spec.json", spec)
        (stage / "template.yaml").write_text(spec["template"], encoding="utf-8")
        if digest:
            write_json_atomic(stage / "owner.json", {"sha256": digest})
        for lock in (".lock", ".worker.lock"):  # made now: a full disk later must not stop a lock from opening
            touch(stage / lock)
        now = time.time()
        write_json_atomic(stage / "status.json", {
            "status": "queued", "created": now, "started": None, "finished": None, "step": 0,
            "total_steps": spec["total_steps"], "best": {}, "error": None, "eta_seconds": None, "queued_at": now,
            "updated": now})
        os.replace(stage, root / run_id)  # the run appears whole or not at all
    except OSError as err:
        shutil.rmtree(stage, ignore_errors=True)
        raise UserError("run.cannot_create", root=root, reason=_os_reason(err, root)) from None
    return run_id


def get_run(run_id: str, runs_dir=None, owner: str | None = None) -> RunInfo:
    """The run's current state (a run whose worker died is marked interrupted on the way; one whose files cannot
    be read is "damaged", its `error` saying why)."""
    path = existing_run(run_id, runs_dir, allow_link=True)
    _check_owner(path, owner)
    return run_info(path)


def list_runs(runs_dir=None, owner: str | None = None) -> list[RunInfo]:
    """Every run in the runs folder (only `owner`'s when given), newest first; damaged runs included."""
    root = runs_root(runs_dir)
    try:
        entries = sorted(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as err:
        raise UserError("run.cannot_list", root=root, detail=err.strerror) from None
    runs = []
    for path in entries:
        if is_run_folder(path) and _owned(path, owner):
            info = run_info(path)
            if info.status != DAMAGED or os.path.lexists(path):  # not one deleted while we looked
                runs.append(info)
    return sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)


def read_metrics(run_id: str, runs_dir=None, owner: str | None = None) -> list[dict]:
    """Every metrics line of the run, in order (a torn last line is skipped)."""
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    return read_jsonl(path / "metrics.jsonl")


def read_log(run_id: str, runs_dir=None, tail: int = 200, owner: str | None = None,
             max_bytes: int | None = 2**20) -> str:
    """The last `tail` lines of the worker's log (of its last `max_bytes` bytes; None: all of it). A log.txt that
    is a link or not a file is not shown: a note says so."""
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    try:
        data = read_bytes(path / "log.txt", max_bytes, tail=True)
    except FileNotFoundError:
        return ""
    except OSError as err:
        return str(Message("run.log_not_shown", problem=problem(err)))
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-tail:])


# ---- state changes -----------------------------------------------------------------------------------------------

@contextmanager
def _changing(path: Path, action: str):
    """The run lock around a state change; a run deleted meanwhile is "No run", OSErrors (a full disk...) become
    readable ValueErrors."""
    try:
        with run_lock(path):
            if not is_run_folder(path):
                raise FileNotFoundError(errno.ENOENT, "deleted", str(path))
            yield
    except FileNotFoundError:
        raise UserError("run.deleted", run=repr(path.name), folder=path.parent) from None
    except OSError as err:
        raise UserError(f"run.cannot_{action}", run=path.name, reason=_os_reason(err, path)) from None


def _os_reason(err: OSError, where: Path) -> Message:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return Message("run.disk_full", free=size_text(free_bytes(where)))
    if err.errno == errno.EROFS:
        return Message("run.read_only")
    return Message("run.os_error", detail=err.strerror or type(err).__name__, where=err.filename or where)


def cancel(run_id: str, runs_dir=None, wait: float | None = None, owner: str | None = None) -> RunInfo:
    """Ask the run to stop (it stops within one step); killed if still alive after the grace period.

    With `wait`, block up to that many seconds for the worker to end, then kill it.
    """
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    with _changing(path, "cancel"):
        info = run_info(path)
        if info.status not in ACTIVE and not (info.status == DAMAGED and worker_lock_held(path)):
            raise UserError("run.nothing_to_cancel", run=run_id, status=Message(f"status.{info.status}"))
        touch(path / "STOP")
    deadline = time.time() + (wait or 0)
    while wait is not None and time.time() < deadline and alive(path):
        time.sleep(0.2)
    if wait is not None and alive(path):
        kill(path)
        time.sleep(0.2)
    return run_info(path)


def resume(run_id: str, runs_dir=None, owner: str | None = None, allow_training: bool | None = None) -> RunInfo:
    """Continue an interrupted, failed or cancelled run from its last checkpoint (it queues like a new job); a run
    stopped before its first checkpoint starts over at step 0, and its status says so (`resumed_from` 0).

    One resume wins when several come at once: the others are told the run is already queued. Refused when
    training is off (`allow_training`, default: settings.training_allowed()) and for other owners' runs."""
    check_training(allow_training)
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    _check_active_runs(path.parent, owner)
    with _changing(path, "resume"):
        info = run_info(path)
        if info.status == DAMAGED:
            raise UserError("run.cannot_resume_damaged", run=run_id, error=info.error)
        if info.status in ACTIVE:
            raise UserError("run.already_active", run=run_id, status=Message(f"status.{info.status}"))
        if info.status not in RESUMABLE:
            raise UserError("run.not_resumable", run=run_id, status=Message(f"status.{info.status}"),
                            resumable=Message("run.resumable_statuses"))
        _wait_for_worker_exit(path)
        remove_path(path / "STOP")
        step = newest_checkpoint_step(path) or 0
        # A resumed run queues behind the runs already waiting: its place is its resume time. Its step is where it
        # continues (0: no checkpoint was written, it starts over); a run of an older version keeps its duration.
        update_status(path, status="queued", error=None, finished=None, queued_at=time.time(), step=step,
                      resumed_from=step, active_seconds=info.active_seconds or 0.0)
        launch_worker(path)
    return run_info(path)


def _check_active_runs(root: Path, owner: str | None) -> None:
    """An owner (a visitor of a public app) may have at most settings.runs_per_visitor() runs queued or running:
    each holds a worker process and a place in the queue that other visitors wait behind."""
    if owner is None:
        return
    limit = settings.runs_per_visitor()
    active = [run.run_id for run in list_runs(root, owner=owner) if run.status in ACTIVE]
    if len(active) >= limit:
        raise UserError("run.too_many_active", n=len(active), runs=", ".join(active), limit=limit)


def _wait_for_worker_exit(path: Path) -> None:
    """A run that has just ended may still have its worker process exiting: give it a moment."""
    deadline = time.monotonic() + _WORKER_EXIT_WAIT_S
    while worker_lock_held(path):
        if time.monotonic() > deadline:
            raise UserError("run.worker_still_exiting", run=path.name)
        time.sleep(0.05)


def delete(run_id: str, runs_dir=None, owner: str | None = None) -> None:
    """Remove a run folder (a damaged one too; a link is removed, never what it points to). Active runs must be
    cancelled first. The run leaves the list at once (renamed), then its files are removed."""
    path = existing_run(run_id, runs_dir, allow_link=True)
    _check_owner(path, owner)
    if os.path.islink(path):
        path.unlink()
        return
    trash = path.with_name(f".{path.name}.deleting-{uuid.uuid4().hex[:8]}")
    with _changing(path, "delete"):
        if run_info(path).status in ACTIVE or worker_lock_held(path):
            raise UserError("run.still_active", run=run_id)
        os.replace(path, trash)
    try:
        shutil.rmtree(trash, onerror=_grant_and_retry)
    except OSError as err:
        raise UserError("run.partly_removed", run=run_id, trash=trash, reason=_os_reason(err, trash)) from None


def _grant_and_retry(func, path, _exc_info) -> None:
    """rmtree's error hook: a folder we may not write or list (mode 000) is made ours to remove, then retried."""
    parent = os.path.dirname(path)
    for folder in (parent, path):
        if os.path.isdir(folder) and not os.path.islink(folder):
            os.chmod(folder, stat.S_IRWXU)
    func(path)


MAX_RUN_NAME = 120  # characters of a run's name
MAX_NOTE = 4000  # characters of a run's note


def set_notes(run_id: str, runs_dir=None, owner: str | None = None, *, name: str | None = None,
              note: str | None = None) -> RunInfo:
    """Name a run and/or write a note about it (kept in its notes.json; None leaves that part as it is). Any run,
    active or not, damaged or not; only the owner's. A name is one line of at most MAX_RUN_NAME characters, a note
    at most MAX_NOTE; control characters other than line breaks and tabs are dropped."""
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    with _changing(path, "name"):
        notes = read_dict(path / "notes.json")
        if name is not None:
            notes["name"] = _clean_text(" ".join(str(name).split()), MAX_RUN_NAME, "name")
        if note is not None:
            notes["note"] = _clean_text(str(note).strip(), MAX_NOTE, "note")
        write_json_atomic(path / "notes.json", {"name": notes.get("name", ""), "note": notes.get("note", "")})
    return run_info(path)


def _clean_text(text: str, limit: int, what: str) -> str:
    text = "".join(c for c in text if c in "\n\t" or (c.isprintable() and c != "\x7f"))
    if len(text) > limit:
        raise UserError(f"run.{what}_too_long", limit=limit, length=len(text))
    return text


def adapter_dir(run_id: str, runs_dir=None, owner: str | None = None) -> Path:
    """The run's adapter folder (for PeftModel.from_pretrained / load_lm(adapter=...))."""
    path = existing_run(run_id, runs_dir)
    _check_owner(path, owner)
    adapter = path / "adapter"
    if os.path.islink(adapter):
        raise UserError("run.adapter_link", run=run_id)
    if not (adapter.is_dir() and stat.S_ISREG(_lstat_mode(adapter / "adapter_config.json"))):
        raise UserError("run.no_adapter_yet", run=run_id)
    return adapter


def _lstat_mode(path: Path) -> int:
    try:
        return path.lstat().st_mode
    except OSError:
        return 0


def resolve_adapter(run_or_dir, runs_dir=None) -> Path:
    """An adapter folder from a run id (in `runs_dir`, default the runs folder), a run folder, or an adapter
    folder."""
    text = str(run_or_dir)
    path = Path(text).expanduser()
    if (path / "adapter_config.json").is_file():
        return path.resolve()
    if (path / "adapter" / "adapter_config.json").is_file():
        return (path / "adapter").resolve()
    if path.exists():
        raise UserError("run.no_adapter_there", path=path, inner=path / "adapter")
    try:
        return adapter_dir(text, runs_dir)
    except ValueError as err:
        raise UserError("run.not_an_adapter", text=repr(text), reason=message_of(err)) from None


