"""File-format readers: JSON Lines / JSON, CSV, TSV and Parquet files -> rows of plain Python values.

`read_file` returns a `Table`: rows (dicts whose values are str, int, float, bool or None), the column names in file
order, and the class names of integer class-label columns where the file records them (Parquet files written by
Hugging Face `datasets` do). Every problem is a `ValueError` that names the file and, where there is one, the line.

Nested values (lists, dicts: Parquet list/struct columns, JSON arrays inside a row) are kept as JSON-encoded strings
(`'["a", "b"]'`), so every cell stays a plain scalar that a table view, a CSV export and a template can all handle.

What a file may hold once read is bounded by a `Budget` (cells and decoded bytes, for the whole dataset): text files
are counted as their rows are parsed, Parquet files (`promptlab.data.parquet`) and Arrow tables before they are
decoded.

>>> read_file(Path(__file__).parent / "demo" / "reviews" / "train.jsonl", 200_000_000).rows[0]["product"]
'camera'
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from promptlab.data.limits import Budget
from promptlab.data.table import Table, arrow_rows, plain
from promptlab.messages import Message, UserError

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv", ".parquet")

_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")  # no leading zeros: "007" stays text (ids, zip codes)
_FLOAT = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def read_file(path: Path, max_bytes: int, budget: Budget | None = None) -> Table:
    """Read one data file, chosen by its extension, charging what it holds to `budget` (by default the limits the
    environment sets, for this file alone).

    >>> read_file(Path(__file__).parent / "demo" / "reviews" / "train.jsonl", 10**8).columns
    ('text', 'label', 'product')
    """
    budget = budget or Budget.from_settings()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UserError("data.unsupported_type", path=path, suffix=suffix or Message("data.no_extension"),
                        supported=", ".join(SUPPORTED_EXTENSIONS))
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError("data.file_too_big", name=path.name, size=f"{size / 1e6:.1f}", limit=f"{max_bytes / 1e6:.0f}")
    if suffix == ".parquet":
        from promptlab.data.parquet import read_parquet

        table = read_parquet(path, budget)
    else:
        budget.charge(path.name, nbytes=size)  # text is about as long in memory as on disk
        text = _read_text(path)
        if suffix in (".jsonl", ".json"):
            table = _read_json(path, text, budget)
        else:
            table = _read_delimited(path, text, "\t" if suffix == ".tsv" else ",", budget)
    if not table.rows:
        raise UserError("data.no_rows", path=path)
    return table


# ---- text files -------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise UserError("data.empty_file", path=path)
    _check_not_binary(path, data[:8192])
    try:
        text = data.decode("utf-8-sig")  # -sig: a byte-order mark (Excel's "CSV UTF-8") is dropped transparently
    except UnicodeDecodeError as error:
        raise UserError(_not_utf8_message(path, data, error)) from None
    if not text.strip():
        raise UserError("data.empty_file", path=path)
    return text


def _check_not_binary(path: Path, head: bytes) -> None:
    kinds = {b"PAR1": "parquet", b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"\xff\xfe": "utf16", b"\xfe\xff": "utf16"}
    for magic, kind in kinds.items():
        if head.startswith(magic):
            raise UserError("data.not_plain_text", path=path, kind=Message(f"data.looks_like_{kind}"))
    if b"\x00" in head:
        raise UserError("data.binary", path=path)


def _not_utf8_message(path: Path, data: bytes, error: UnicodeDecodeError) -> Message:
    line = data.count(b"\n", 0, error.start) + 1
    try:  # the usual culprit for Chinese data: a GBK / GB18030 export (Excel on a Chinese Windows)
        data.decode("gb18030")
        gbk = Message("data.reads_as_gbk")
    except UnicodeDecodeError:
        gbk = ""
    return Message("data.not_utf8", path=path, byte=error.start, line=line,
                   value=repr(data[error.start:error.start + 1]), gbk=gbk)


def _read_json(path: Path, text: str, budget: Budget) -> Table:
    if text.lstrip().startswith("["):
        return _read_json_array(path, text, budget)
    records, cells, left = [], 0, budget.cells_left()
    # split on "\n" only: str.splitlines() would also split at U+2028 and friends, which may sit inside a JSON string
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = _plain_record(json.loads(line))
        except json.JSONDecodeError as error:
            raise UserError(_json_line_message(path, text, number, error)) from None
        except RecursionError:  # json and plain() recurse once per level: say where, not "maximum recursion depth"
            raise UserError(_too_deep_message(path, line, number, outer=1)) from None
        if not isinstance(record, dict):  # ValueError, not TypeError: engine errors are ValueErrors
            raise UserError("data.json_line_not_object", path=path, line=number, found=_json_kind(record))  # noqa: TRY004
        cells += len(record)
        if cells > left:
            raise budget.over_cells(path.name, cells, at_least=True)
        records.append(record)
    return _table(path, records, budget)


def _plain_record(value):
    """A JSON object with plain cells (nested values as JSON text, NaN as None), changed in place; anything else as
    it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not (item is None or type(item) in (str, int, bool)):
                value[key] = plain(item)
    return value


def _too_deep_message(path: Path, text: str, first_line: int, outer: int) -> Message:
    """`text` starts at line `first_line` of the file; `outer` levels (the row's object, the array of rows) are the
    file's own, not the value's."""
    depth, line = _deepest(text)
    return Message("data.too_deep", path=path, line=first_line + line - 1, depth=max(1, depth - outer))


_JSON_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}\n]')


