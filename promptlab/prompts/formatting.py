"""Formatting that cannot build a huge text: `str.format` / `format_map`, the `%` operator and the `format`,
`tojson` and `sum` filters, each checked with exact accounting instead of a guess from the format string.

* `str.format`: `BoundedFormatter` checks every replacement field's width and precision *as resolved* (a nested
  field such as "{:{}}" takes its width from an argument) before formatting it, and the running length of the
  result, so neither one wide field nor a thousand fields just under the limit get built.
* `%`: `check_printf` scans the format once, left to right like CPython, reading `*` widths from the arguments,
  and refuses when one width or all of them together pass MAX_CHARS.
* `tojson`: json with an indent is produced chunk by chunk and stopped once past MAX_CHARS (an indent multiplies
  the size by the nesting depth). `sum` of lists is linear (the builtin copies the growing list once per item).

Every check here is linear in the format string: no backtracking regular expressions.
"""

from __future__ import annotations

import itertools
import json
import re

from jinja2 import pass_environment
from jinja2.exceptions import FilterArgumentError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedFormatter
from markupsafe import EscapeFormatter, soft_str

from promptlab.messages import UserError
from promptlab.prompts.budget import MAX_CHARS, refuse

_NUMBER = re.compile(r"\d+")  # maximal runs of digits: one pass, nothing to backtrack
_MAX_DIGITS = len(str(MAX_CHARS))  # a width written with more digits is over the limit (no int() of it needed)
MAX_JSON_INDENT = 100  # characters; larger indents have no use in a prompt


def _quoted(fmt: str) -> str:
    return repr(fmt[:40]) + ("…" if len(fmt) > 40 else "")


def _too_wide(fmt: str, widest: int, total: int, room: int = MAX_CHARS) -> None:
    if widest > MAX_CHARS:
        refuse("limit.format_width", format=_quoted(fmt), limit=MAX_CHARS)
    if total > room:
        refuse("limit.format_widths", format=_quoted(fmt), limit=MAX_CHARS)


def _spec_numbers(spec: str) -> tuple[int, int]:
    """(largest, sum) of the numbers in a resolved format spec: its width and precision (a digit used as the fill
    character counts too, which only overestimates). A number too long to be under the limit counts as over it."""
    widest = total = 0
    for match in _NUMBER.finditer(spec):
        number = MAX_CHARS + 1 if len(match[0]) > _MAX_DIGITS else int(match[0])
        widest, total = max(widest, number), total + number
    return widest, total


class BoundedFormatter(SandboxedFormatter):
    """Jinja's sandboxed `str.format`, with each field's padding checked before the field is formatted and the
    result's running length checked after: `"{:{}}".format("a", "99999999")` and `("{:99999}" * 1000).format(...)`
    are refused before anything large exists."""

    def vformat(self, format_string, args, kwargs):
        self._format, self._room = format_string, MAX_CHARS - len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value, format_spec):
        widest, total = _spec_numbers(format_spec)
        _too_wide(self._format, widest, total, self._room)
        text = super().format_field(value, format_spec)
        self._room -= len(text)
        if self._room < 0:
            refuse("limit.builds_text", function="format()", limit=MAX_CHARS)
        return text


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    """`BoundedFormatter` for Markup format strings (their fields are escaped)."""


def check_printf(fmt: str, values) -> None:
    """Refuse `fmt % values` when the widths and precisions it asks for (`*` ones read from `values`) pass
    MAX_CHARS, one of them or all together. One left-to-right scan, as CPython parses a %-format."""
    args = values if isinstance(values, tuple) else (values,)
    widest = total = used = 0
    i, n = 0, len(fmt)
    while (i := fmt.find("%", i) + 1) > 0:
        keyed = i < n and fmt[i] == "("
        if keyed:  # a mapping key; parentheses inside it may nest
            depth, i = 1, i + 1
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(fmt[i], 0)
                i += 1
        while i < n and fmt[i] in "-+ #0":
            i += 1
        for part in ("width", "precision"):
            if part == "precision":
                if i >= n or fmt[i] != ".":
                    break
                i += 1
            if i < n and fmt[i] == "*":
                number = args[used] if used < len(args) else 0
                used, i = used + 1, i + 1
                number = abs(number) if isinstance(number, int) else 0
            else:
                start = i
                while i < n and "0" <= fmt[i] <= "9":
                    i += 1
                number = MAX_CHARS + 1 if i - start > _MAX_DIGITS else int(fmt[start:i] or 0)
            widest, total = max(widest, number), total + number
        while i < n and fmt[i] in "hlL":
            i += 1
        if i < n and fmt[i] != "%" and not keyed:
            used += 1
        i += 1
    _too_wide(fmt, widest, total)


def do_format(value, *args, **kwargs) -> str:
    """The `format` filter ("%s, %s!"|format(greeting, name)), with `check_printf`."""
    if args and kwargs:
        raise FilterArgumentError("can't handle positional and keyword arguments at the same time")
    fmt, values = soft_str(value), kwargs or args
    check_printf(fmt, values)
    return fmt % values


def bounded_dumps(obj, **kwargs) -> str:
    """json.dumps for the `tojson` filter (Jinja's policy "json.dumps_function"). Without an indent the text is at
    most a few times the value's size; with one, it grows with the nesting depth, so it is built chunk by chunk
    and refused once past MAX_CHARS."""
    indent = kwargs.get("indent")
    if indent is None:
        return json.dumps(obj, **kwargs)
    if isinstance(indent, Undefined) or not isinstance(indent, (int, str)):
        raise UserError("limit.tojson_indent_type")
    if (len(indent) if isinstance(indent, str) else indent) > MAX_JSON_INDENT:
        refuse("limit.tojson_indent", indent=indent if isinstance(indent, int) else "…", limit=MAX_JSON_INDENT)
    chunks, length = [], 0
    for chunk in json.JSONEncoder(**kwargs).iterencode(obj):
        length += len(chunk)
        if length > MAX_CHARS:
            refuse("limit.builds_text", function="tojson()", limit=MAX_CHARS)
        chunks.append(chunk)
    return "".join(chunks)


@pass_environment
def do_sum(environment, iterable, attribute=None, start=0):
    """Jinja's `sum` filter, in linear time when it adds up lists (the builtin copies the growing list once per
    item: summing 50,000 one-item lists took seconds)."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    items = list(iterable)
    if isinstance(start, (list, tuple)) and all(type(item) is type(start) for item in items):
        return start + type(start)(itertools.chain.from_iterable(items))
    return sum(items, start)
