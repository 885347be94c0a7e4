"""Fixtures of the hardening suite: tiny data in tmp_path, the CLI as a function, a fault-injection hook for job
workers (a sitecustomize module on PYTHONPATH that the worker subprocess imports at start-up)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import toy_rows, write_jsonl

from promptlab import cli

TEMPLATE_YAML = """\
name: hard-sentiment
prompt: "Review: {{ sentence }}\\nSentiment:"
target: "{{ label }}"
answer_choices: [negative, positive]
"""


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    """train (16 rows) + validation (8 rows) of the toy task (columns sentence, label)."""
    folder = tmp_path / "data"
    write_jsonl(folder / "train.jsonl", toy_rows(16))
    write_jsonl(folder / "validation.jsonl", toy_rows(8, offset=100))
    return folder


@pytest.fixture()
def template_file(tmp_path) -> Path:
    path = tmp_path / "hard-sentiment.yaml"
    path.write_text(TEMPLATE_YAML, encoding="utf-8")
    return path


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture()
def run_cli(capsys, monkeypatch):
    """promptlab.cli.main in this process, offline: returns exit code, stdout, stderr."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


FAULT_HOOK = textwrap.dedent('''
    """Loaded at start-up of every Python process with this folder on PYTHONPATH (tests only).
    PROMPTLAB_TEST_FAULT picks the fault: kill-in-checkpoint:N, disk-full-checkpoint:N, oom-at-step:N."""
    import os

    _fault = os.environ.get("PROMPTLAB_TEST_FAULT", "")
    if _fault:
        kind, _, number = _fault.partition(":")
        number = int(number or 1)
        if kind in ("kill-in-checkpoint", "disk-full-checkpoint"):
            import errno
            import signal

            from promptlab.tuning import checkpoint as _ckpt

            _real_save, _count = _ckpt._save, {"n": 0}

            def _save(obj, path):
                if path.name == "trainable.pt":
                    _count["n"] += 1
                if _count["n"] >= number and path.name == "optimizer.pt":
                    if kind == "disk-full-checkpoint":
                        path.write_bytes(b"partial")
                        raise OSError(errno.ENOSPC, "No space left on device", str(path))
                    path.write_bytes(b"partial")  # a half-written file, then the power cord
                    os.kill(os.getpid(), signal.SIGKILL)
                return _real_save(obj, path)

            _ckpt._save = _save
        elif kind == "oom-at-step":
            from promptlab.tuning import loop as _loop
            import torch

            _real_micro, _calls = _loop.micro_batch, {"n": 0}

            def micro_batch(*args, **kwargs):
                _calls["n"] += 1
                if _calls["n"] >= number:
                    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
                return _real_micro(*args, **kwargs)

            _loop.micro_batch = micro_batch
''')


@pytest.fixture()
def fault(tmp_path, monkeypatch):
    """fault("kill-in-checkpoint:2"): job workers started after this call suffer that fault."""
    hook = tmp_path / "fault-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FAULT_HOOK, encoding="utf-8")
    root = str(Path(__file__).resolve().parents[2])

    def arm(name: str | None) -> None:
        """Arm a fault for workers launched from now on; None disarms (e.g. before `resume`)."""
        if name is None:
            monkeypatch.delenv("PROMPTLAB_TEST_FAULT", raising=False)
            return
        monkeypatch.setenv("PYTHONPATH", f"{hook}:{root}")
        monkeypatch.setenv("PROMPTLAB_TEST_FAULT", name)

    return arm
