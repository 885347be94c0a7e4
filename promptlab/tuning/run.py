"""A run folder as the worker writes it: log lines, metrics lines, status, the STOP flag. Torch-free."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from promptlab.messages import UserError
from promptlab.runs.layout import (
    load_json,
    open_append,
    problem,
    read_jsonl,
    read_status,
    update_status,
    write_text_atomic,
)
from promptlab.tuning.config import TuneConfig


class Cancelled(Exception):
    """The user asked the run to stop (a STOP file appeared)."""


class Run:
    """Paths and writers of one run folder. Only the main process writes (`writer=False` elsewhere)."""

    def __init__(self, path, writer: bool = True):
        self.path = Path(path).resolve()
        try:
            self.spec = load_json(self.path / "spec.json")
        except (OSError, ValueError) as err:
            raise UserError("tuning.not_a_run_folder", path=self.path, problem=problem(err)) from None
        if not isinstance(self.spec, dict) or not isinstance(self.spec.get("config"), dict):
            raise UserError("tuning.spec_without_job", path=self.path)
        self.config = TuneConfig.from_dict(self.spec["config"])
        self.writer = writer
        self.checkpoints = self.path / "checkpoints"
        self.adapter = self.path / "adapter"
        self._clock: tuple[float, float] | None = None  # (active seconds before this session, its monotonic start)

    @property
    def id(self) -> str:
        return self.path.name

    def log(self, message: str) -> None:
        """One timestamped line in log.txt (also on the terminal when a person runs the worker by hand)."""
        if not self.writer:
            return
        line = f"{time.strftime('%H:%M:%S')} {message}"
        with open_append(self.path / "log.txt") as f:  # a link planted as log.txt is replaced, never written through
            f.write(line + "\n")
        if sys.stdout.isatty():
            print(line, flush=True)

    def metric(self, **fields) -> None:
        """Append one metrics line. A single write of a whole line keeps a torn line possible only at the end."""
        if self.writer:
            with open_append(self.path / "metrics.jsonl") as f:
                f.write(json.dumps(fields, default=float) + "\n")

    def metrics(self) -> list[dict]:
        return read_jsonl(self.path / "metrics.jsonl")

    def keep_metrics_through(self, step: int) -> None:
        """Drop metrics lines after `step` (a resumed run rewrites them, so curves have no duplicates)."""
        if not self.writer:
            return
        kept = [m for m in self.metrics() if m.get("step", 0) <= step] if step >= 0 else []
        write_text_atomic(self.path / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in kept))

    def start_clock(self, before: float) -> None:
        """Count the time from now on as running time, on top of `before` seconds of earlier sessions: every status
        write from here carries `active_seconds`, so the run's duration leaves out queue waits and the gaps between
        a stop and its resume (a killed worker's duration is right to its last status write)."""
        self._clock = (float(before), time.monotonic())

    def status(self, **changes) -> None:
        if self.writer:
            if self._clock is not None:
                before, since = self._clock
                changes.setdefault("active_seconds", round(before + time.monotonic() - since, 2))
            update_status(self.path, **changes)

    def read_status(self) -> dict:
        return read_status(self.path)

    def stop_requested(self) -> bool:
        return os.path.lexists(self.path / "STOP")

    def check_stop(self, *_args) -> None:
        """Raise Cancelled when a stop was requested (usable as a scorer progress callback)."""
        if self.stop_requested():
            raise Cancelled()
