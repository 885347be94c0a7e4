"""Prompt templates: the Template / Example / Problem values, YAML files, sandboxed rendering, validation.

A template is data (one YAML file each). Web users type templates, so Jinja runs in an immutable sandbox with
resource limits (see "Sandbox" below), and every failure becomes a ValueError or a `Problem` a user can act on.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml
from jinja2 import StrictUndefined, meta, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from promptlab import settings

CHOICE_SEPARATOR = "|||"
MAX_CHARS = 100_000  # longest rendered text, string or list a template may build
MAX_RANGE = 1_000  # longest range() a template may ask for
MAX_STEPS = 20_000  # loop iterations + calls one field render may spend
MAX_INT_BITS = 256  # biggest integer (about 77 digits) that * and ** may produce; prompts need far less


@dataclass(frozen=True)
class Template:
    """A hard prompt. `answer_choices` is a tuple of literal choices, or a Jinja expression over the row that
    renders choices separated by "|||". Example: Template("sst2-review", "Review: {{ sentence }}\\nSentiment:",
    "{{ label }}", ("negative", "positive"))."""

    name: str
    prompt: str
    target: str = ""
    answer_choices: tuple[str, ...] | str = ()
    instruction: str = ""
    task: str = ""
    language: str = "en"
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    chat: bool = False
    reference: str = ""
    description: str = ""

    def __post_init__(self):
        if isinstance(self.answer_choices, list):  # lists are unhashable and compare unequal to tuples
            object.__setattr__(self, "answer_choices", tuple(self.answer_choices))

    @property
    def mode(self) -> str:
        """"rank" (score each answer choice) when there are answer choices, else "generate"."""
        return "rank" if self.answer_choices else "generate"


@dataclass(frozen=True)
class Example:
    """One rendered row: what scoring and tuning consume."""

    prompt: str
    target: str
    choices: tuple[str, ...] = ()
    gold: int | None = None
    delimiter: str = " "


@dataclass(frozen=True)
class Problem:
    """One finding of validate(): what is wrong (message), how to fix it (hint), and where."""

    field: str
    message: str
    hint: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = "".join(f", {k} {v}" for k, v in (("line", self.line), ("column", self.column)) if v)
        return f"{self.field}{where}: {self.message} {self.hint}".strip()


class RenderError(ValueError):
    """A template failed to render; `.problem` holds the structured finding."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class _LimitError(ValueError):
    """A template asked for more than the sandbox allows."""


# ---------------------------------------------------------------------------------------------------------------
# YAML files

_DEFAULTS = {f.name: f.default for f in fields(Template)}
_DUMP_ORDER = ("name", "description", "task", "language", "reference", "instruction", "prompt", "target",
               "answer_choices", "target_delimiter", "fewshot_delimiter", "chat")


def parse_template(text: str, source: str = "<text>") -> Template:
    """Read a template from YAML text. `source` names the file in error messages.

    >>> parse_template("name: t\\nprompt: 'Review: {{ sentence }}'").prompt
    'Review: {{ sentence }}'
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{source}{where}: invalid YAML: {getattr(e, 'problem', None) or e}. Fix: check the "
                         "indentation, and quote values that start with '{' or contain ': ' (or use a | block).") \
            from None
    if not isinstance(data, dict):  # TRY004: engine errors are ValueErrors (docs/design.md), not TypeErrors
        raise ValueError(f"{source}: a template file must be a YAML mapping with keys such as name: and prompt:, "  # noqa: TRY004
                         f"not {'an empty file' if data is None else type(data).__name__}.")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    unknown = [str(k) for k in data if k not in _DEFAULTS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], _DEFAULTS, n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"{source}, line {lines.get(unknown[0], '?')}: unknown key '{unknown[0]}'.{guess} "
                         f"Allowed keys: {', '.join(_DEFAULTS)}.")
    for key in ("name", "prompt"):
        if key not in data:
            raise ValueError(f"{source}: missing required key '{key}:'.")
    return Template(**{k: _field_value(k, v, f"{source}, line {lines.get(k, '?')}, field '{k}'")
                       for k, v in data.items()})


def _field_value(key: str, value, where: str):
    """Check one YAML value against the field's type; return it in the type Template stores."""
    if key == "chat":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false, not {value!r}.")
        return value
    if value is None:
        return _DEFAULTS[key]
    if key == "answer_choices" and isinstance(value, list):
        return tuple(_choice_value(i, item, where) for i, item in enumerate(value, 1))
    if isinstance(value, dict):
        raise ValueError(f"{where}: must be text, but YAML read a mapping. Fix: quote a value that starts with "  # noqa: TRY004
                         f"'{{', e.g. {key}: \"{{{{ label }}}}\".")
    if not isinstance(value, str):
        what = "a list of choices or text" if key == "answer_choices" else "text"
        raise ValueError(f"{where}: must be {what}, not {value!r}. Fix: quote it, e.g. {key}: \"{value}\".")  # noqa: TRY004
    if key == "name" and not value.strip():
        raise ValueError(f"{where}: the name is empty.")
    return value