def _deepest(text: str) -> tuple[int, int]:
    """How deep the JSON in `text` nests lists and objects, and on which line (from 1) it is deepest. Brackets
    inside strings do not count."""
    depth = deepest = 0
    line = deepest_line = 1
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif token in "]}":
            depth -= 1
        elif token == "\n":
            line += 1
    return deepest, deepest_line


def _json_line_message(path: Path, text: str, number: int, error: json.JSONDecodeError) -> Message:
    try:
        json.loads(text)
        return Message("data.json_spread", path=path)
    except (json.JSONDecodeError, RecursionError):
        return Message("data.json_line_invalid", path=path, line=number, detail=error.msg, column=error.colno)


def _read_json_array(path: Path, text: str, budget: Budget) -> Table:
    try:
        items = [_plain_record(item) for item in json.loads(text)]
    except json.JSONDecodeError as error:
        raise UserError("data.json_invalid", path=path, line=error.lineno, detail=error.msg, column=error.colno) \
            from None
    except RecursionError:
        raise UserError(_too_deep_message(path, text, 1, outer=2)) from None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError("data.json_item_not_object", path=path, index=index, found=_json_kind(item))  # noqa: TRY004
    return _table(path, items, budget)


def _json_kind(value) -> Message | str:
    kinds = {list: "list", str: "string", bool: "bool", int: "number", float: "number"}
    if value is None:
        return "null"
    return Message(f"data.json_{kinds[type(value)]}") if type(value) in kinds else type(value).__name__


def _table(path: Path, records: list[dict], budget: Budget) -> Table:
    """Rows with every column (None where a record left one out), charged before they are built: a small file whose
    every line names other keys would otherwise make rows x columns cells."""
    columns = tuple(dict.fromkeys(key for record in records for key in record))
    budget.charge(path.name, cells=len(records) * len(columns))
    rows = [record if tuple(record) == columns else {key: record.get(key) for key in columns} for record in records]
    return Table(rows, columns, {})


def _read_delimited(path: Path, text: str, sep: str, budget: Budget) -> Table:
    """CSV (RFC 4180 quoting) or TSV (no quoting: a tab or newline never sits inside a field, as in GLUE's files).

    Read with the csv module rather than pandas: pandas silently pads short rows with NaN and cannot name the line.
    """
    csv.field_size_limit(2**31 - 1)  # the default, 128 KiB per field, is too small for long documents
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    try:
        header = next((row for row in reader if row), [])
        _check_header(path, header)
        records, max_rows = [], budget.cells_left() // max(1, len(header))
        for fields in reader:
            if not fields:
                continue  # blank line
            if len(fields) != len(header):
                raise UserError(_ragged_message(path, reader.line_num, header, fields, sep))
            if len(records) == max_rows:
                raise budget.over_cells(path.name, (max_rows + 1) * len(header), at_least=True)
            records.append(fields)
    except csv.Error as error:
        raise UserError("data.csv_error", path=path, line=reader.line_num, detail=error) from None
    budget.charge(path.name, cells=len(records) * len(header))
    columns = [_infer([fields[i] for fields in records]) for i in range(len(header))]
    rows = [dict(zip(header, cells)) for cells in zip(*columns)]
    return Table(rows, tuple(header), {})


def _check_header(path: Path, header: list[str]) -> None:
    seen = set()
    for name in header:
        if name in seen:
            raise UserError("data.column_twice", path=path, name=name)
        seen.add(name)


def _ragged_message(path: Path, line: int, header: list[str], fields: list[str], sep: str) -> Message:
    return Message("data.ragged", path=path, line=line, n=len(header), header=", ".join(header), found=len(fields),
                   hint=Message("data.hint_comma" if sep == "," else "data.hint_tab"))


def _infer(cells: list[str]) -> list:
    """One column's cells: "" -> None, and numbers become int/float when every non-empty cell is one."""
    values = [cell if cell != "" else None for cell in cells]
    present = [value for value in values if value is not None]
    for pattern, convert in ((_INT, int), (_FLOAT, float)):
        if present and all(pattern.fullmatch(value) for value in present):
            return [convert(value) if value is not None else None for value in values]
    return values


# ---- Hugging Face `datasets` ------------------------------------------------------------------------------------


def read_saved_hf(folder: Path, budget: Budget | None = None) -> dict[str, Table]:
    """Tables of a folder written by `datasets`' save_to_disk (a Dataset or a DatasetDict)."""
    import datasets  # slow to import (about a second), so only when a source needs it

    try:
        saved = datasets.load_from_disk(str(folder))
    except Exception as error:  # datasets raises many types here; the user needs the text
        raise UserError("data.saved_hf", folder=folder, detail=error) from error
    return hf_tables(saved, budget, folder.name)


def hf_tables(obj, budget: Budget | None = None, name: str = "The dataset") -> dict[str, Table]:
    """Tables of a `datasets` Dataset or DatasetDict; ClassLabel ids become names. Each split's size is charged to
    `budget` before its rows are built (its Arrow data is memory-mapped until then)."""
    import datasets

    budget = budget or Budget.from_settings()
    if isinstance(obj, datasets.DatasetDict):
        parts = dict(obj)
    else:
        parts = {str(obj.split) if obj.split else "data": obj}  # a lone Dataset keeps the split it was loaded as
    tables = {}
    for split, part in parts.items():
        names = {c: tuple(f.names) for c, f in part.features.items() if isinstance(f, datasets.ClassLabel)}
        cells = part.num_rows * len(part.column_names)
        budget.charge(f"{name}, split '{split}',", cells=cells, nbytes=part.data.nbytes)
        arrow = part.with_format("arrow")[:]  # honours select/shuffle index mappings, unlike part.data
        tables[split] = Table(arrow_rows(arrow, names), tuple(arrow.column_names), names)
    return tables
