"""Datasets: load rows from a demo name, a file, a folder, a saved Hugging Face dataset or the Hub.

>>> ds = load_dataset("demo-reviews")
>>> ds.default_eval_split, ds.labels
('validation', ('negative', 'positive'))

Rows are plain dicts of str/int/float/bool/None, every row of a dataset has every column (None where a file left one
out), and label values are names. File formats are read by `promptlab.data.readers`; which rows are scored or
shown as demonstrations is decided by `promptlab.data.sampling`.
"""

from __future__ import annotations

import difflib
import errno
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptlab import settings
from promptlab.data.hub import hub_reachable
from promptlab.data.limits import Budget
from promptlab.data.readers import SUPPORTED_EXTENSIONS, hf_tables, read_file, read_saved_hf
from promptlab.data.table import Table
from promptlab.messages import Message, UserError

MAX_UPLOAD_BYTES = 200_000_000  # per data file; a larger one is refused with its size and this limit

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMOS = {"demo-reviews": DEMO_DIR / "reviews", "demo-reviews-zh": DEMO_DIR / "reviews_zh"}

LABEL_COLUMN_NAMES = ("label", "labels", "class", "category", "sentiment", "target")

_SPLIT_ORDER = ("train", "validation", "dev", "test")
_SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation",
    "dev": "dev", "test": "test", "testing": "test",
}
# Extensions that mark a source as a file path even when the file is missing (so we never ask the Hub about it).
PATH_SUFFIXES = set(SUPPORTED_EXTENSIONS) | {".txt", ".xlsx", ".xls", ".zip", ".gz", ".arrow", ".feather", ".pkl"}
# A Hub name as the Hub spells repository ids ("owner/name" or "name": letters, digits, "_", "-", ".", starting and
# ending with a letter, digit or "_", no ".." or "--"), optionally with ":config". Nothing else is ever passed to
# `datasets.load_dataset`, which would take a path ("/", "~", "..") for a local folder.
_PART = r"\w(?:[\w.-]{0,94}\w)?"
_HUB_NAME = re.compile(rf"(?:{_PART}/)?{_PART}(?::\w[\w.-]{{0,63}})?", re.ASCII)
# `datasets.load_dataset` takes these names for its file-format loaders, which read data files from the current
# folder when given no others: never a Hub dataset, and on a server they would read the server's files.
PACKAGED_BUILDERS = frozenset({
    "arrow", "audiofolder", "cache", "conll", "csv", "eval", "fasta", "fastq", "folder_based_builder", "genbank",
    "generator", "harbor", "hdf5", "iceberg", "imagefolder", "json", "lance", "meshfolder", "mmcif", "niftifolder",
    "pandas", "parquet", "pdb", "pdffolder", "spark", "sql", "text", "tsfile", "videofolder", "vortex",
    "webdataset", "xml",
})


@dataclass(frozen=True)
class Dataset:
    name: str
    splits: dict[str, list[dict]]  # split -> rows (plain dicts, label values are names)
    columns: tuple[str, ...]
    label_column: str | None
    labels: tuple[str, ...]  # distinct label values as str, in class-label order if known, else sorted

    def rows(self, split: str) -> list[dict]:
        """The rows of one split: `ds.rows("validation")`."""
        if split not in self.splits:
            raise UserError("data.no_split", name=self.name, split=split, splits=", ".join(self.splits))
        return self.splits[split]

    @property
    def default_eval_split(self) -> str:
        """validation, else dev, else test (exact names first, then e.g. "validation_matched"), else the only (or
        first non-train) split."""
        for wanted in ("validation", "dev", "test"):
            if wanted in self.splits:
                return wanted
        for wanted in ("validation", "dev", "test"):
            for split in self.splits:
                if _split_name(split) == wanted:
                    return split
        others = [split for split in self.splits if split != "train"]
        return others[0] if others else next(iter(self.splits))

    @property
    def default_train_split(self) -> str:
        """train, else the largest split other than the eval split (the eval split itself when it is the only one)."""
        if "train" in self.splits:
            return "train"
        others = [split for split in self.splits if split != self.default_eval_split]
        return max(others, key=lambda split: len(self.splits[split])) if others else self.default_eval_split

    def label_counts(self, split: str) -> dict[str, int]:
        """Rows per label in a split, every label listed: `{'negative': 30, 'positive': 34}`."""
        rows = self.rows(split)
        if self.label_column is None:
            raise UserError(_no_label_column_message(self.name, self.columns))
        counts = dict.fromkeys(self.labels, 0)
        for row in rows:
            value = row.get(self.label_column)
            if not is_missing(value):
                counts[str(value)] = counts.get(str(value), 0) + 1
        return counts


