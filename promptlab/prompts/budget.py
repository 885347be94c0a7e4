"""What one template render may spend, and how it is charged: the limits, `LimitError`, the per-render budget and
`render_budget`, a caller's bound on the rendering time of a whole request.

Every render of a Jinja field (`sandbox.render_source`) gets a fresh `_Render` budget: loop steps and calls
(`MAX_STEPS`), characters written (`MAX_CHARS`), characters and items built by every value it makes
(`MAX_BUILT`, so the memory one render can hold is bounded, not only each value) and wall time (`MAX_SECONDS`).
The sandbox charges it through `spend` at each step, call, filter, operator, slice, literal and output, and
`spend` checks the deadline there too. A caller that renders many rows for one request (a web request validating 20
rows, a comparison rendering rows x shots x seeds) wraps the work in `render_budget(seconds)`: the renders inside
share that much rendering time, and the first render past it raises `BudgetSpent`.
"""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager

from jinja2.utils import Namespace

from promptlab.messages import Message, UserError

MAX_CHARS = 100_000  # longest rendered text, string or list a template may build
MAX_RANGE = 1_000  # longest range() a template may ask for
MAX_STEPS = 20_000  # loop iterations + calls one field render may spend
MAX_INT_BITS = 256  # biggest integer (about 77 digits) that * and ** may produce; prompts need far less
# Characters + items that all the values one field render builds may add up to: room to split, transform, join and
# write a cell of the full MAX_CHARS (about 400,000), and at most about 15-30 MB however they are built (a list
# item costs up to ~60 bytes: measured 9.6 MB for 300,000 items of int lists held at once).
MAX_BUILT = 5 * MAX_CHARS
# Wall time of one field render. A shipped template renders a row in about 0.02 ms and a loop-heavy one in under
# 1 ms, so this is hundreds of times what a prompt needs, even on a loaded server; it stops loops over slow
# filters (sort, unique, `in` on long lists) long before a visitor would notice the server stall.
MAX_SECONDS = 0.5


class LimitError(UserError):
    """A template asked for more than the sandbox allows."""


class BudgetSpent(LimitError):
    """The rendering time of a `render_budget` block is spent."""


def refuse(key: str, **params):
    """Raise the LimitError of catalogue text `key` (what the template asked for), with why templates are limited."""
    raise LimitError("limit.refused", reason=Message(key, **params))


class _Request:
    """One `render_budget` block: seconds of rendering left, and the block it is nested in."""

    __slots__ = ("left", "outer", "seconds")

    def __init__(self, seconds: float, outer: _Request | None):
        self.seconds, self.left, self.outer = seconds, seconds, outer


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("promptlab_render_request", default=None)


@contextmanager
def render_budget(seconds: float):
    """Bound the rendering time of everything inside the block: the renders there spend at most `seconds` in
    total (time spent rendering, compiling included; time between renders, e.g. scoring, is not counted), and the
    first render past it raises `BudgetSpent`, a ValueError saying so. Nested blocks never extend an outer one.
    The budget belongs to the current thread (a context variable), so concurrent requests each have their own.

    >>> from promptlab.prompts.sandbox import render_source
    >>> with render_budget(2.0):
    ...     render_source("{{ greeting }}, world", {"greeting": "Hello"})
    'Hello, world'

    """
    token = _request.set(_Request(seconds, _request.get()))
    try:
        yield
    finally:
        _request.reset(token)


def budget_spent() -> bool:
    """True when an enclosing `render_budget` has no rendering time left."""
    tightest = _tightest(_request.get())
    return tightest is not None and tightest.left <= 0


def _tightest(request: _Request | None) -> _Request | None:
    """The enclosing `render_budget` block with the least time left (None outside any)."""
    tightest = request
    while request is not None:
        tightest, request = (request if request.left < tightest.left else tightest), request.outer
    return tightest


class _Render:
    """The budget of one field render: steps, characters written and characters + items built left, and its
    deadline (its own MAX_SECONDS, or sooner when a `render_budget` block has less left). Current from creation
    until `close()`, which charges the time it took to the enclosing `render_budget` blocks."""

    __slots__ = ("built", "deadline", "request", "start", "steps", "token", "written")

    def __init__(self):
        self.request = request = _request.get()
        if request is not None:
            self.request = request = _tightest(request)
        left = MAX_SECONDS if request is None else min(MAX_SECONDS, request.left)
        if left <= 0:
            _out_of_time(request)
        self.steps, self.written, self.built = MAX_STEPS, MAX_CHARS, MAX_BUILT
        self.start = time.monotonic()
        self.deadline = self.start + left
        self.token = _current.set(self)

    def close(self) -> None:
        _current.reset(self.token)
        request = _request.get()
        if request is not None:
            elapsed = time.monotonic() - self.start
            while request is not None:
                request.left -= elapsed
                request = request.outer

    def over(self):
        """Raise the LimitError of the first limit this render has passed."""
        if self.steps < 0:
            refuse("limit.steps", limit=MAX_STEPS)
        if self.written < 0:
            refuse("limit.written", limit=MAX_CHARS)
        if self.built < 0:
            refuse("limit.built", limit=MAX_BUILT)
        if self.deadline < self.start + MAX_SECONDS:  # a render_budget block's time ran out first
            _out_of_time(self.request)
        refuse("limit.seconds", seconds=f"{MAX_SECONDS:g}")


_current: contextvars.ContextVar[_Render | None] = contextvars.ContextVar("promptlab_template_budget", default=None)


def render_scope() -> _Render:
    """A fresh budget for one field render, current until its `close()` (call it in a `finally`)."""
    return _Render()


def spend(steps: int = 1, written: int = 0, built: int = 0) -> None:
    """Charge the current render's budget and check its deadline; outside a render (compile-time constant
    folding) nothing is charged. Called several times per render, so it does as little as it can."""
    budget = _current.get()
    if budget is not None:
        budget.steps -= steps
        budget.written -= written
        budget.built -= built
        if budget.steps < 0 or budget.written < 0 or budget.built < 0 or _now() > budget.deadline:
            budget.over()


_now = time.monotonic


def _out_of_time(request: _Request):
    raise BudgetSpent("limit.request_seconds", seconds=f"{request.seconds:g}")


def size(value, limit: int = MAX_CHARS) -> int:
    """Characters and items in a value, nested ones included (a list may hold one big text 1,000 times, a
    namespace may hold itself); stops counting once past `limit`, so it costs no more than the limit."""
    total, stack = 0, [value]
    while stack and total <= limit:
        value = stack.pop()
        if isinstance(value, str):
            total += len(value)
            continue
        if isinstance(value, Namespace):
            value = value._Namespace__attrs  # noqa: SLF001 (the only way to see what a namespace holds)
        if isinstance(value, dict):
            total += len(value)
            if total > limit:
                break
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            total += len(value)
            if total <= limit and not set(map(type, value)) <= _SCALARS:  # flat: no look inside (fast path)
                stack.extend(value)
        else:
            total += 1
    return total


_SCALARS = frozenset({int, float, bool, type(None)})


def limited(value, steps: int = 0):
    """`value`, charged to the render's built budget (plus `steps`); refused when it is over MAX_CHARS characters
    or items."""
    if isinstance(value, (str, list, tuple, dict, Namespace)):
        n = len(value) if isinstance(value, str) else size(value)
        if n > MAX_CHARS:
            refuse("limit.value", limit=MAX_CHARS)
        spend(steps, 0, n)
    else:
        spend(steps)
    return value
