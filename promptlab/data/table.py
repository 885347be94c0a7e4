"""A file's rows as plain Python values: the `Table` every reader returns, and the conversion of any cell (numpy,
Arrow, nested lists) to str/int/float/bool/None, so that a table view, a CSV export and a template can all use it.

>>> plain(float("nan")), plain([1, "二"])
(None, '[1, "二"]')
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from typing import NamedTuple


class Table(NamedTuple):
    rows: list[dict]
    columns: tuple[str, ...]
    class_names: dict[str, tuple[str, ...]]  # column -> names of its integer class ids


def plain(value):
    """A cell value as str/int/float/bool/None: NaN -> None, numpy scalars -> Python, nested -> JSON text.

    >>> plain(float("nan")), plain([1, "二"])
    (None, '[1, "二"]')
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return plain(value.item())
    if isinstance(value, (list, tuple, dict)) or type(value).__module__ == "numpy":
        return json.dumps(_jsonable(value), ensure_ascii=False)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__module__ == "numpy" and getattr(value, "ndim", 0) > 0:
        return [_jsonable(item) for item in value]
    return plain(value)


def arrow_rows(table, class_names: dict[str, tuple[str, ...]]) -> list[dict]:
    """Rows of a pyarrow Table; integer ids in `class_names` columns become names (-1, "no label", becomes None)."""
    columns = []
    for name in table.column_names:
        values = table.column(name).to_pylist()
        names = class_names.get(name)
        if names:
            values = [names[v] if isinstance(v, int) and 0 <= v < len(names) else None for v in values]
        else:
            values = [plain(v) for v in values]
        columns.append(values)
    return [dict(zip(table.column_names, cells)) for cells in zip(*columns)]
