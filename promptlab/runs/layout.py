"""Where a run's files are, and how they are read and written: never half a file, never through a link.

A run is a folder `runs/<id>/`:

    spec.json        what to train (template YAML text, data source, splits, model, TuneConfig); never changes
    template.yaml    the template, as a file (the bundle ships it)
    status.json      queued | running | done | failed | cancelled | interrupted, step, best, eta (atomic writes)
    owner.json       {"sha256": ...}: the hash of the token of whoever started the run (absent: no owner)
    worker.json      pid and start time of the worker process (how a dead worker is recognised)
    metrics.jsonl    one JSON object per line: train steps, evaluations, nearest tokens
    baselines.json   the manual-prompt baselines measured on the run's validation subset
    log.txt          the worker's output (progress lines, tracebacks)
    checkpoints/     step-N/ folders (adapter weights, optimizer, scheduler, RNG, step) for exact resume
    adapter/         the best adapter so far, loadable with PeftModel.from_pretrained(base, dir); its README.md is
                     the model card and its adapter_config.json names the base model's hub id (`runs.card`)
    notes.json       {"name": ..., "note": ...}: what the user called the run and wrote about it (optional)
    STOP             present = cancel requested (the worker checks it every step)
    .lock            flock'ed around a state change (resume, cancel, delete, a dead worker's reconciliation)
    .worker.lock     flock'ed by the run's worker for as long as it lives: one worker per run, at most

Beside the runs, `.browser-key` holds the key that encrypts each browser's owner token in its local storage (made
once, readable by this user only): the same across restarts, so a visitor of a public app keeps their runs.

A run folder's files are data, never pointers: every read and write here refuses to follow a symbolic link (a
link planted as `log.txt -> /etc/passwd` is neither shown nor written through) and reads only regular files.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from promptlab import settings
from promptlab.messages import Message, UserError, from_dict, message_of, to_dict

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
JSON_LIMIT = 16 * 2**20  # bytes: a spec or status larger than this is damaged, not read
LOCK_TIMEOUT_S = 10.0  # a state change waits this long for another one on the same run
FULL_DISK_BYTES = 2**20  # less free space than this: the disk is full (a worker cannot even write its status)
_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def runs_root(runs_dir=None) -> Path:
    """The runs folder: `runs_dir`, else settings.runs_dir() ($PROMPTLAB_RUNS or ./runs)."""
    return Path(runs_dir).resolve() if runs_dir is not None else settings.runs_dir()


def run_path(run_id: str, runs_dir=None) -> Path:
    """The folder of `run_id`; ValueError for ids that are malformed or would leave the runs folder.

    The path is not resolved: `root / run_id` is a direct child by construction, and a link there stays a link
    (listed as damaged, removable, never followed)."""
    root = runs_root(runs_dir)
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise UserError("run.bad_id", run=repr(run_id))
    return root / run_id


def is_run_folder(path: Path) -> bool:
    """Does `path` look like a run (a folder or link with a spec.json or status.json entry, whatever its state)?"""
    if path.name.startswith(".") or not _RUN_ID.fullmatch(path.name):
        return False
    if os.path.islink(path):
        return True  # a link in the runs folder is listed (as damaged), never followed
    return path.is_dir() and any(os.path.lexists(path / name) for name in ("spec.json", "status.json"))


def existing_run(run_id: str, runs_dir=None, allow_link: bool = False) -> Path:
    """The folder of a run that exists (damaged or not); ValueError naming the runs folder otherwise.

    A run folder that is a symbolic link is refused (nothing is read through it) unless `allow_link` (for
    showing it as damaged and deleting the link)."""
    path = run_path(run_id, runs_dir)
    if not is_run_folder(path):
        raise UserError("run.not_found_in", run=repr(run_id), folder=runs_root(runs_dir))
    if not allow_link and os.path.islink(path):
        raise UserError(linked_run(run_id))
    return path


def linked_run(run_id: str) -> Message:
    """Why a run "folder" that is a symbolic link is not read."""
    return Message("run.linked", run=run_id)


# ---- reading: regular files only, links never followed ----------------------------------------------------------

class UnreadableFile(OSError):
    """A run file that is not a plain file (a link, a folder, a device...): its `reason` says which."""

    def __init__(self, path: Path, reason: str):
        super().__init__(errno.EINVAL, reason, str(path))
        self.reason = reason


def _kind(mode: int) -> Message:
    if stat.S_ISLNK(mode):
        return Message("run.file_is_link")
    if stat.S_ISDIR(mode):
        return Message("run.file_is_folder")
    return Message("run.file_not_regular")


def open_regular(path: Path) -> int:
    """A read-only descriptor of `path` if it is a regular file; UnreadableFile (an OSError) if it is a link,
    folder, pipe or device; FileNotFoundError / PermissionError as the OS says. The caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)  # NONBLOCK: a FIFO must not hang a reader
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK) or (err.errno == errno.EISDIR):
            raise UnreadableFile(path, _kind(os.lstat(path).st_mode)) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnreadableFile(path, _kind(mode))
    return fd


