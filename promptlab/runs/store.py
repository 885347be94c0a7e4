"""The run store: create, read, list, cancel, resume and delete runs (folders laid out as `promptlab.runs.layout`
says). The API the web app and the CLI share; torch-free, and it never imports tuning.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from promptlab.runs.layout import (
    existing_run,
    read_json,
    read_jsonl,
    read_status,
    runs_root,
    update_status,
    write_json_atomic,
)
from promptlab.runs.queue import ACTIVE, RESUMABLE, alive, kill, launch_worker, refresh


@dataclass(frozen=True)
class RunInfo:
    """One run as the UI and CLI show it. Times are Unix seconds (None when not reached yet). `template`, `method`,
    `task` and `model` are read from the spec once, here: no caller parses the spec again."""

    run_id: str
    status: str
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
    error: str | None = None
    eta_seconds: float | None = None


def launch(run_id: str, runs_dir=None) -> None:
    """Start the worker process of a run made by `create_run` (it queues like any other)."""
    launch_worker(existing_run(run_id, runs_dir))


def create_run(spec: dict, runs_dir=None) -> str:
    """Write the run folder of a prepared `spec` (status queued) without launching a worker; return the run id.

    `spec` is what `promptlab.tuning.spec.prepare_spec` returned (validated and complete); tuning's `submit` is
    prepare + create + `launch`. In between, a caller may add files (e.g. baselines.json measured already), or run
    the worker itself (`promptlab worker RUN_DIR`) to train in the foreground. A created run that no worker picks
    up within a minute is marked interrupted.
    """
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


def get_run(run_id: str, runs_dir=None) -> RunInfo:
    """The run's current state (a run whose worker died is marked interrupted on the way)."""
    return _info(existing_run(run_id, runs_dir))


def _info(run_dir: Path) -> RunInfo:
    spec = read_json(run_dir / "spec.json", {}) or {}
    status = refresh(run_dir, read_status(run_dir))
    return RunInfo(
        run_id=run_dir.name,
        status=status.get("status", "interrupted"),
        created=status.get("created") or run_dir.stat().st_mtime,
        started=status.get("started"),
        finished=status.get("finished"),
        spec=spec,
        template=_template_name(spec),
        method=str((spec.get("config") or {}).get("method") or ""),
        task=_task_name(spec),
        model=str(spec.get("model") or ""),
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
    return read_jsonl(existing_run(run_id, runs_dir) / "metrics.jsonl")


def read_log(run_id: str, runs_dir=None, tail: int = 200) -> str:
    """The last `tail` lines of the worker's log."""
    try:
        lines = (existing_run(run_id, runs_dir) / "log.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-tail:])


def cancel(run_id: str, runs_dir=None, wait: float | None = None) -> RunInfo:
    """Ask the run to stop (it stops within one step); killed if still alive after the grace period.

    With `wait`, block up to that many seconds for the worker to end, then kill it.
    """
    path = existing_run(run_id, runs_dir)
    info = _info(path)
    if info.status not in ACTIVE:
        raise ValueError(f"Run {run_id} is {info.status}, not queued or running: there is nothing to cancel.")
    (path / "STOP").touch()
    deadline = time.time() + (wait or 0)
    while wait is not None and time.time() < deadline and alive(path):
        time.sleep(0.2)
    if wait is not None and alive(path):
        kill(path)
        time.sleep(0.2)
    return _info(path)


def resume(run_id: str, runs_dir=None) -> RunInfo:
    """Continue an interrupted, failed or cancelled run from its last checkpoint (it queues like a new job)."""
    path = existing_run(run_id, runs_dir)
    info = _info(path)
    if info.status not in RESUMABLE:
        raise ValueError(f"Run {run_id} is {info.status}: only {', '.join(RESUMABLE)} runs can be resumed.")
    (path / "STOP").unlink(missing_ok=True)
    # A resumed run queues behind the runs already waiting: its place is its resume time.
    update_status(path, status="queued", error=None, finished=None, queued_at=time.time())
    launch_worker(path)
    return _info(path)


def delete(run_id: str, runs_dir=None) -> None:
    """Remove a run folder. Active runs must be cancelled first."""
    path = existing_run(run_id, runs_dir)
    if _info(path).status in ACTIVE:
        raise ValueError(f"Run {run_id} is still active: cancel it first (`promptlab runs cancel {run_id}`).")
    shutil.rmtree(path)


def adapter_dir(run_id: str, runs_dir=None) -> Path:
    """The run's adapter folder (for PeftModel.from_pretrained / load_lm(adapter=...))."""
    path = existing_run(run_id, runs_dir) / "adapter"
    if not (path / "adapter_config.json").is_file():
        raise ValueError(f"Run {run_id} has no adapter yet: it is written at the first evaluation.")
    return path


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
        raise ValueError(f"{path} holds no adapter: expected adapter_config.json there or in {path / 'adapter'}.")
    try:
        return adapter_dir(text, runs_dir)
    except ValueError as err:
        raise ValueError(f"{text!r} is neither an adapter folder, a run folder, nor a run id ({err})") from None


def _template_name(spec: dict) -> str:
    """The name in the spec's template YAML ("?" when it cannot be read)."""
    try:
        data = yaml.safe_load(spec.get("template") or "")
    except yaml.YAMLError:
        return "?"
    return str(data.get("name") or "?") if isinstance(data, dict) else "?"


def _task_name(spec: dict) -> str:
    """A data source's short name: the last part of a path, or the demo / Hub name as given."""
    return str(spec.get("data") or "").rstrip("/").rsplit("/", 1)[-1]