# ---- loading ----------------------------------------------------------------------------------------------------


def load_dataset(source: str, *, label_column: str | None = None, budget: Budget | None = None) -> Dataset:
    """Load a demo name, a .jsonl/.json/.csv/.tsv/.parquet file, a folder of split files, a folder written by
    `datasets`' save_to_disk, or a Hugging Face Hub name (`sst2`, `stanfordnlp/sst2`, `glue:sst2`).

    A single file is one split named after its stem (train/validation/dev/test, else "data"). In a folder, each
    file is a split; files whose stems map to the same split (`train-00000-of-00002.parquet`, ...) are joined.
    The label column is `label_column`, else the first column named label, labels, class, category, sentiment or
    target, else None. Nested values (lists, structs) become JSON text, so every cell is a str/int/float/bool/None.
    What the dataset holds once read is bounded by `budget` (default: the limits the environment sets).

    This reads whatever path it is given, in this process: for the user's own data. Data named by strangers goes
    through `promptlab.data.bounded.load_untrusted`.

    >>> sorted(load_dataset("demo-reviews").splits)
    ['train', 'validation']
    """
    source = os.fspath(source)
    name, tables = _load_tables(source, budget or Budget.from_settings())
    return _build(name, tables, label_column)


def load_hub_dataset(source: str, *, label_column: str | None = None, budget: Budget | None = None) -> Dataset:
    """A dataset on the Hugging Face Hub (or in the local Hugging Face cache), by name only: `source` must be a Hub
    name (`is_hub_name`), and is never looked up as a path. Run it in an empty working folder (as
    `load_untrusted` does): `datasets` would still resolve a name that matches a folder there."""
    source = os.fspath(source)
    problem = hub_name_problem(source)
    if problem:
        raise UserError(problem)
    return _build(source, _load_hub(source, budget or Budget.from_settings(), hub_only=True), label_column)


def hub_name_problem(source: str) -> Message | None:
    """Why `source` cannot be a Hugging Face Hub dataset name, or None when it can."""
    name = source.partition(":")[0]
    if not _HUB_NAME.fullmatch(source) or ".." in source or "--" in name or Path(name).suffix.lower() in PATH_SUFFIXES:
        return Message("data.not_a_hub_name", source=source)
    if name.lower() in PACKAGED_BUILDERS:
        return _builder_name_message(source)
    return None


def _builder_name_message(source: str) -> Message:
    return Message("data.builder_name", source=source)


def _load_tables(source: str, budget: Budget) -> tuple[str, dict[str, Table]]:
    if source in DEMOS:
        return source, _read_folder(DEMOS[source], budget)
    path = Path(source).expanduser()
    if path.is_file():
        return path.stem, {_split_name(path.stem) or "data": read_file(path, MAX_UPLOAD_BYTES, budget)}
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return path.resolve().name, read_saved_hf(path, budget)
        return path.resolve().name, _read_folder(path, budget)
    if Path(source).suffix.lower() in PATH_SUFFIXES or not _HUB_NAME.fullmatch(source):
        raise UserError(_missing_path_message(path))
    name, _, config = source.partition(":")
    if config and os.path.lexists(name):  # `datasets` would read the folder here, whatever the config says
        raise UserError("data.config_of_a_path", source=source, name=name, config=config)
    problem = hub_name_problem(source)
    if problem:
        raise UserError(problem)
    return source, _load_hub(source, budget)


