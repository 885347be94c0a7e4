"""What a run folder says, as a `RunInfo`: read defensively (its files are data that may be damaged, missing, or
links planted by someone), so that one bad run is shown as "damaged" instead of breaking every listing.
Torch-free.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from promptlab.messages import Message
from promptlab.runs.layout import error_of, linked_run, load_json, newest_checkpoint_step, problem, read_dict
from promptlab.runs.queue import ACTIVE, DAMAGED, STATUSES, refresh


@dataclass(frozen=True)
class RunInfo:
    """One run as the UI and CLI show it. Times are Unix seconds (None when not reached yet). `template`, `method`,
    `task` and `model` are read from the spec once, here: no caller parses the spec again."""

    run_id: str
    status: str  # one of queue.STATUSES; "damaged" when its files cannot be read (`error` says why)
    created: float
    started: float | None
    finished: float | None
    spec: dict
    step: int
    total_steps: int
    template: str = ""  # the hard prompt's name
    method: str = ""  # prompt_tuning, p_tuning, prefix_tuning, lora
    task: str = ""  # the data's short name (a file or folder name, a demo or Hub name)
    model: str = ""
    best: dict = field(default_factory=dict)  # the best evaluation line so far ({"step": .., "acc": .., ...})
    baselines: dict = field(default_factory=dict)  # baselines.json (empty until measured)
    error: str | None = None  # a Message when the run wrote one (say it in the visitor's language), else text
    eta_seconds: float | None = None
    name: str = ""  # what the user called the run (notes.json; else the spec's name), "" when unnamed
    note: str = ""  # what the user wrote about it (notes.json)
    active_seconds: float | None = None  # time spent running (not queued, not stopped between resumes)
    stopping: bool = False  # a cancel was asked and the worker has not stopped yet
    resumed_from: int | None = None  # the step the last resume continued from (0: it started over)
    checkpoint: int | None = None  # the step of the newest complete checkpoint (where a resume continues)


def run_info(run_dir: Path) -> RunInfo:
    """What the run folder says: its state (a dead worker's run reconciled on the way), or "damaged" with the
    reason when its spec or status cannot be read. Never raises for what is in the folder."""
    if os.path.islink(run_dir):
        return _damaged(run_dir, {}, {}, linked_run(run_dir.name))
    spec, spec_problem = _load_object(run_dir / "spec.json")
    status, status_problem = _load_object(run_dir / "status.json")
    problems = [p for p in (spec_problem, status_problem) if p] or _status_problems(status)
    if problems:
        return _damaged(run_dir, spec, status, Message("run.damaged", run=run_dir.name, problems=_joined(problems)))
    status = refresh(run_dir, status)
    notes = read_dict(run_dir / "notes.json")
    return RunInfo(
        run_id=run_dir.name,
        status=status["status"],
        created=status.get("created") or _mtime(run_dir),
        started=status.get("started"),
        finished=status.get("finished"),
        spec=spec,
        step=int(status.get("step") or 0),
        total_steps=int(status.get("total_steps") or 0),
        best=status.get("best") or {},
        baselines=read_dict(run_dir / "baselines.json"),
        error=error_of(status),
        eta_seconds=status.get("eta_seconds"),
        name=_text(notes.get("name")) or _text(spec.get("name")),
        note=_text(notes.get("note")),
        active_seconds=active_seconds(status),
        stopping=status["status"] in ACTIVE and os.path.lexists(run_dir / "STOP"),
        resumed_from=int(status["resumed_from"]) if _is_number(status.get("resumed_from")) else None,
        checkpoint=newest_checkpoint_step(run_dir),
        **_names(spec),
    )


def active_seconds(status: dict, now: float | None = None) -> float | None:
    """How long the run has been running, queue waits and the gaps between a stop and its resume left out: the
    worker records the time it spends running (`active_seconds`, brought up to date at every status write; a
    running worker's time since its last write is added). Runs of older versions, which did not record it: the
    time from their start to their end."""
    now = time.time() if now is None else now
    active = status.get("active_seconds")
    if _is_number(active):
        updated = status.get("updated")
        if status.get("status") == "running" and _is_number(updated):
            active += max(0.0, now - updated)
        return float(active)
    started, finished = status.get("started"), status.get("finished")
    if not _is_number(started):
        return None
    return max(0.0, (finished if _is_number(finished) else now) - started)


def _joined(problems: list) -> Message | str:
    """Problems joined by semicolons, each said in the reader's language."""
    joined = problems[0]
    for more in problems[1:]:
        joined = Message("list.semicolon", first=joined, then=more)
    return joined


def _damaged(run_dir: Path, spec: dict, status: dict, error: Message) -> RunInfo:
    created = status.get("created")
    return RunInfo(run_id=run_dir.name, status=DAMAGED,
                   created=created if _is_number(created) else _mtime(run_dir), started=None, finished=None,
                   spec=spec, step=0, total_steps=0, error=error, **_names(spec))


def _load_object(path: Path) -> tuple[dict, Message | None]:
    """A JSON object file and None, or {} and what is wrong with it ("status.json is a folder, not a file")."""
    try:
        value = load_json(path)
    except (OSError, ValueError) as err:
        return {}, Message("run.file_is", name=path.name, problem=problem(err))
    if not isinstance(value, dict):
        return {}, Message("run.file_not_object", name=path.name, kind=type(value).__name__)
    return value, None


def _status_problems(status: dict) -> list[Message]:
    """What makes a parsed status.json unusable (wrong types would crash every reader)."""
    found = []
    if status.get("status") not in STATUSES or status.get("status") == DAMAGED:
        found.append(Message("run.unknown_status", status=repr(str(status.get("status"))[:40])))
    for key in ("created", "started", "finished", "eta_seconds", "step", "total_steps", "active_seconds",
                "resumed_from"):
        if status.get(key) is not None and not _is_number(status.get(key)):
            found.append(Message("run.not_a_number", key=key, value=repr(str(status.get(key))[:40])))
    for key, kind in (("best", dict), ("error", str)):
        if status.get(key) is not None and not isinstance(status.get(key), kind):
            found.append(Message("run.not_a_mapping" if kind is dict else "run.not_text", key=key))
    return found


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e15


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _names(spec: dict) -> dict:
    """template, method, task and model of a spec ("" or "?" for what it lacks: a spec may be damaged)."""
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    return {"template": _template_name(spec), "method": _text(config.get("method")), "task": _task_name(spec),
            "model": _text(spec.get("model"))}


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _template_name(spec: dict) -> str:
    """The name in the spec's template YAML ("?" when it cannot be read)."""
    text = spec.get("template")
    if not isinstance(text, str) or not text:
        return "?"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return "?"
    return str(data.get("name") or "?") if isinstance(data, dict) else "?"


def _task_name(spec: dict) -> str:
    """A data source's short name: the last part of a path, or the demo / Hub name as given."""
    return _text(spec.get("data")).rstrip("/").rsplit("/", 1)[-1]
