"""The template sandbox: the Jinja environment user-typed templates render in, and its resource limits.

Strangers type these templates (the web app), so Jinja runs in an immutable sandbox that blocks internals
(__class__, __globals__, ...), and every render is bounded in memory and time (`promptlab.prompts.budget`):

* operations that multiply a size ('a' * 10**9, 10**10**10, range, widths in str.format / % / the format filter,
  replace, join, ~, sum, tojson's indent) are checked *before* they build anything (`promptlab.prompts.formatting`
  for the formats), and every value built is capped at MAX_CHARS;
* every value built (call and filter results, operators, slices, literals, namespace attributes, items of lazy
  filters) is charged to the render's MAX_BUILT, loops and calls to MAX_STEPS, output to MAX_CHARS, and each charge
  checks the render's deadline (MAX_SECONDS, or less inside a caller's `render_budget`);
* sources are at most MAX_SOURCE_CHARS long and MAX_NESTING deep, and compiled ones are cached up to
  MAX_CACHED_CHARS of source text.

Parsed templates are rewritten (`_Guard`) so that loops, `~`, literals and all output go through the counters.
This module knows nothing of Template, Problem or YAML: it renders one Jinja source text with a context and lets
Jinja's errors (TemplateSyntaxError, SecurityError, UndefinedError, ...) and `LimitError` propagate; turning them
into a `RenderError` a user can act on is promptlab.prompts.render's job.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator

from jinja2 import StrictUndefined, meta, nodes, pass_context
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, _PassArg
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from promptlab.messages import Message
from promptlab.prompts.budget import (
    MAX_BUILT,
    MAX_CHARS,
    MAX_INT_BITS,
    MAX_RANGE,
    MAX_SECONDS,
    MAX_STEPS,
    BudgetSpent,
    LimitError,
    budget_spent,
    limited,
    refuse,
    render_budget,
    render_scope,
    size,
    spend,
)
from promptlab.prompts.cache import SourceCache
from promptlab.prompts.formatting import (
    BoundedEscapeFormatter,
    BoundedFormatter,
    bounded_dumps,
    check_printf,
    do_format,
    do_sum,
)

__all__ = ["GLOBALS", "MAX_BUILT", "MAX_CACHED_CHARS", "MAX_CHARS", "MAX_INT_BITS", "MAX_NESTING", "MAX_RANGE",
           "MAX_SECONDS", "MAX_SOURCE_CHARS", "MAX_STEPS", "PROVIDED", "BudgetSpent", "LimitError", "SourceLimitError",
           "budget_spent", "compile_source", "render_budget", "render_source", "undeclared_variables"]

MAX_SOURCE_CHARS = 10_000  # longest Jinja source (one template field): ~2,500 tokens of prompt, compiled in < 0.3 s
MAX_NESTING = 40  # deepest parse tree (blocks, brackets, operator and filter chains); prompts need < 15
MAX_CACHED_CHARS = 200_000  # source text kept compiled; a compiled template takes up to ~250 bytes per character


class SourceLimitError(TemplateSyntaxError):
    """A source the sandbox will not compile: too long or nested too deeply. `hint` says how to fix it."""

    def __init__(self, message: Message, hint: Message, line: int | None = None):
        super().__init__(message, line or 1)
        self.hint, self.line = hint, line


# ---------------------------------------------------------------------------------------------------------------
# Checks made before an operation builds anything

_STR_METHODS = frozenset({  # str methods a prompt may call; others (expandtabs, translate, ...) can explode
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill"})
# No use in prompts, and size or time levers (indent/wordwrap multiply sizes, pprint indents by depth).
_UNSAFE_FILTERS = ("indent", "wordwrap", "urlize", "xmlattr", "filesizeformat", "pprint")
_PICKERS = frozenset({"first", "last", "random", "default", "d", "attr", "min", "max"})  # return existing values
_PLAIN = (str, list, tuple, dict, int, float, bool, type(None))  # results that are no lazy iterator (fast check)


def _check_args(name: str, args, kwargs) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and abs(arg) > MAX_CHARS:
            refuse("limit.argument", number=arg, function=name, limit=MAX_CHARS)


def _check_growth(name: str, value, args, kwargs):
    """Refuse replace/join/sum calls whose result would pass MAX_CHARS; returns `value` (join, sum: as a list)."""
    if name == "replace" and isinstance(value, str) and len(args) >= 2 and \
            value.count(str(args[0])) * len(str(args[1])) > MAX_CHARS:
        refuse("limit.builds_text", function="replace()", limit=MAX_CHARS)
    if name == "sum":  # adding up lists builds one list as big as all of them
        value = list(value)
        if size(value) > MAX_CHARS:
            refuse("limit.builds_list", function="sum()", limit=MAX_CHARS)
    if name == "join":
        value = list(value)  # the separator is repeated once per item; items that are not text are written out
        separator = str(args[0] if args else kwargs.get("d", ""))
        if sum(size(v) for v in value) + len(value) * len(separator) > MAX_CHARS:
            refuse("limit.builds_text", function="join()", limit=MAX_CHARS)
    return value


def _check_binop(operator: str, left, right) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
        refuse("limit.power", left=left, right=right)
    if operator == "*" and ints and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
        refuse("limit.product")
    if operator == "*" and not ints:
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(n, int) and isinstance(seq, (str, list, tuple)) and len(seq) * n > MAX_CHARS:
            refuse("limit.copies", n=n, length=len(seq), limit=MAX_CHARS)
    if operator == "%" and isinstance(left, str):
        check_printf(left, right)


# ---------------------------------------------------------------------------------------------------------------
# The environment: guarded globals, filters and tests, the parse-tree rewriting, the sandbox class itself

def _safe_range(*args) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        refuse("limit.range", n=len(items), limit=MAX_RANGE)
    return items


_safe_range.__name__ = "range"  # error messages name what the user typed


class _Namespace(Namespace):
    """namespace() whose attributes are charged and size-checked like every built value (`size` looks inside
    namespaces, so one that holds itself or others twice over cannot grow unseen)."""

    def __setitem__(self, name, value):
        super().__setitem__(name, limited(value))


def _charged(items):
    """Items of a lazy filter (map, select, batch, ...) are charged as they are built."""
    for item in items:
        yield limited(item)


def _guard_filter(name: str, func):
    """Wrap a built-in filter: its size arguments (after the value) and its result are bounded and charged."""
    skip = 1 if _PassArg.from_obj(func) is None else 2  # (context/env,) value, then the filter's own arguments

    grows = name in ("replace", "sum", "join")

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        if len(args) > skip or kwargs:
            _check_args(name, args[skip:], kwargs)
        if grows and len(args) >= skip:
            args = (*args[:skip - 1], _check_growth(name, args[skip - 1], args[skip:], kwargs), *args[skip:])
        result = func(*args, **kwargs)  # the step is charged after: a filter call is bounded by its value's size
        if name in _PICKERS or (not isinstance(result, _PLAIN) and isinstance(result, Iterator)):
            spend()
            return result if name in _PICKERS else _charged(result)
        return limited(result, 1)

    return guarded


def _guard_test(func):
    """Wrap a test (`is in`, `is divisibleby`, ...): filters such as select call one per item, so each checks the
    deadline."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        spend(0)
        return func(*args, **kwargs)

    return guarded