def _split_name(stem: str) -> str | None:
    """The standard split a file stem names: "train", "sst2_dev", "train-00000-of-00002" -> train / dev / train."""
    for token in re.split(r"[^a-z0-9]+", stem.lower()):
        if token in _SPLIT_ALIASES:
            return _SPLIT_ALIASES[token]
    return None


def _read_folder(folder: Path, budget: Budget) -> dict[str, Table]:
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS and not p.name.startswith(".")
    )
    if not files:
        present = ", ".join(sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:10])
        raise UserError("data.no_data_files", folder=folder, supported=", ".join(SUPPORTED_EXTENSIONS),
                        present=present or Message("data.nothing"))
    tables: dict[str, Table] = {}
    for file in files:
        split = _split_name(file.stem) or file.stem
        table = read_file(file, MAX_UPLOAD_BYTES, budget)
        if split in tables:  # shards of one split
            old = tables[split]
            table = Table(old.rows + table.rows, old.columns + table.columns, {**old.class_names, **table.class_names})
        tables[split] = table
    return tables


def _load_hub(source: str, budget: Budget, *, hub_only: bool = False) -> dict[str, Table]:
    name, _, config = source.partition(":")
    if not settings.hub_offline() and not hub_reachable():
        reason = Message("data.hub_unreachable")
        raise UserError(_hub_failed_message(source, reason, hub_only))
    import datasets

    if name in getattr(datasets.packaged_modules, "_PACKAGED_DATASETS_MODULES", {}):  # loaders newer than our list
        raise UserError(_builder_name_message(source))
    try:  # what datasets.load_dataset does, with a look at the files before any is read; never trust_remote_code
        builder = datasets.load_dataset_builder(name, config or None)
        outside = _files_outside_the_repository(name, builder)
        if not outside:
            builder.download_and_prepare()
            loaded = builder.as_dataset()
    except Exception as error:  # network, not-found and config errors all come as different types
        _reraise_lack_of_resources(error)
        reason = Message("data.hub_failed", name=name, error=type(error).__name__, detail=error)
        if settings.hub_offline():
            reason = Message("data.hub_offline", name=name, error=type(error).__name__)
        raise UserError(_hub_failed_message(source, reason, hub_only)) from error
    if outside:  # the paths themselves stay unsaid: a pattern resolved here would name the server's files
        raise UserError("data.files_outside", source=source, n=len(outside))
    return hf_tables(loaded, budget, source)


def _files_outside_the_repository(name: str, builder) -> list[str]:
    """The data files `builder` would read that are not in the Hub repository `name`: a dataset card may list any
    path (`/etc/...`, `../other`, a URL), and older versions of `datasets` read them (an absolute path from the
    server's disk); `datasets` 5 refuses them itself, and this check holds whatever the version."""
    inside = f"datasets/{name}@"
    files = [str(file) for split in (builder.config.data_files or {}).values() for file in split]
    return [file for file in files
            if not (file.startswith("hf://") and posixpath.normpath(file[len("hf://"):]).startswith(inside))]


def _reraise_lack_of_resources(error: BaseException) -> None:
    """`datasets` wraps what went wrong while preparing a dataset; out of memory and over the file-size limit (what
    the bounded reader's limits cause) are raised as themselves, so that they are reported as such."""
    seen: BaseException | None = error
    for _ in range(20):  # a chain is short; a cycle must not loop forever
        if seen is None:
            return
        if isinstance(seen, MemoryError) or (isinstance(seen, OSError) and seen.errno == errno.EFBIG):
            raise seen
        seen = seen.__cause__ or seen.__context__