def read_bytes(path: Path, limit: int | None = None, tail: bool = False) -> bytes:
    """The bytes of a regular file (no link followed). With `limit`: at most that many, the last ones if `tail`,
    else ValueError when the file is larger."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            if not tail:
                raise UserError("run.file_too_large", size=limit // 2**20)
            f.seek(size - limit)
        return f.read() if limit is None else f.read(limit)


def load_json(path: Path):
    """The JSON value in `path`; ValueError / OSError saying why it cannot be read (see `problem`)."""
    text = read_bytes(path, JSON_LIMIT).decode("utf-8")
    return json.loads(text)


def problem(err: Exception) -> Message | str:
    """Why a run file could not be read, in words."""
    if isinstance(err, FileNotFoundError):
        return Message("run.file_missing")
    if isinstance(err, UnreadableFile):
        return err.reason
    if isinstance(err, UnicodeDecodeError):
        return Message("run.file_not_utf8")
    if isinstance(err, json.JSONDecodeError):
        return Message("run.file_bad_json", detail=err.msg, line=err.lineno, column=err.colno)
    if isinstance(err, OSError):
        return Message("run.file_unreadable", detail=err.strerror or type(err).__name__)
    return message_of(err)


def read_json(path: Path, default=None):
    """The JSON in `path`, or `default` when it is missing, not a regular file, or does not parse."""
    try:
        return load_json(path)
    except (OSError, ValueError):
        return default


def read_dict(path: Path) -> dict:
    """A JSON object file as a dict ({} when missing, unreadable, or not an object)."""
    value = read_json(path, {})
    return value if isinstance(value, dict) else {}


def read_jsonl(path: Path, limit: int = 64 * 2**20) -> list[dict]:
    """JSON lines of `path` (its last `limit` bytes), skipping lines that do not parse (a writer killed mid-line
    leaves a torn last line; a cut at the start of the window leaves a torn first one)."""
    try:
        text = read_bytes(path, limit, tail=True).decode("utf-8", errors="replace")
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


def read_status(run_dir: Path) -> dict:
    """status.json as a dict ({} when missing or unreadable)."""
    return read_dict(run_dir / "status.json")


# ---- checkpoints: listed without torch (the store says where a resume continues) ----------------------------------

CHECKPOINT_FILES = ("trainable.pt", "optimizer.pt", "scheduler.pt", "rng.pt", "state.json")


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints (`step-NNNNNN` folders), oldest first; temp folders of interrupted writes are not
    listed. Only real folders of plain files count: a link planted there (to a pickle elsewhere) is never loaded."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if re.fullmatch(r"step-\d+", p.name) and _made_of_plain_files(p))


def _made_of_plain_files(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        return all(stat.S_ISREG((path / name).lstat().st_mode) for name in CHECKPOINT_FILES)
    except OSError:
        return False


def newest_checkpoint_step(run_dir: Path) -> int | None:
    """The step of the run's newest complete checkpoint (where a resume continues), None when there is none."""
    found = list_checkpoints(run_dir / "checkpoints")
    return int(found[-1].name.split("-")[-1]) if found else None


