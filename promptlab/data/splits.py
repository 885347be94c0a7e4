"""A validation split held out of single-split data, and whether the rows scored also serve as demonstrations.

A single file (or a Hub dataset with one split) is one split: scored rows and demonstration / training rows would
come from the same rows. `with_holdout` splits it in two, seeded and stratified by label: "train" (demonstrations,
tuning) and "validation" (evaluation). This module is the one home of that rule: the app's Data tab, `promptlab
score`, `promptlab tune` and a run's spec (key "holdout") all apply it, so the same file, fraction and seed always
give the same rows.

>>> rows = [{"text": f"review {i}", "label": "positive" if i % 2 else "negative"} for i in range(100)]
>>> reviews = Dataset("reviews", {"train": rows}, ("text", "label"), "label", ("negative", "positive"))
>>> split = with_holdout(reviews, Holdout(fraction=0.2, seed=0))
>>> {name: len(rows) for name, rows in split.splits.items()}
{'train': 80, 'validation': 20}
"""

from __future__ import annotations

import random
import threading
import weakref
from dataclasses import dataclass, replace

from promptlab.data.datasets import Dataset, is_missing, natural_key
from promptlab.messages import UserError

TRAIN, VALIDATION = "train", "validation"
DEFAULT_FRACTION = 0.2
MAX_SEED = 2**31 - 1
# Columns that name a row rather than say anything about it: left out when rows are compared for overlap, so that
# the same text under two ids counts as the same row.
ID_COLUMNS = frozenset({"id", "idx", "index", "guid", "uid", "row", "row_id"})


@dataclass(frozen=True)
class Holdout:
    """Hold `fraction` of a single split's rows out for validation, chosen with `seed`, stratified by label."""

    fraction: float = DEFAULT_FRACTION
    seed: int = 0

    def __post_init__(self):
        fraction, seed = self.fraction, self.seed
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
            raise UserError("splits.bad_fraction", value=repr(fraction))
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise UserError("splits.bad_seed", limit=MAX_SEED, value=repr(seed))

    def to_dict(self) -> dict:
        """As recorded in a data selection and a run's spec: {"fraction": 0.2, "seed": 0}."""
        return {"fraction": self.fraction, "seed": self.seed}

    @classmethod
    def from_value(cls, value) -> Holdout | None:
        """A Holdout from what a selection or a spec records (a dict, a Holdout, or None for no holdout)."""
        if value is None or isinstance(value, Holdout):
            return value
        if not isinstance(value, dict) or set(value) - {"fraction", "seed"}:
            raise UserError("splits.bad_holdout", value=repr(value))
        return cls(value.get("fraction", DEFAULT_FRACTION), value.get("seed", 0))


def can_hold_out(dataset: Dataset) -> bool:
    """Does the dataset have one split only, of at least 2 rows (one to train, one to validate)?"""
    return len(dataset.splits) == 1 and len(next(iter(dataset.splits.values()))) >= 2


def default_holdout(dataset: Dataset) -> Holdout | None:
    """The holdout a freshly loaded dataset gets: 20%, seed 0, for single-split data; none for the rest."""
    return Holdout() if can_hold_out(dataset) else None


def holdout_for(dataset: Dataset, fraction: float | None, seed: int = 0) -> Holdout | None:
    """The holdout a command line asks for: `fraction` of the rows (None: the default; 0: none) where the dataset
    has one split to hold it out of; None elsewhere."""
    if fraction == 0 or not can_hold_out(dataset):
        return None
    return Holdout(DEFAULT_FRACTION if fraction is None else fraction, seed)


def with_holdout(dataset: Dataset, holdout: Holdout | dict | None) -> Dataset:
    """The dataset with its one split split into "train" and "validation" by `holdout`; the dataset itself when
    `holdout` is None or it has several splits (they are the data's own). The same dataset, fraction and seed give
    the same rows (cached while the dataset lives)."""
    holdout = Holdout.from_value(holdout)
    if holdout is None or len(dataset.splits) != 1:
        return dataset
    return _memo.get(dataset, holdout)


