"""Manual-prompt baselines measured once and reused across runs. Torch-free.

A run's baselines (`tuning.baselines`) depend only on the template's text, the data (its source, splits, the
evaluation rows and the demonstration pool, by content), the model, its precision and device, and the shots, seeds
and sampler: not on the soft-prompt settings. So a second run from the same template on the same data gets them
from `runs/.baselines/<key>.json` (written atomically by the run that measured them) when it is created, before its
worker even starts, and its plot shows them at once. Today's alternative was minutes of the same scoring again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
import weakref
from pathlib import Path

from promptlab.runs.layout import read_dict, write_json_atomic

VERSION = 1  # bump when the baselines' measurement changes: older entries are then never read
MAX_ENTRIES = 1000  # the cache keeps this many entries (the newest), each a few KB
_NOT_RENDERED = ("name", "description", "reference")  # template fields no figure depends on
SAMPLER = "random"  # the few-shot baseline's demonstration sampler (scoring.experiment.Protocol's default)


def baseline_key(parts, spec: dict) -> str:
    """The key of everything that decides the baselines of a run (`parts`: its `tuning.spec.Parts`): the rows are
    those its baselines score (`data.sampling`: the evaluation rows, the demonstration pool), by content."""
    from promptlab.data.sampling import evaluation_rows

    config = parts.config
    label_column = parts.dataset.label_column
    val_rows = evaluation_rows(parts.eval_rows, config.eval_size)
    pool = _pool_digest(parts.dataset, parts.train_split) if config.baseline_shots else None
    template = {k: v for k, v in dataclasses.asdict(parts.template).items() if k not in _NOT_RENDERED}
    facts = {
        "version": VERSION, "template": template, "data": str(spec.get("data")), "train_split": parts.train_split,
        "eval_split": parts.eval_split, "label_column": label_column, "eval_rows": _digest(val_rows),
        "pool": pool, "model": str(spec.get("model")),
        "model_files": _model_fingerprint(str(spec.get("model"))), "precision": config.precision,
        "device": config.device, "shots": config.baseline_shots, "seeds": config.baseline_seeds, "sampler": SAMPLER,
    }
    return _digest(facts)


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_pool_digests: dict[tuple, str] = {}  # (id of a loaded Dataset, split, label column) -> digest of its pool
_pool_lock = threading.Lock()


def _pool_digest(dataset, split: str) -> str:
    """The digest of the demonstration pool of a dataset's split. A large train split takes a second to hash, and
    the Tune form asks at every change: the digest is kept for as long as that loaded Dataset lives (its rows do not
    change), and forgotten when it is collected, before its id can be another's. No reference is kept."""
    from promptlab.data.sampling import demonstration_pool

    key = (id(dataset), split, dataset.label_column)
    with _pool_lock:
        if key in _pool_digests:
            return _pool_digests[key]
    digest = _digest(demonstration_pool(dataset.rows(split), dataset.label_column))
    with _pool_lock:
        if not any(k[0] == key[0] for k in _pool_digests):
            weakref.finalize(dataset, _forget, key[0])
        _pool_digests[key] = digest
    return digest


def _forget(dataset_id: int) -> None:
    with _pool_lock:
        for key in [k for k in _pool_digests if k[0] == dataset_id]:
            del _pool_digests[key]


def _model_fingerprint(model_id: str) -> list:
    """Names, sizes and times of a local model folder's files (changed weights are another model); a bundled
    model's file key; nothing more for a hub id (its name is all a run records of it)."""
    from promptlab.models.registry import BUNDLED, bundled_available

    if model_id in BUNDLED:
        return [BUNDLED[model_id].key()] if bundled_available(model_id) else []
    folder = Path(model_id)
    if not folder.is_dir():
        return []
    try:
        return sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file())
    except OSError:
        return []


def _folder(runs_root: Path) -> Path | None:
    folder = Path(runs_root) / ".baselines"
    return None if folder.is_symlink() else folder  # a planted link is never written through


def cached_baselines(runs_root: Path, key: str) -> dict | None:
    """The baselines stored under `key`, or None."""
    folder = _folder(runs_root)
    if folder is None:
        return None
    found = read_dict(folder / f"{key}.json")
    return found if found.get("key") == key and isinstance(found.get("metric"), str) else None


def remember_baselines(runs_root: Path, key: str, baselines: dict) -> None:
    """Store a run's freshly measured baselines under `key` (atomically; best effort: a full disk skips it)."""
    folder = _folder(runs_root)
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / f"{key}.json", {**baselines, "key": key, "measured_at": time.time()})
        _prune(folder)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    entries = [e for e in os.scandir(folder) if e.name.endswith(".json") and e.is_file(follow_symlinks=False)]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime)
    for entry in entries[:len(entries) - MAX_ENTRIES]:
        Path(entry.path).unlink(missing_ok=True)


def reuse_baselines(run_dir: Path, key: str, template_name: str) -> bool:
    """Give the run its baselines from the cache when they were measured before (named for this run's template);
    True when the run has its baselines now (reused, or measured already)."""
    if (run_dir / "baselines.json").is_file():
        return True
    found = cached_baselines(run_dir.parent, key)
    if found is None:
        return False
    scores = list((found.get("templates") or {}).values())
    reused = {**found, "reused": True, "templates": {template_name: scores[0]} if scores else {}}
    try:
        write_json_atomic(run_dir / "baselines.json", reused)
    except OSError:
        return False
    return True
