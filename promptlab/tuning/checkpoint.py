"""Checkpoints that a SIGKILL cannot corrupt, and the best adapter folder.

A checkpoint is `checkpoints/step-000120/` holding the trainable weights, optimizer and scheduler state, RNG
states and the loop state (step, best, early-stopping counter...). It is written into a hidden temp folder, every
file fsynced, then renamed into place: a folder named `step-*` is always complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import torch

from promptlab.messages import UserError
from promptlab.runs.layout import list_checkpoints, remove_path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save(obj, path: Path) -> None:
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def trainable_state(model) -> dict[str, torch.Tensor]:
    """The parameters being trained (soft prompt, prompt encoder or LoRA), by name, on the CPU."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(folder: Path, step: int, model, optimizer, scheduler, state: dict, keep: int) -> Path:
    """Write checkpoint `step` atomically and keep only the newest `keep` checkpoints. A write that fails (a full
    disk) removes its temp folder, so the space is free again for the run's final status."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:06d}"
    tmp = folder / f".tmp-step-{step:06d}-{os.getpid()}"
    remove_path(tmp)
    tmp.mkdir()
    try:
        _save(trainable_state(model), tmp / "trainable.pt")
        _save(optimizer.state_dict(), tmp / "optimizer.pt")
        _save(scheduler.state_dict(), tmp / "scheduler.pt")
        _save(rng_state(), tmp / "rng.pt")
        with open(tmp / "state.json", "w", encoding="utf-8") as f:
            json.dump({**state, "step": step}, f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_path(final)  # a re-run step (after resume) replaces its old checkpoint
    os.replace(tmp, final)
    _fsync_dir(folder)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict:
    """Restore weights, optimizer, scheduler and RNG from `path`; return the loop state it saved."""
    weights = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
    params = dict(model.named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise UserError("tuning.checkpoint_misfit", path=path, weights=missing[:3])
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", map_location="cpu", weights_only=False))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text(encoding="utf-8"))


def save_adapter(model, target: Path, finish=None) -> None:
    """`model.save_pretrained` into `target`, swapped in so that a reader never sees a half-written adapter. Links
    planted at the temp names are removed, never written through; a failed write removes its temp folder.
    `finish(folder)`, when given, completes the folder before the swap (the portable config and the model card)."""
    tmp = target.with_name(f".{target.name}.tmp")
    old = target.with_name(f".{target.name}.old")
    remove_path(tmp)
    try:
        model.save_pretrained(tmp)
        if finish is not None:
            finish(tmp)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_path(old)
    if target.exists() or os.path.islink(target):
        os.replace(target, old)
    os.replace(tmp, target)
    remove_path(old)


def repair_adapter(target: Path) -> None:
    """After a crash between the two renames of `save_adapter`, put the previous adapter back."""
    old = target.with_name(f".{target.name}.old")
    if not target.exists() and old.exists():
        os.replace(old, target)