def split_off(dataset: Dataset, holdout: Holdout) -> Dataset:
    """Split a single-split dataset (see `with_holdout`, which caches this). Each label keeps its share in both
    parts (largest remainders), at least one row goes to each part, and rows keep their order."""
    (name, rows), = dataset.splits.items()
    if len(rows) < 2:
        raise UserError("splits.too_few_rows", name=dataset.name, n=len(rows), split=name)
    n_val = min(len(rows) - 1, max(1, round(len(rows) * holdout.fraction)))
    classes = _classes(rows, dataset.label_column)
    rng = random.Random(holdout.seed)
    held = set()
    for label, quota in _quotas(classes, n_val, len(rows)).items():
        held.update(rng.sample(classes[label], quota))
    splits = {TRAIN: [row for i, row in enumerate(rows) if i not in held],
              VALIDATION: [row for i, row in enumerate(rows) if i in held]}
    return replace(dataset, splits=splits)


def _classes(rows: list[dict], label_column: str | None) -> dict[str, list[int]]:
    """Row indices per label, labels in natural order (one class for unlabelled data)."""
    members: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        value = row.get(label_column) if label_column else None
        members.setdefault("" if is_missing(value) else str(value), []).append(i)
    return {label: members[label] for label in sorted(members, key=natural_key)}


def _quotas(classes: dict[str, list[int]], n_val: int, n: int) -> dict[str, int]:
    """Validation rows per class: proportional, rounded by largest remainder (ties: the larger class, then the
    label order), so the quotas add up to n_val exactly."""
    exact = {label: len(members) * n_val / n for label, members in classes.items()}
    quotas = {label: int(share) for label, share in exact.items()}
    order = sorted(classes, key=lambda label: (-(exact[label] - quotas[label]), -len(classes[label])))
    for label in order[:n_val - sum(quotas.values())]:
        quotas[label] += 1
    return quotas


def describe(dataset: Dataset, holdout: Holdout | None) -> dict | None:
    """What a holdout did, for messages: {"source": "data", "fraction": 0.2, "seed": 0, "train": 80,
    "validation": 20, "stratified": True}; None when nothing was held out."""
    holdout = Holdout.from_value(holdout)
    if holdout is None or not can_hold_out(dataset):
        return None
    split = with_holdout(dataset, holdout)
    return {"source": next(iter(dataset.splits)), "fraction": holdout.fraction, "seed": holdout.seed,
            "train": len(split.splits[TRAIN]), "validation": len(split.splits[VALIDATION]),
            "stratified": dataset.label_column is not None}


# ---- overlap --------------------------------------------------------------------------------------------------


def overlap(train_rows: list[dict], eval_rows: list[dict], label_column: str | None = None) -> int:
    """How many of `eval_rows` also appear among `train_rows`: the same values in every column but the label and
    id-like columns (`ID_COLUMNS`, names ending in _id or _idx). Such a row, scored, can be shown its own twin as a
    demonstration, and a tuned prompt has been trained on it."""
    def key(row: dict) -> tuple:
        return tuple(sorted((column, value) for column, value in row.items()
                            if column != label_column and not _is_id(column)))

    wanted = {key(row) for row in eval_rows}
    present = {k for k in map(key, train_rows) if k in wanted}
    return sum(key(row) in present for row in eval_rows)


def _is_id(column: str) -> bool:
    lowered = column.lower()
    return lowered in ID_COLUMNS or lowered.endswith(("_id", "_idx"))


# ---- cache: one split per (dataset, holdout), kept as long as the dataset is ----------------------------------


class _Memo:
    """Splits already made, per dataset object: dropped when that dataset is garbage (a finalizer), so they never
    hold rows the dataset cache has let go. A few holdouts per dataset at most."""

    PER_DATASET = 4

    def __init__(self):
        self._splits: dict[int, dict[Holdout, Dataset]] = {}
        self._lock = threading.Lock()

    def get(self, dataset: Dataset, holdout: Holdout) -> Dataset:
        key = id(dataset)
        with self._lock:
            made = self._splits.get(key, {}).get(holdout)
        if made is not None:
            return made
        made = split_off(dataset, holdout)
        with self._lock:
            if key not in self._splits:
                self._splits[key] = {}
                weakref.finalize(dataset, self._forget, key)
            kept = self._splits[key]
            kept[holdout] = made
            while len(kept) > self.PER_DATASET:
                kept.pop(next(iter(kept)))
        return made

    def _forget(self, key: int) -> None:
        with self._lock:
            self._splits.pop(key, None)


_memo = _Memo()
