"""The template sandbox: the Jinja environment user-typed templates render in, and its resource limits.

Strangers type these templates (the web app), so Jinja runs in an immutable sandbox that blocks internals
(__class__, __globals__, ...), and the limits below stop a template from exhausting memory or CPU: every operation
that can multiply a size ('a' * 10**9, 10**10**10, range, format widths, replace, join, ~) is checked *before* it
builds anything, every built value is capped at MAX_CHARS, and loops and calls spend a step budget (nested loops,
recursive macros). Parsed templates are rewritten (`_Guard`) so that loops, `~` and all output go through counters.

This module knows nothing of Template, Problem or YAML: it renders one Jinja source text with a context and lets
Jinja's errors (TemplateSyntaxError, SecurityError, UndefinedError, ...) and `LimitError` propagate. Turning them
into a `RenderError` a user can act on is promptlab.templates' job. Public surface: the MAX_* limits, `LimitError`,
`PROVIDED`, `compile_source` (cached), `names_read` and `undeclared_variables` (cached) and `render_source`.
"""

from __future__ import annotations

import contextvars
import functools
import re

from jinja2 import StrictUndefined, meta, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

MAX_CHARS = 100_000  # longest rendered text, string or list a template may build
MAX_RANGE = 1_000  # longest range() a template may ask for
MAX_STEPS = 20_000  # loop iterations + calls one field render may spend
MAX_INT_BITS = 256  # biggest integer (about 77 digits) that * and ** may produce; prompts need far less


class LimitError(ValueError):
    """A template asked for more than the sandbox allows."""


# ---------------------------------------------------------------------------------------------------------------
# Checks: each refuses an operation before it builds anything too big, or charges the render's budget.

