"""One Jinja field rendered in the sandbox, and every way it can fail said as a `Problem` a user can act on: syntax
(with the column Jinja does not give), a refused expression, a spent budget, a cell too long, an unknown column, a
column that hides a Jinja function. `render` and `validate` share these.
"""

from __future__ import annotations

import re

from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from promptlab.messages import Message
from promptlab.prompts.budget import size
from promptlab.prompts.sandbox import (
    GLOBALS,
    MAX_CHARS,
    BudgetSpent,
    LimitError,
    SourceLimitError,
    render_source,
    undeclared_variables,
)
from promptlab.prompts.values import Problem, RenderError, problem

MAX_MESSAGE_CHARS = 300  # of an error text quoted in a message (it may quote a long value)
MAX_NAMES_LISTED = 30  # column names listed in a hint
# A cloze template (for masked LMs, e.g. BERT) marks the answer slot with {{ mask }}: it renders as the model's own
# mask token (`mask=` of render), as render.DEFAULT_MASK_TEXT without a model, and as the answer in demonstrations.
MASK = "mask"
BUDGET_HINT = Message("hint.budget")


def render_field(field: str, source: str, context: dict) -> str:
    """Render one Jinja field; every failure becomes a RenderError naming the field, what went wrong and a fix."""
    try:
        return render_source(source, context)
    except TemplateSyntaxError as e:
        raise RenderError(syntax_problem(field, source, e)) from None
    except SecurityError as e:
        raise RenderError(problem(field, "template.not_allowed", "hint.not_allowed", detail=short(e))) from None
    except BudgetSpent as e:
        raise RenderError(Problem(field, e.message, BUDGET_HINT)) from None
    except LimitError as e:
        raise RenderError(_long_cell(field, source, context) or
                          Problem(field, e.message, Message("hint.smaller"))) from None
    except UndefinedError as e:
        raise RenderError(_undefined_problem(field, e, context)) from None
    except RecursionError:
        raise RenderError(problem(field, "template.recursion", "hint.recursion")) from None
    except Exception as e:  # noqa: BLE001 (user code may raise anything; report it, never a traceback)
        raise RenderError(_shadowed_global(field, source, context, e) or
                          problem(field, "template.render_failed", "hint.render_failed", error=type(e).__name__,
                                  detail=short(e))) from None


def short(error) -> str:
    """An error's text, cut to MAX_MESSAGE_CHARS: it may quote a value of 100,000 characters."""
    text = str(error)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def _long_cell(field: str, source: str, context: dict) -> Problem | None:
    """When a limit stopped the render and a cell the field reads is by itself over MAX_CHARS, the data is what is
    too long, not the template: say which column and how long it is."""
    sizes = {name: size(context[name]) for name in safe_undeclared(source) if name in context}
    name = max(sizes, key=sizes.get, default=None)
    if name is None or sizes[name] <= MAX_CHARS:
        return None
    value = context[name]
    length = Message("template.chars_long", n=len(value)) if isinstance(value, str) else \
        Message("template.items_over", limit=MAX_CHARS)
    return problem(field, "template.long_cell", "hint.long_cell", name=name, length=length, limit=MAX_CHARS,
                   cut=f"{{{{ {name}|truncate(2000) }}}}")


def _shadowed_global(field: str, source: str, context: dict, error: Exception) -> Problem | None:
    """A column named like a Jinja function (range, dict, cycler, joiner, namespace) hides that function from
    the template, so calling it fails with "'str' object is not callable": say so."""
    if not isinstance(error, TypeError) or "not callable" not in str(error):
        return None
    called = [name for name in sorted(GLOBALS & context.keys()) if calls(source, name)]
    return hidden_function(field, called[0]) if called else None


def hidden_function(field: str, name: str) -> Problem:
    return problem(field, "template.hidden_function", "hint.hidden_function", name=name)


def calls(source: str, name: str) -> bool:
    """Whether the source calls `name(...)` (one linear pass: a word, optional spaces, a parenthesis)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", source) is not None


def _undefined_problem(field: str, error: UndefinedError, context: dict) -> Problem:
    columns = listed_names(k for k in context if k not in ("answer_choices", MASK))
    name = re.fullmatch(r"'(\w+)' is undefined", str(error))
    if name:
        return problem(field, "template.no_such_column", "hint.columns", name=name[1], columns=columns,
                       field_name=Message(f"field.{field}"))
    # e.g. PromptSource's answer_choices[label] with a label name
    hint = "hint.list_index" if "'list object'" in str(error) else "hint.mapping_key"
    return problem(field, "template.undefined", hint, detail=short(error))


def syntax_problem(field: str, source: str, error: TemplateSyntaxError) -> Problem:
    if isinstance(error, SourceLimitError):  # too long or nested too deeply: no syntax to fix
        return Problem(field, error.message or "", error.hint, error.line)
    line = error.lineno or 1
    return problem(field, "template.syntax", "hint.syntax", at_line=line,
                   at_column=_error_column(source, line, error.message or ""),
                   detail=short((error.message or "").rstrip(".")))


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


def safe_undeclared(source: str) -> frozenset[str]:
    try:
        return undeclared_variables(source)
    except TemplateSyntaxError:
        return frozenset()


def listed_names(columns) -> str:
    """Column names for a hint: sorted, at most MAX_NAMES_LISTED of them (a file may have thousands)."""
    names = sorted(map(str, columns))
    listed = ", ".join(names[:MAX_NAMES_LISTED])
    return Message("list.and_more", listed=listed, n=len(names) - MAX_NAMES_LISTED) \
        if len(names) > MAX_NAMES_LISTED else listed