def _choice_value(index: int, item, where: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    raise ValueError(f"{where}: choice {index} is {item!r}, not text (YAML reads yes/no/on/off/true/false as "
                     f"booleans). Fix: quote it, e.g. [\"yes\", \"no\"].")


def load_template(path) -> Template:
    """Read a template YAML file (UTF-8). load_template("templates/sst2-review-sentiment.yaml")"""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"Cannot read template file {path}: {e.strerror or e}.") from None
    return parse_template(text, str(path))


class _Dumper(yaml.SafeDumper):
    """Multi-line text as | blocks, choices as one [a, b] line, so files stay readable."""


def _represent_str(dumper, value: str):
    if "\n" in value and value.strip() and not value.startswith("\n"):
        style = "|"
    else:  # delimiters such as "\n\n" read best as escapes
        style = '"' if value and (not value.strip() or "\n" in value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(tuple, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def dump_template(t: Template) -> str:
    """The template as YAML, leaving out fields at their defaults; parse_template(dump_template(t)) == t."""
    data = {k: getattr(t, k) for k in _DUMP_ORDER if k in ("name", "prompt") or getattr(t, k) != _DEFAULTS[k]}
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=float("inf"))


def save_template(t: Template, path) -> None:
    """Write the template to a YAML file (UTF-8)."""
    Path(path).write_text(dump_template(t), encoding="utf-8")


def list_templates(directory=None) -> list[Template]:
    """All templates (*.yaml) in `directory` (default: the shipped library), sorted by name."""
    directory = Path(directory) if directory is not None else settings.templates_dir()
    paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    return sorted((load_template(p) for p in paths), key=lambda t: t.name)


def find_template(name_or_path) -> Template:
    """A template from a file path, or by name from the shipped library: find_template("sst2-review-sentiment")."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_template(path)
    library = {t.name: t for t in list_templates()}
    if str(name_or_path) in library:
        return library[str(name_or_path)]
    close = difflib.get_close_matches(str(name_or_path), library, n=3, cutoff=0.5)
    guess = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown template '{name_or_path}'.{guess} Give a shipped template's name or a .yaml "
                     f"file path; shipped templates are in {settings.templates_dir()}.")


# ---------------------------------------------------------------------------------------------------------------
# Sandbox: strangers type these templates. The immutable sandbox blocks internals (__class__, __globals__, ...).
# The limits below stop a template from exhausting memory or CPU: every operation that can multiply a size
# ('a' * 10**9, 10**10**10, range, format widths, replace, join, ~) is checked *before* it builds anything, every
# built value is capped at MAX_CHARS, and loops and calls spend a step budget (nested loops, recursive macros).

_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("promptlab_template_budget")
_FORMAT_WIDTH = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*\.?\d{6,}|\{[^{}]*:[^{}]*\d{6,}")  # widths of 6+ digits
_STR_METHODS = frozenset({  # str methods a prompt may call; others (expandtabs, translate, ...) can explode
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill"})
_UNSAFE_FILTERS = ("indent", "wordwrap", "urlize", "xmlattr", "filesizeformat")  # no use in prompts; size levers


def _refuse(message: str):
    raise _LimitError(f"{message} Templates are limited so that one prompt cannot exhaust the server.")


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
PROVIDED = frozenset({"answer_choices", *_ENV.globals})  # names the render context supplies, not columns


@functools.lru_cache(maxsize=1024)
def _compile(source: str):
    """Parse, guard and compile once per source text (rendering runs per row)."""
    tree = _Guard().visit(_ENV.parse(source))
    tree.set_environment(_ENV)
    return _ENV.from_string(tree)


@functools.lru_cache(maxsize=1024)
def _undeclared(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)) - PROVIDED)


def _run(source: str, context: dict) -> str:
    """Render with a fresh budget of steps and characters."""
    _budget.set([MAX_STEPS, MAX_CHARS])
    return _compile(source).render(context)


# ---------------------------------------------------------------------------------------------------------------
# Rendering

def _render(field: str, source: str, context: dict) -> str:
    """Render one Jinja field; every failure becomes a RenderError naming the field, what went wrong and a fix."""
    try:
        return _run(source, context)
    except TemplateSyntaxError as e:
        raise RenderError(_syntax_problem(field, source, e)) from None
    except SecurityError as e:
        raise RenderError(Problem(field, f"That expression is not allowed in templates ({e}).",
                                  "Use the row's columns, filters such as upper, and plain expressions.")) from None
    except _LimitError as e:
        raise RenderError(Problem(field, str(e), "Make the template smaller.")) from None
    except UndefinedError as e:
        raise RenderError(_undefined_problem(field, e, context)) from None
    except RecursionError:
        raise RenderError(Problem(field, "A macro or recursive loop calls itself too deeply.",
                                  "Give the recursion a condition that ends it.")) from None
    except Exception as e:  # noqa: BLE001 (user code may raise anything; report it, never a traceback)
        raise RenderError(Problem(field, f"Rendering failed: {type(e).__name__}: {e}.",
                                  "Check the expressions in this field against the row's values.")) from None


def _undefined_problem(field: str, error: UndefinedError, context: dict) -> Problem:
    columns = ", ".join(sorted(k for k in context if k != "answer_choices"))
    name = re.fullmatch(r"'(\w+)' is undefined", str(error))
    if name:
        return Problem(field, f"{field} uses {{{{ {name[1]} }}}}, but the row has no column '{name[1]}'.",
                       f"Columns: {columns}.")
    if "'list object'" in str(error):  # e.g. PromptSource's answer_choices[label] with a label name
        hint = "A list is indexed by position: answer_choices[label] needs an integer label (PromptSource " \
               "style); with label names use {{ label }} or a mapping."
    else:
        hint = 'A mapping such as {"positive": "great"}[label] needs a key for every value in the data.'
    return Problem(field, f"{error}.", hint)


def _syntax_problem(field: str, source: str, error: TemplateSyntaxError) -> Problem:
    line = error.lineno or 1
    return Problem(field, f"Jinja syntax error: {(error.message or '').rstrip('.')}.",
                   "Check that every {{ has a matching }}, every {% has %}, and every if/for has its end tag.",
                   line, _error_column(source, line, error.message or ""))


def _error_column(source: str, line: int, message: str) -> int:
    """Jinja reports only the line: point at the character offset it names ("unexpected char ... at 3"), else at
    the first token it quotes that appears in a tag on the line, else at the last tag opened on the line."""
    offset = re.search(r" at (\d+)$", message)
    if offset and int(offset[1]) <= len(source):
        return int(offset[1]) - (source.rfind("\n", 0, int(offset[1])) + 1) + 1
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    start = min((i for i in (text.find("{{"), text.find("{%")) if i >= 0), default=0)
    for token in re.findall(r"'([^']+)'", message):
        if text.find(token, start) >= 0:
            return text.find(token, start) + 1
    return max(text.rfind("{{"), text.rfind("{%"), 0) + 1


def _is_expression(choices) -> bool:
    return isinstance(choices, str)


def _choice_problems(choices, where: str = "") -> list[Problem]:
    """Empty and duplicate choices (literal, or as rendered for one row)."""
    problems, seen = [], set()
    for i, choice in enumerate(choices, 1):
        if not choice.strip():
            problems.append(Problem("answer_choices", f"Choice {i} is empty{where}.", "Give it a word or remove it."))
        elif choice.strip() in seen:
            problems.append(Problem("answer_choices", f"Choice '{choice.strip()}' appears more than once{where}.",
                                    "Make every choice different, or the model cannot tell them apart."))
        seen.add(choice.strip())
    return problems


def _choices(t: Template, row: dict) -> tuple[str, ...]:
    if not _is_expression(t.answer_choices):
        return tuple(c.strip() for c in t.answer_choices)
    text = _render("answer_choices", t.answer_choices, dict(row))
    if not text.strip():
        raise RenderError(Problem("answer_choices", "The answer-choice expression rendered nothing.",
                                  f"It must render choices separated by {CHOICE_SEPARATOR}, e.g. no ||| yes."))
    choices = tuple(c.strip() for c in text.split(CHOICE_SEPARATOR))
    for problem in _choice_problems(choices, f" in the rendered choices {text.strip()!r}"):
        raise RenderError(problem)
    return choices


def _context(row: dict, choices) -> dict:
    return {**row, "answer_choices": list(choices)}


def _target(t: Template, row: dict, context: dict) -> str | None:
    """The rendered, stripped target; None when the row lacks a value the target needs (unlabelled row)."""
    if not t.target:
        return ""
    if any(row.get(name) is None for name in _safe_undeclared(t.target)):  # a syntax error: _render reports it
        return None
    return _render("target", t.target, context).strip()


def _demonstration(t: Template, shot: dict) -> str:
    context = _context(shot, _choices(t, shot))
    target = _target(t, shot, context)
    if not target:
        raise RenderError(Problem("target", "A demonstration has no target (its label is missing or the template "
                                  "has no target).", "Use labelled rows as demonstrations, or use zero shots."))
    return _render("prompt", t.prompt, context) + t.target_delimiter + target


def _assemble(t: Template, instruction: str, shots, query: str) -> str:
    parts = [instruction, *(_demonstration(t, shot) for shot in shots), query]
    prompt = t.fewshot_delimiter.join(part for part in parts if part.strip())
    if len(prompt) > MAX_CHARS:
        raise RenderError(Problem("prompt", f"The rendered prompt is {len(prompt):,} characters long; the limit "
                                  f"is {MAX_CHARS:,}.", "Use fewer or shorter demonstrations."))
    return prompt


def render(t: Template, row: dict, shots=()) -> Example:
    """Render a row (with demonstration rows `shots`) into an Example. Raises ValueError (RenderError) on failure.

    >>> t = Template("t", "Review: {{ sentence }}\\nSentiment:", "{{ label }}", ("negative", "positive"))
    >>> example = render(t, {"sentence": "great fun", "label": "positive"})
    >>> example.prompt, example.target, example.choices, example.gold
    ('Review: great fun\\nSentiment:', 'positive', ('negative', 'positive'), 1)
    """
    choices = _choices(t, row)
    context = _context(row, choices)
    target = _target(t, row, context)
    instruction = _render("instruction", t.instruction, context) if t.instruction else ""
    prompt = _assemble(t, instruction, shots, _render("prompt", t.prompt, context))
    gold = choices.index(target) if target in choices else None
    return Example(prompt, target or "", choices, gold, t.target_delimiter)


def render_content_free(t: Template, shots=(), filler: str = "N/A") -> Example:
    """The prompt with every variable it uses replaced by `filler` ("N/A"), for contextual calibration (Zhao et
    al. 2021, "Calibrate Before Use"). Demonstrations render normally. Needs answer choices that do not depend on
    the row. render_content_free(t).prompt == 'Review: N/A\\nSentiment:' for the template in render()'s example.
    """
    if _is_expression(t.answer_choices) and _safe_undeclared(t.answer_choices):
        raise ValueError(f"{t.name}: content-free calibration needs fixed answer choices, but answer_choices "
                         "depends on the row. Hint: list the choices, e.g. [negative, positive].")
    choices = _choices(t, {})
    row = {name: filler for name in _safe_undeclared(t.prompt) | _safe_undeclared(t.instruction)}
    context = _context(row, choices)
    instruction = _render("instruction", t.instruction, context) if t.instruction else ""
    prompt = _assemble(t, instruction, shots, _render("prompt", t.prompt, context))
    return Example(prompt, "", choices, None, t.target_delimiter)


# ---------------------------------------------------------------------------------------------------------------
# Variables and validation

def _jinja_fields(t: Template) -> list[tuple[str, str]]:
    fields_ = [("instruction", t.instruction), ("prompt", t.prompt), ("target", t.target)]
    if _is_expression(t.answer_choices):
        fields_.append(("answer_choices", t.answer_choices))
    return [(name, source) for name, source in fields_ if source]


def _safe_undeclared(source: str) -> frozenset[str]:
    try:
        return _undeclared(source)
    except TemplateSyntaxError:
        return frozenset()


def variables(t: Template) -> set[str]:
    """The row columns the template reads (fields with syntax errors are skipped; validate() reports them).

    >>> sorted(variables(Template("t", "{{ premise }} Question: {{ hypothesis }}", "{{ label }}")))
    ['hypothesis', 'label', 'premise']
    """
    return set().union(*(_safe_undeclared(source) for _, source in _jinja_fields(t)))


def validate(t: Template, columns, rows=()) -> list[Problem]:
    """Every problem of the template, each with a position (where it makes sense) and a fix hint; never raises.
    `columns`: the dataset's column names (None skips the column check); `rows`: sample rows to render.

    >>> [str(p) for p in validate(Template("t", "{{ sentense }}"), ["label", "sentence"])]
    ["prompt, line 1, column 4: Unknown column 'sentense'. Did you mean 'sentence'? Use one of: label, sentence."]
    """
    problems, broken = [], set()
    if not t.prompt.strip():
        problems.append(Problem("prompt", "The prompt is empty.", "Write the text the model reads, with "
                                "placeholders for columns such as {{ text }}."))
    for field, source in _jinja_fields(t):
        try:
            used = _undeclared(source)
        except TemplateSyntaxError as e:
            problems.append(_syntax_problem(field, source, e))
            broken.add(field)
            continue
        unknown = sorted(used - set(columns)) if columns is not None else []
        problems += [_unknown_column(field, source, name, columns) for name in unknown]
        broken.update([field] if unknown else [])
    if not _is_expression(t.answer_choices):
        problems += _choice_problems(t.answer_choices)
    if t.mode == "rank" and not t.target.strip():
        problems.append(Problem("target", "The template has answer choices but no target, so the gold choice is "
                                "unknown.", "Set the target to the gold choice, e.g. {{ label }}."))
    return problems + _row_problems(t, rows, broken)


def _unknown_column(field: str, source: str, name: str, columns) -> Problem:
    close = difflib.get_close_matches(name, columns, n=1)
    guess = f"Did you mean '{close[0]}'? " if close else ""
    line, column = _locate(source, name)
    return Problem(field, f"Unknown column '{name}'.", f"{guess}Use one of: {', '.join(sorted(columns))}.",
                   line, column)


def _locate(source: str, name: str) -> tuple[int | None, int | None]:
    """Line and column of the first use of `name` inside a {{ }} or {% %} tag."""
    for tag in re.finditer(r"\{[{%].*?[}%]\}", source, re.DOTALL):
        use = re.search(rf"(?<![\w.'\"]){re.escape(name)}\b", tag.group())
        if use:
            offset = tag.start() + use.start()
            return source.count("\n", 0, offset) + 1, offset - (source.rfind("\n", 0, offset) + 1) + 1
    return None, None


def _row_problems(t: Template, rows, broken: set) -> list[Problem]:
    """Render each sample row; the same problem on many rows is reported once, naming the rows."""
    found: dict[tuple[str, str, str], list[int]] = {}
    for number, row in enumerate(rows, 1):
        for p in _check_row(t, row, broken):
            found.setdefault((p.field, p.message, p.hint), []).append(number)
    return [Problem(field, f"{message} ({_rows_text(numbers)})", hint)
            for (field, message, hint), numbers in found.items()]


def _rows_text(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5]))
    more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _check_row(t: Template, row: dict, broken: set):
    """Each field is tried on its own, so one failure does not hide another."""
    choices, context = (), _context(row, ())
    try:
        if "answer_choices" not in broken:
            choices = _choices(t, row)
            context = _context(row, choices)
    except RenderError as e:
        yield e.problem
    for field, source in (("instruction", t.instruction), ("prompt", t.prompt), ("target", t.target)):
        if not source or field in broken:
            continue
        try:
            text = _target(t, row, context) if field == "target" else _render(field, source, context)
        except RenderError as e:
            yield e.problem
            continue
        if field == "target" and choices and text is not None and text not in choices:
            yield Problem("target", f"The target '{text}' is not one of the answer choices: {', '.join(choices)}.",
                          "Make the target render one of the choices, e.g. map label names with "
                          '{{ {"negative": "bad", "positive": "good"}[label] }}.')