def _hub_failed_message(source: str, reason: Message, hub_only: bool = False) -> Message:
    close = difflib.get_close_matches(source, list(DEMOS), n=1)
    hint = Message("data.did_you_mean_demo", name=close[0]) if close else ""
    if hub_only:  # no file was looked for: say so, and offer what this server reads
        return Message("data.hub_load_failed", source=source, reason=reason, hint=hint, demos=", ".join(DEMOS))
    return Message("data.no_path_and_hub_failed", source=source, reason=reason, hint=hint, demos=", ".join(DEMOS))


def _missing_path_message(path: Path) -> Message:
    folder = path.parent
    if not folder.is_dir():
        return Message("data.missing_folder", path=path, folder=folder)
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.5)
    if close:
        return Message("data.missing_path_guess", path=path, names=", ".join(close))
    data_files = [n for n in names if Path(n).suffix.lower() in SUPPORTED_EXTENSIONS][:10]
    return Message("data.missing_path", path=path, folder=folder.resolve(),
                   files=", ".join(data_files) or Message("data.none"))


# ---- building the Dataset -------------------------------------------------------------------------------------------


def _build(name: str, tables: dict[str, Table], label_column: str | None) -> Dataset:
    order = sorted(tables, key=_split_rank)
    columns = tuple(dict.fromkeys(column for split in order for column in tables[split].columns))
    splits = {split: [{c: row.get(c) for c in columns} for row in tables[split].rows] for split in order}
    if not any(splits.values()):
        raise UserError("data.dataset_no_rows", name=name)
    label_column = _pick_label_column(name, columns, label_column)
    labels: tuple[str, ...] = ()
    if label_column is not None:
        _check_labels(name, splits, label_column)
        class_names = next((t.class_names[label_column] for t in tables.values() if label_column in t.class_names), ())
        labels = _label_order(splits, label_column, class_names)
    return Dataset(name, splits, columns, label_column, labels)


def _split_rank(split: str) -> tuple[int, str]:
    """Sort key: train, validation, dev, test (also "validation_matched" and the like), then the rest by name."""
    standard = _split_name(split)
    return (_SPLIT_ORDER.index(standard) if standard else len(_SPLIT_ORDER), split)


def _pick_label_column(name: str, columns: tuple[str, ...], wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            close = difflib.get_close_matches(wanted, columns, n=1)
            hint = Message("file.did_you_mean", name=close[0]) if close else ""
            raise UserError("data.no_label_column_named", name=name, column=wanted, hint=hint,
                            columns=", ".join(columns))
        return wanted
    for candidate in LABEL_COLUMN_NAMES:
        for column in columns:  # exact name first, then any case ("Label", "Sentiment")
            if column == candidate:
                return column
        for column in columns:
            if column.lower() == candidate:
                return column
    return None


def _check_labels(name: str, splits: dict[str, list[dict]], column: str) -> None:
    """Every row of a labelled split needs a label. A split with no labels at all is an unlabelled split (a test set
    without answers, -1 ids on the Hub) and is allowed, as long as some split is labelled."""
    labelled = False
    for split, rows in splits.items():
        missing = [i for i, row in enumerate(rows) if is_missing(row.get(column))]
        if missing and len(missing) < len(rows):
            raise UserError("data.labels_missing", name=name, split=split, column=column, n=len(missing),
                            total=len(rows), first=missing[0])
        labelled = labelled or not missing
    if not labelled:
        raise UserError("data.labels_all_missing", name=name, column=column)


def _label_order(splits: dict[str, list[dict]], column: str, class_names: Sequence[str]) -> tuple[str, ...]:
    present = {str(row[column]) for rows in splits.values() for row in rows if not is_missing(row[column])}
    known = [label for label in class_names if label in present]
    return tuple(known + sorted(present - set(known), key=natural_key))


def natural_key(label: str):
    """Numbers in numeric order ("2" before "10"), then text in code-point order."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def is_missing(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _no_label_column_message(name: str, columns: Sequence[str]) -> Message:
    return Message("data.no_label_column", name=name, names=", ".join(LABEL_COLUMN_NAMES), columns=", ".join(columns))
