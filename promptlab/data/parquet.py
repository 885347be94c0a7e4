"""Parquet files -> a `Table`, with the decoded size checked before it is decoded.

A Parquet file can be tiny on disk and enormous once read: a dictionary-encoded column stores one long string once
and a run-length-encoded index for each row (a 1 kB file can hold 6 GB of text), and zstd shrinks a repeated value
thousands of times. So the footer's counts (rows, values, bytes after decompression) are checked against the
dataset's `Budget` before any page is read, and text columns are read as dictionaries (each distinct value decoded
once), so that the file's expanded size is measured before anything is expanded; then rows are built a batch at a
time.
"""

from __future__ import annotations

import json
from pathlib import Path

from promptlab.data.limits import Budget
from promptlab.data.table import Table, arrow_rows
from promptlab.messages import UserError

BATCH_ROWS = 8192


def read_parquet(path: Path, budget: Budget) -> Table:
    """Read a Parquet file within `budget`; nested values become JSON text, Hugging Face class labels names."""
    import pyarrow
    import pyarrow.parquet as pq

    _check_signature(path)
    try:
        file = pq.ParquetFile(path, read_dictionary=_text_columns(pq.read_schema(path)))
        _check_footer(path, file.metadata, len(file.schema_arrow), budget)
        class_names = hf_class_names(file.schema_arrow.metadata or {})
        table = file.read()
        budget.charge(path.name, cells=table.num_rows * table.num_columns,
                      nbytes=sum(decoded_nbytes(column) for column in table.columns))
        rows = []
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):  # measured: now expand, a batch at a time
            columns = [c.dictionary_decode() if pyarrow.types.is_dictionary(c.type) else c for c in batch.columns]
            rows += arrow_rows(pyarrow.Table.from_arrays(columns, names=batch.schema.names), class_names)
    except MemoryError:
        raise  # pyarrow's ArrowMemoryError is one too: out of memory is not a damaged file
    except (pyarrow.ArrowException, OSError) as error:
        raise UserError("data.parquet_unreadable", path=path, detail=error) from None
    return Table(rows, tuple(file.schema_arrow.names), class_names)


def _check_signature(path: Path) -> None:
    with path.open("rb") as file:
        magic = file.read(4)
    if not magic:
        raise UserError("data.parquet_empty", path=path)
    if magic != b"PAR1":
        raise UserError("data.not_parquet", path=path)


def _text_columns(schema) -> list[str]:
    """Top-level string and binary columns: read as dictionaries, so repeated values are decoded once."""
    import pyarrow.types as types

    kinds = (types.is_string, types.is_large_string, types.is_binary, types.is_large_binary)
    return [field.name for field in schema if any(kind(field.type) for kind in kinds)]


def _check_footer(path: Path, metadata, columns: int, budget: Budget) -> None:
    """Refuse, before reading a page, a file whose footer declares more cells or decompressed bytes than fit: rows x
    columns, or every value inside nested columns, and the pages' size after decompression."""
    values = nbytes = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            values += chunk.num_values
            nbytes += chunk.total_uncompressed_size
    budget.check_ahead(path.name, cells=max(metadata.num_rows * columns, values), nbytes=nbytes)


def decoded_nbytes(column) -> int:
    """Bytes an Arrow array (or chunked array) takes once decoded, measured without decoding it: a dictionary array
    of strings counts each row's string, not the dictionary's one copy."""
    return sum(_decoded_nbytes(chunk) for chunk in getattr(column, "chunks", [column]))


def _decoded_nbytes(array) -> int:
    import pyarrow.compute as pc
    import pyarrow.types as types

    if not types.is_dictionary(array.type):
        return array.nbytes
    values = array.dictionary
    if types.is_string(values.type) or types.is_binary(values.type) or types.is_large_string(values.type) \
            or types.is_large_binary(values.type):
        per_row = pc.take(pc.binary_length(values), array.indices)
        return int(pc.sum(per_row).as_py() or 0) + array.indices.nbytes
    width = values.nbytes / max(1, len(values))
    return int(width * len(array)) + array.indices.nbytes


def hf_class_names(metadata: dict) -> dict[str, tuple[str, ...]]:
    """ClassLabel names that Hugging Face `datasets` stores in a Parquet file's schema metadata."""
    try:
        features = json.loads(metadata[b"huggingface"])["info"]["features"]
    except (KeyError, TypeError, ValueError):
        return {}
    return {
        name: tuple(feature["names"])
        for name, feature in features.items()
        if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" and feature.get("names")
    }