_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("promptlab_template_budget")
_FORMAT_WIDTH = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*\.?\d{6,}|\{[^{}]*:[^{}]*\d{6,}")  # widths of 6+ digits
_STR_METHODS = frozenset({  # str methods a prompt may call; others (expandtabs, translate, ...) can explode
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill"})
_UNSAFE_FILTERS = ("indent", "wordwrap", "urlize", "xmlattr", "filesizeformat")  # no use in prompts; size levers


def _refuse(message: str):
    raise LimitError(f"{message} Templates are limited so that one prompt cannot exhaust the server.")


def _spend(steps: int = 1, chars: int = 0) -> None:
    """Charge the current render's budget: [steps left, characters left to write]."""
    budget = _budget.get(None)
    if budget is not None:
        budget[0] -= steps
        budget[1] -= chars
        if budget[0] < 0:
            _refuse(f"The template runs more than {MAX_STEPS:,} loop steps or calls.")
        if budget[1] < 0:
            _refuse(f"The template writes more than {MAX_CHARS:,} characters.")


def _size(value, limit: int = MAX_CHARS) -> int:
    """Characters and items in a value, nested ones included (a list may hold one big text 1,000 times);
    stops counting once past `limit`, so checking costs no more than the limit."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, (list, tuple)):
        return 1
    total = len(value)
    if set(map(type, value)) <= {int, float, bool, type(None)}:  # flat: no need to look inside (fast path)
        return total
    for item in value:
        if total > limit:
            break
        total += _size(item, limit - total)
    return total


def _limited(value):
    if isinstance(value, (str, list, tuple, dict)) and _size(value) > MAX_CHARS:
        _refuse(f"The template built a value of over {MAX_CHARS:,} characters or items.")
    return value


def _check_args(name: str, args, kwargs) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and abs(arg) > MAX_CHARS:
            _refuse(f"The number {arg:,} is too large for {name}(); the limit is {MAX_CHARS:,}.")


def _check_format(fmt: str, args) -> None:
    if _FORMAT_WIDTH.search(fmt) or ("*" in fmt and any(isinstance(a, int) and a > MAX_CHARS for a in args)):
        _refuse(f"The format string {fmt[:40]!r} asks for a width over {MAX_CHARS:,}.")


def _check_growth(name: str, value, args, kwargs):
    """Refuse format/replace/join calls whose result would pass MAX_CHARS; returns `value` (join: as a list)."""
    if name == "format" and isinstance(value, str):
        _check_format(value, args)
    if name == "replace" and isinstance(value, str) and len(args) >= 2 and \
            value.count(str(args[0])) * len(str(args[1])) > MAX_CHARS:
        _refuse(f"replace() would build a text over {MAX_CHARS:,} characters.")
    if name == "sum":  # adding up lists builds one list as big as all of them
        value = list(value)
        if _size(value) > MAX_CHARS:
            _refuse(f"sum() would build a list over {MAX_CHARS:,} items.")
    if name == "join":
        value = list(value)  # the separator is repeated once per item
        separator = str(args[0] if args else kwargs.get("d", ""))
        if sum(len(v) for v in value if isinstance(v, str)) + len(value) * len(separator) > MAX_CHARS:
            _refuse(f"join() would build a text over {MAX_CHARS:,} characters.")
    return value


def _check_binop(operator: str, left, right) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
        _refuse(f"{left} ** {right} is too large a number.")
    if operator == "*" and ints and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
        _refuse("That multiplication makes too large a number.")
    if operator == "*" and not ints:
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(n, int) and isinstance(seq, (str, list, tuple)) and len(seq) * n > MAX_CHARS:
            _refuse(f"{n:,} copies of a value of length {len(seq):,} is too long; the limit is {MAX_CHARS:,}.")
    if operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


# ---------------------------------------------------------------------------------------------------------------
# The environment: guarded globals and filters, the parse-tree rewriting, the sandbox class itself

def _safe_range(*args) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        _refuse(f"range() of {len(items):,} items is too long; the limit is {MAX_RANGE:,}.")
    return items


_safe_range.__name__ = "range"  # error messages name what the user typed


def _guard_filter(name: str, func):
    """Wrap a built-in filter: its size arguments (after the value) and its result are bounded."""
    skip = 1 if _PassArg.from_obj(func) is None else 2  # (context/env,) value, then the filter's own arguments

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        _spend()
        _check_args(name, args[skip:], kwargs)
        if len(args) >= skip:
            args = (*args[:skip - 1], _check_growth(name, args[skip - 1], args[skip:], kwargs), *args[skip:])
        return _limited(func(*args, **kwargs))

    return guarded


def _counted(iterable):
    """Wrapped around every {% for %} iterable: each iteration costs a step."""
    for item in iterable:
        _spend()
        yield item


@pass_context
def _emit(context, value):
    """Wrapped around everything a template writes, text between tags included: counts the characters, also
    inside {% set %} blocks, macros and {% filter %} blocks, whose text is built in memory before it is used.
    (pass_context keeps Jinja from running it once at compile time instead of per render.)"""
    _spend(0, 0 if value is None else len(str(value)))
    return value


def _concat(items) -> str:
    """The `~` operator, with its length checked before joining."""
    texts = [str(item) for item in items]
    if sum(map(len, texts)) > MAX_CHARS:
        _refuse(f"Joining texts with ~ would build over {MAX_CHARS:,} characters.")
    return "".join(texts)


class _Guard(NodeTransformer):
    """Rewrites a parsed template: loops iterate through _counted, `a ~ b` goes through _concat, and every
    piece of output through _emit."""

    def visit_Output(self, node):
        node = self.generic_visit(node)
        node.nodes = [nodes.Filter(child, "_emit", [], [], None, None, lineno=child.lineno) for child in node.nodes]
        return node

    def visit_For(self, node):
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_counted", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node):
        node = self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes), "_concat", [], [], None, None, lineno=node.lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def is_safe_attribute(self, obj, attr, value):
        return super().is_safe_attribute(obj, attr, value) and (not isinstance(obj, str) or attr in _STR_METHODS)

    def call_binop(self, context, operator, left, right):
        _check_binop(operator, left, right)
        return _limited(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):  # positional-only: a template may pass obj= or context=
        _spend()
        if obj is not _safe_range:  # range() has its own, smaller limit
            _check_args(getattr(obj, "__name__", "function"), args, kwargs)
        owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)  # Jinja wraps "...".format
        if isinstance(owner, str) and obj.__name__ == "join" and args:  # "sep".join(items)
            args = (_check_growth("join", args[0], (owner,), {}), *args[1:])
        elif isinstance(owner, str):  # "...".format(...) (wrapped by Jinja) and "...".replace(old, new)
            _check_growth(obj.__name__, owner, args, kwargs)
        return _limited(super().call(context, obj, *args, **kwargs))


_ENV = _Sandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
                finalize=lambda v: "" if v is None else v)  # a missing cell renders as "", not "None"
_ENV.filters = {name: _guard_filter(name, f) for name, f in _ENV.filters.items() if name not in _UNSAFE_FILTERS}
_ENV.filters.update(_counted=_counted, _concat=_concat, _emit=_emit)
_ENV.globals["range"] = _safe_range
del _ENV.globals["lipsum"]  # useless in prompts, and its size argument is another memory lever
# Names the render context supplies, not columns: the answer choices, and `mask`, a cloze template's answer slot.
PROVIDED = frozenset({"answer_choices", "mask", *_ENV.globals})


# ---------------------------------------------------------------------------------------------------------------
# What the rest of the engine calls

@functools.lru_cache(maxsize=1024)
def compile_source(source: str):
    """The guarded, compiled jinja2.Template for a source text. Parses, rewrites and compiles once per source text
    (rendering runs per row), so the result is cached. Raises TemplateSyntaxError on a syntax error."""
    tree = _Guard().visit(_ENV.parse(source))
    tree.set_environment(_ENV)
    return _ENV.from_string(tree)


@functools.lru_cache(maxsize=1024)
def names_read(source: str) -> frozenset[str]:
    """Every name a source text reads from its context, the supplied ones (`PROVIDED`) included. Cached. Raises
    TemplateSyntaxError on a syntax error."""
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


@functools.lru_cache(maxsize=1024)
def undeclared_variables(source: str) -> frozenset[str]:
    """The names a source text reads from its context, less those the render supplies itself (`PROVIDED`): the
    row columns it needs. Cached. Raises TemplateSyntaxError on a syntax error.

    >>> sorted(undeclared_variables("{% for w in words %}{{ w }}{% endfor %} {{ answer_choices[0] }} {{ range(2) }}"))
    ['words']
    """
    return names_read(source) - PROVIDED


def render_source(source: str, context: dict) -> str:
    """Render a source text in the sandbox with a fresh budget of steps and characters. Raises Jinja's own errors
    (TemplateSyntaxError, SecurityError, UndefinedError, ...), `LimitError`, or whatever the template's
    expressions raise; callers turn these into messages for users (promptlab.templates does).

    >>> render_source("{{ greeting|upper }}, {{ 2 ** 10 }}", {"greeting": "hi"})
    'HI, 1024'
    """
    _budget.set([MAX_STEPS, MAX_CHARS])
    return compile_source(source).render(context)