def browser_key(runs_dir=None) -> str:
    """The key that encrypts each browser's owner token: $PROMPTLAB_SECRET, else `.browser-key` in the runs
    folder, made once (mode 0600; written aside, then linked into place, so no reader sees half of it). A key made
    anew at each start would lose every visitor's runs on a restart: their tokens could no longer be read."""
    if settings.browser_secret():
        return settings.browser_secret()
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".browser-key"
    if not os.path.lexists(path):
        tmp = root / f".browser-key.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = read_bytes(path, limit=1024).decode("ascii", "replace").strip()
    if len(key) < 32:
        raise ValueError(f"{path} is damaged (a key of {len(key)} characters): delete it to make a new one "
                         "(visitors' browsers then start over with new owner tokens).")
    return key


# ---- writing: atomic, and never through a link ------------------------------------------------------------------

def write_json_atomic(path: Path, data) -> None:
    """Write JSON so readers see the old file or the new one, never half of one (temp file, fsync, rename)."""
    write_text_atomic(path, json.dumps(data, indent=1, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` so readers see the old file or the new one. The temp file has a fresh random name and is
    created exclusively (no link followed); the rename replaces a link at `path`, never its target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def open_append(path: Path, binary: bool = False):
    """`path` opened for appending (created if missing); a link planted there is removed first, never followed."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        path.unlink()
        fd = os.open(path, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnreadableFile(path, Message("run.file_not_regular"))
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


def touch(path: Path) -> None:
    """Create `path` if missing (an empty flag file such as STOP), without following a link there."""
    open_append(path).close()


def remove_path(path: Path) -> None:
    """Remove a file, link or folder at `path` (a link is removed, its target untouched); missing is fine."""
    if os.path.islink(path) or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path)


def update_status(run_dir: Path, **changes) -> dict:
    """Merge `changes` into status.json (atomically) and return the new status. An `error` that is a Message is
    written as its English text, with its key and parameters beside it (`error_message`), so that the web app can
    say it in the visitor's language (`error_of`)."""
    if "error" in changes:
        error = changes["error"]
        changes["error_message"] = to_dict(error) if isinstance(error, Message) else None
        changes["error"] = None if error is None else str(error)
    status = read_status(run_dir)
    status.update(changes, updated=time.time())
    write_json_atomic(run_dir / "status.json", status)
    return status


def error_of(status: dict):
    """A status's error: the Message it was written from (when its English text still matches), else its text (or
    None)."""
    error = status.get("error")
    if not isinstance(error, str) or isinstance(error, Message):
        return error
    message = from_dict(status.get("error_message")) if isinstance(status.get("error_message"), dict) else None
    return message if isinstance(message, Message) and str(message) == error else error


# ---- the run lock: one state change at a time, across processes --------------------------------------------------

class RunBusy(UserError):
    """Another process is changing the same run right now."""


_held = threading.local()  # the run folders whose lock this thread holds (a locked section may call another)


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        path.unlink()
        return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)


@contextmanager
def run_lock(run_dir: Path, timeout: float = LOCK_TIMEOUT_S):
    """Hold the run's `.lock` (an exclusive flock) for a read-check-write of its state.

    Every process and thread that changes a run's state takes it, so two Resume clicks cannot both see
    "interrupted" and both start a worker. Re-entrant within a thread. RunBusy (a ValueError) after `timeout`
    seconds; OSError when the lock file cannot be opened (a read-only or full disk): readers then skip writing.
    """
    held = getattr(_held, "dirs", None)
    if held is None:
        held = _held.dirs = set()
    key = str(run_dir)
    if key in held:
        yield
        return
    fd = _open_lock(run_dir / ".lock")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunBusy("run.busy", run=run_dir.name) from None
                time.sleep(0.01)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing releases the lock


# ---- disk space ---------------------------------------------------------------------------------------------------

def free_bytes(path: Path) -> int | None:
    """Free bytes on the disk holding `path` (None when it cannot be measured)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_is_full(path: Path) -> bool:
    """Is the disk holding `path` (nearly) full, so that a run cannot even write its status?"""
    free = free_bytes(path)
    return free is not None and free < FULL_DISK_BYTES


def size_text(n: int | None) -> Message | str:
    if n is None:
        return Message("run.size_unknown")
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
