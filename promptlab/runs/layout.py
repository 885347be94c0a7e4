"""Where a run's files are, and how they are written so that a reader never sees half of one.

A run is a folder `runs/<id>/`:

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
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

from promptlab import settings

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


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


def existing_run(run_id: str, runs_dir=None) -> Path:
    """The folder of a run that exists; ValueError naming the runs folder otherwise."""
    path = run_path(run_id, runs_dir)
    if not (path / "spec.json").is_file():
        raise ValueError(f"No run {run_id!r} in {runs_root(runs_dir)}. `promptlab runs list` shows the runs there.")
    return path


def write_json_atomic(path: Path, data) -> None:
    """Write JSON so readers see the old file or the new one, never half of one (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path, default=None):
    """The JSON in `path`, or `default` when it is missing or does not parse."""
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


def read_status(run_dir: Path) -> dict:
    """status.json as a dict ({} when missing or unreadable)."""
    status = read_json(run_dir / "status.json", {})
    return status if isinstance(status, dict) else {}


def update_status(run_dir: Path, **changes) -> dict:
    """Merge `changes` into status.json (atomically) and return the new status."""
    status = read_status(run_dir)
    status.update(changes, updated=time.time())
    write_json_atomic(run_dir / "status.json", status)
    return status
