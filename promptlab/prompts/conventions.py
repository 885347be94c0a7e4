"""PromptSource's two conventions, which PromptLab honours so that its templates work on the data they were written
for (`Template.class_labels` and `Template.split_at_render`):

* Class numbers. PromptSource's datasets carry integer labels, so its templates index the answer choices:
  `{{ answer_choices[label] }}`. PromptLab's datasets carry label names. A template's `class_labels` lists a
  column's names in class order, and the row is given to the template with each name turned into its number.
* One text, split after rendering. PromptSource renders its whole "input ||| target" Jinja and splits the result at
  "|||", so an {% if %} may open before the "|||" and close after it (TREC's fine-grained templates do). A prompt
  that holds "|||" (and no target) is rendered the same way.

`promptlab.prompts.render` calls these helpers; they render nothing themselves.
"""

from __future__ import annotations

import functools
import re

from jinja2 import Environment
from jinja2.exceptions import TemplateSyntaxError

from promptlab.prompts.values import CHOICE_SEPARATOR, Problem, RenderError, Template, problem

MAX_NAMES_SHOWN = 30  # class labels listed in a message (TREC's fine labels are 47)
_INTEGER = re.compile(r"\s*-?[0-9]+\s*")  # a class number read from text ("1", "-1": unlabelled on the Hub)
_LEXER = Environment()  # only splits text into tokens (templates render in the sandbox)
_PIPES = "\x00pipes\x00"  # stands for a "|||" inside a row's value while the rendered prompt is split at "|||"


@functools.lru_cache(maxsize=256)
def _numbers(class_labels: tuple) -> tuple[tuple[str, dict[str, int], tuple[str, ...]], ...]:
    return tuple((column, {name: i for i, name in enumerate(names)}, names) for column, names in class_labels)


def with_class_numbers(t: Template, row: dict) -> dict:
    """The row as the template reads it: in each `class_labels` column, a label name becomes its class number (its
    index among the names). Numbers stay numbers, also written as text ("1"); a missing value stays missing.
    Raises RenderError naming the column and the names when a value is neither.

    >>> t = Template("t", "{{ answer_choices[label] }}", class_labels={"label": ("negative", "positive")})
    >>> with_class_numbers(t, {"label": "positive"}), with_class_numbers(t, {"label": "0"})
    ({'label': 1}, {'label': 0})
    """
    if not t.class_labels:
        return row
    row = dict(row)
    for column, numbers, names in _numbers(t.class_labels):
        value = row.get(column)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            continue
        text = str(value)
        if text in numbers:
            row[column] = numbers[text]
        elif _INTEGER.fullmatch(text):
            row[column] = int(text)
        else:
            raise RenderError(_not_a_class_label(column, text, names))
    return row


def _not_a_class_label(column: str, value: str, names: tuple[str, ...]) -> Problem:
    shown = value if len(value) <= 60 else value[:60] + "…"
    listed = ", ".join(names[:MAX_NAMES_SHOWN]) + (" …" if len(names) > MAX_NAMES_SHOWN else "")
    return problem("class_labels", "template.not_a_class_label", "hint.class_order", column=column,
                   value=repr(shown), names=listed)


def guard_pipes(context: dict) -> dict:
    """The render context with any "|||" inside a text value hidden, so only the template's own "|||" splits."""
    return {k: v.replace(CHOICE_SEPARATOR, _PIPES) if isinstance(v, str) else v for k, v in context.items()}


def split_rendered(text: str) -> tuple[str, str]:
    """(prompt, target) of a prompt rendered in PromptSource form (with `guard_pipes`): split at "|||", each part
    stripped, as PromptSource does. No "|||" rendered (e.g. an {% if %} that left this row out): no target."""
    parts = text.split(CHOICE_SEPARATOR)
    if len(parts) > 2:
        raise RenderError(problem("prompt", "template.pipes_rendered", "hint.one_pipe", n=len(parts) - 1))
    prompt, target = (part.replace(_PIPES, CHOICE_SEPARATOR).strip() for part in (*parts, "")[:2])
    return prompt, target


def target_names(prompt: str) -> frozenset[str]:
    """The names a prompt in PromptSource form reads after its "|||" and not before (e.g. `label`): lexed, since
    neither part need be a template by itself. Content-free calibration gives them a value that renders."""
    head, _, tail = prompt.partition(CHOICE_SEPARATOR)
    return frozenset(_names(tail) - _names(head))


def _names(source: str) -> set[str]:
    try:
        return {value for _, kind, value in _LEXER.lex(source) if kind == "name"}
    except TemplateSyntaxError:
        return set()


def target_problem(prompt: str, target: str, choices) -> Problem | None:
    """A rendered row of a template in PromptSource form whose target is not among its choices. A row rendered
    empty is one the template does not apply to (PromptSource leaves such rows out), and an empty target an
    unlabelled row: neither is a problem."""
    if choices and prompt and target and target not in choices:
        return problem("prompt", "template.split_target_not_a_choice", "hint.split_target", target=target,
                       choices=", ".join(choices))
    return None


def form_problems(t: Template) -> list[Problem]:
    """Problems of the two conventions as written: a "|||" prompt with a target too, or with several "|||"; class
    labels with an empty or a repeated name."""
    problems = []
    separators = t.prompt.count(CHOICE_SEPARATOR)
    if separators and t.target.strip():
        problems.append(problem("prompt", "template.pipes_and_target", "hint.pipes_and_target"))
    elif separators > 1:
        problems.append(problem("prompt", "template.pipes_many", "hint.one_pipe", n=separators))
    for column, names in t.class_labels:
        if not names or any(not name.strip() for name in names):
            problems.append(problem("class_labels", "template.class_label_empty", "hint.every_label", column=column))
        elif len(set(names)) < len(names):
            double = next(name for name in names if names.count(name) > 1)
            problems.append(problem("class_labels", "template.class_label_double", "hint.label_once", label=double,
                                    column=column))
    return problems