def _counted(iterable):
    """Wrapped around every {% for %} iterable: each iteration costs a step."""
    for item in iterable:
        spend()
        yield item


@pass_context
def _emit(context, value, text: int = 0):
    """Wrapped around what a template writes: counts the characters of `value` plus `text` more (the text between
    tags beside it), also inside {% set %} blocks, macros and {% filter %} blocks, whose text is built in memory
    before it is used. (pass_context keeps Jinja from running it once at compile time instead of per render.)"""
    spend(0, text + (0 if value is None else len(value if isinstance(value, str) else str(value))))
    return value


def _concat(items) -> str:
    """The `~` operator, with its length checked before joining."""
    texts = [str(item) for item in items]
    if sum(map(len, texts)) > MAX_CHARS:
        refuse("limit.concat", limit=MAX_CHARS)
    return limited("".join(texts))


class _Guard(NodeTransformer):
    """Rewrites a parsed template: loops iterate through _counted, `a ~ b` goes through _concat, list, tuple and
    dict literals and slices through `limited` (a literal can hold a big value twice, a slice copies), and every
    piece of output through _emit."""

    def visit_Output(self, node):
        """Each expression written goes through _emit; the text between tags is charged with the first of them
        (or with the text itself when nothing else is written), so it stays a constant in the compiled code."""
        node = self.generic_visit(node)
        children = node.nodes
        text = [isinstance(child, nodes.TemplateData) for child in children]
        first = text.index(False) if False in text else 0
        rest = sum(len(child.data) for child, is_text in zip(children, text) if is_text)
        rest -= len(children[first].data) if text[first] else 0
        node.nodes = [self._filter(child, "_emit", rest if i == first else 0) if i == first or not is_text else child
                      for i, (child, is_text) in enumerate(zip(children, text))]
        return node

    def visit_For(self, node):
        node = self.generic_visit(node)
        node.iter = self._filter(node.iter, "_counted")
        return node

    def visit_Concat(self, node):
        node = self.generic_visit(node)
        return self._filter(nodes.List(node.nodes), "_concat")

    def visit_List(self, node):
        return self._filter(self.generic_visit(node), "_built")

    visit_Dict = visit_List

    def visit_Tuple(self, node):
        node = self.generic_visit(node)
        return self._filter(node, "_built") if node.ctx == "load" else node  # not `for a, b in ...` targets

    def visit_Getitem(self, node):  # Jinja compiles x[a:b] to plain Python slicing, not environment.getitem
        node = self.generic_visit(node)
        return self._filter(node, "_built") if isinstance(node.arg, nodes.Slice) else node

    @staticmethod
    def _filter(node, name: str, extra: int = 0):
        args = [nodes.Const(extra)] if extra else []
        return nodes.Filter(node, name, args, [], None, None, lineno=node.lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def is_safe_attribute(self, obj, attr, value):
        return super().is_safe_attribute(obj, attr, value) and (not isinstance(obj, str) or attr in _STR_METHODS)

    def call_binop(self, context, operator, left, right):
        _check_binop(operator, left, right)
        return limited(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):  # positional-only: a template may pass obj= or context=
        spend()
        if obj is not _safe_range:  # range() has its own, smaller limit
            _check_args(getattr(obj, "__name__", "function"), args, kwargs)
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and obj.__name__ == "join" and args:  # "sep".join(items)
            args = (_check_growth("join", args[0], (owner,), {}), *args[1:])
        elif isinstance(owner, str):  # "...".replace(old, new)
            _check_growth(obj.__name__, owner, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        return result if isinstance(owner, dict) and obj.__name__ == "get" else limited(result)

    def wrap_str_format(self, value):
        """`"...".format(...)` and `.format_map(...)` through `BoundedFormatter` (Jinja's own, plus the checks)."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or \
                value.__name__ not in ("format", "format_map") or not isinstance(value.__self__, str):
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"
        formatter = BoundedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup) \
            else BoundedFormatter(self)

        def wrapper(*args, **kwargs):
            if is_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))

        return functools.update_wrapper(wrapper, value)


_ENV = _Sandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
                finalize=lambda v: "" if v is None else v)  # a missing cell renders as "", not "None"
_ENV.filters.update(format=do_format, sum=do_sum)
_ENV.filters = {name: _guard_filter(name, f) for name, f in _ENV.filters.items() if name not in _UNSAFE_FILTERS}
_ENV.filters.update(_counted=_counted, _concat=_concat, _emit=_emit, _built=limited)
_ENV.tests = {name: _guard_test(f) for name, f in _ENV.tests.items()}
_ENV.policies["json.dumps_function"] = bounded_dumps
_ENV.globals.update(range=_safe_range, namespace=_Namespace)
del _ENV.globals["lipsum"]  # useless in prompts, and its size argument is another memory lever
GLOBALS = frozenset(_ENV.globals)  # functions a template may call: range, dict, cycler, joiner, namespace
# Names the render context supplies, not columns: the answer choices, and `mask`, a cloze template's answer slot.
PROVIDED = frozenset({"answer_choices", "mask", *GLOBALS})


# ---------------------------------------------------------------------------------------------------------------
# Parsing and the compile cache

def _parse(source: str) -> nodes.Template:
    """The parse tree of a source, refused with a SourceLimitError when the source is too long or too deeply
    nested for the parser, the code generator and Python's compiler (each recurses or has a nesting limit)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise SourceLimitError(Message("template.field_too_long", length=len(source), limit=MAX_SOURCE_CHARS),
                               Message("hint.shorten_field"))
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError:
        raise
    except RecursionError:
        raise _too_deep(None) from None
    except (ValueError, OverflowError) as e:  # e.g. a number literal of 5,000 digits
        raise TemplateSyntaxError(f"cannot read a value ({e})", 1) from None
    _check_depth(tree)
    return tree


def _too_deep(lineno: int | None) -> SourceLimitError:
    return SourceLimitError(Message("template.too_deep", limit=MAX_NESTING), Message("hint.too_deep"), lineno)


def _check_depth(tree: nodes.Node) -> None:
    """Refuse a parse tree deeper than MAX_NESTING (brackets, blocks, chains such as a + b + ... or x|f|f|...)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep(node.lineno)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _compile(source: str):
    """The guarded, compiled jinja2.Template for a source text."""
    tree = _Guard().visit(_parse(source))
    tree.set_environment(_ENV)
    try:
        return _ENV.from_string(tree)
    except RecursionError:
        raise _too_deep(None) from None
    except SyntaxError as e:  # Python's compiler has nesting limits of its own, e.g. 20 nested loops
        raise SourceLimitError(Message("template.too_deep_to_compile", detail=e.msg),
                               Message("hint.fewer_loops")) from None


compile_source = SourceCache(_compile, MAX_CACHED_CHARS)
compile_source.__doc__ = """The guarded, compiled jinja2.Template for a source text. Parses, rewrites and compiles
once per source text (rendering runs per row), so the result is cached (up to MAX_CACHED_CHARS of sources). Raises
TemplateSyntaxError on a syntax error, SourceLimitError (one) on a source too long or too deeply nested."""


def _names_read(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_parse(source)))


names_read = SourceCache(_names_read, MAX_CACHED_CHARS)
names_read.__doc__ = """Every name a source text reads from its context, the supplied ones (`PROVIDED`) included.
Cached. Raises TemplateSyntaxError on a syntax error."""


def _undeclared(source: str) -> frozenset[str]:
    return names_read(source) - PROVIDED


undeclared_variables = SourceCache(_undeclared, MAX_CACHED_CHARS)
undeclared_variables.__doc__ = """The names a source text reads from its context, less those the render supplies
itself (`PROVIDED`): the row columns it needs. Cached. Raises TemplateSyntaxError on a syntax error.

>>> sorted(undeclared_variables("{% for w in words %}{{ w }}{% endfor %} {{ answer_choices[0] }} {{ range(2) }}"))
['words']
"""


def render_source(source: str, context: dict) -> str:
    """Render a source text in the sandbox with a fresh budget (steps, characters written and built, time). Raises
    Jinja's own errors (TemplateSyntaxError, SecurityError, UndefinedError, ...), `LimitError` (`BudgetSpent` when
    an enclosing `render_budget` is spent), or whatever the template's expressions raise; callers turn these into
    messages for users (promptlab.prompts.render does).

    >>> render_source("{{ greeting|upper }}, {{ 2 ** 10 }}", {"greeting": "hi"})
    'HI, 1024'
    """
    budget = render_scope()
    try:
        return compile_source(source).render(context)
    finally:
        budget.close()
