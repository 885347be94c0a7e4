"""Rendering rows into Examples, the variables a template reads, and validation (every problem, with a fix).

Templates are typed by web users, so Jinja runs in `promptlab.prompts.sandbox` with resource limits; every failure
becomes a `RenderError` (a ValueError) or a `Problem` a user can act on (`promptlab.prompts.failures`).
"""

from __future__ import annotations

import difflib
import re

from jinja2.exceptions import TemplateSyntaxError

from promptlab.messages import Message, UserError
from promptlab.prompts.conventions import (
    form_problems,
    guard_pipes,
    split_rendered,
    target_names,
    target_problem,
    with_class_numbers,
)
from promptlab.prompts.failures import (
    BUDGET_HINT,
    MASK,
    calls,
    hidden_function,
    listed_names,
    render_field,
    safe_undeclared,
    syntax_problem,
)
from promptlab.prompts.sandbox import (
    GLOBALS,
    MAX_CHARS,
    MAX_SOURCE_CHARS,
    budget_spent,
    compile_source,
    names_read,
    render_budget,
    undeclared_variables,
)
from promptlab.prompts.values import CHOICE_SEPARATOR, Example, Problem, RenderError, Template, problem

MAX_CHECK_SECONDS = 2.0  # rendering time validate() spends on its sample rows (a row takes well under 1 ms)
MAX_UNKNOWN_REPORTED = 10  # unknown columns reported one by one per field; the rest are counted
DEFAULT_MASK_TEXT = "[MASK]"  # a cloze template's {{ mask }} without a model (see failures.MASK)

# ---------------------------------------------------------------------------------------------------------------
# Rendering

def _is_expression(choices) -> bool:
    return isinstance(choices, str)


def _choice_problems(choices, rendered: str | None = None) -> list[Problem]:
    """Empty and duplicate choices (literal, or as `rendered` for one row)."""
    where = "" if rendered is None else "_rendered"
    problems, seen = [], set()
    for i, choice in enumerate(choices, 1):
        if not choice.strip():
            problems.append(problem("answer_choices", "template.empty_choice" + where, "hint.empty_choice", i=i,
                                    rendered=rendered))
        elif choice.strip() in seen:
            problems.append(problem("answer_choices", "template.double_choice" + where, "hint.double_choice",
                                    choice=choice.strip(), rendered=rendered))
        seen.add(choice.strip())
    return problems


def _choices(t: Template, row: dict) -> tuple[str, ...]:
    if not _is_expression(t.answer_choices):
        choices = tuple(c.strip() for c in t.answer_choices)
        for found in _choice_problems(choices):  # an empty or doubled choice would be scored as if valid
            raise RenderError(found)
        return choices
    text = render_field("answer_choices", t.answer_choices, dict(row))
    if not text.strip():
        raise RenderError(problem("answer_choices", "template.choices_empty", "hint.choices_empty",
                                  separator=CHOICE_SEPARATOR))
    choices = tuple(c.strip() for c in text.split(CHOICE_SEPARATOR))
    for found in _choice_problems(choices, repr(text.strip())):
        raise RenderError(found)
    return choices


def _context(row: dict, choices, mask: str = DEFAULT_MASK_TEXT) -> dict:
    return {**row, "answer_choices": list(choices), MASK: mask}


def _split_render(t: Template, context: dict) -> tuple[str, str]:
    """(prompt, target) of a prompt in PromptSource form, rendered as one text and split (`conventions`)."""
    return split_rendered(render_field("prompt", t.prompt, guard_pipes(context)))


def is_cloze(t: Template) -> bool:
    """The template's prompt has a {{ mask }} answer slot (a cloze template, scored by masked LMs)."""
    try:
        return MASK in names_read(t.prompt)
    except TemplateSyntaxError:
        return False


def _target(t: Template, row: dict, context: dict) -> str | None:
    """The rendered, stripped target; None when the row lacks a value the target needs (unlabelled row)."""
    if not t.target:
        return ""
    if any(row.get(name) is None for name in safe_undeclared(t.target)):  # a syntax error: _render reports it
        return None
    return render_field("target", t.target, context).strip()


def _demonstration(t: Template, shot: dict) -> str:
    shot = with_class_numbers(t, shot)
    context = _context(shot, _choices(t, shot))
    prompt, target = _split_render(t, context) if t.split_at_render else (None, _target(t, shot, context))
    if prompt == "":
        raise RenderError(problem("prompt", "template.demo_renders_nothing", "hint.zero_shots"))
    if not target:
        raise RenderError(problem("target", "template.demo_no_target", "hint.demo_no_target"))
    if prompt is not None:
        return prompt + t.target_delimiter + target
    if is_cloze(t):  # the answer fills the slot
        return render_field("prompt", t.prompt, {**context, MASK: target})
    return render_field("prompt", t.prompt, context) + t.target_delimiter + target


def _assemble(t: Template, instruction: str, shots, query: str) -> str:
    parts = [instruction, *(_demonstration(t, shot) for shot in shots), query]
    prompt = t.fewshot_delimiter.join(part for part in parts if part.strip())
    if len(prompt) > MAX_CHARS:
        raise RenderError(problem("prompt", "template.prompt_too_long", "hint.fewer_demonstrations",
                                  length=len(prompt), limit=MAX_CHARS))
    return prompt


def _check_sizes(t: Template) -> None:
    """The texts joined into every prompt besides the Jinja fields (which the sandbox checks) are bounded too."""
    literal = () if _is_expression(t.answer_choices) else t.answer_choices
    if max(len(t.target_delimiter), len(t.fewshot_delimiter), sum(map(len, literal))) > MAX_SOURCE_CHARS:
        raise RenderError(next(p for p in _oversized(t) if p.field not in ("name", "description", "reference")))


def render(t: Template, row: dict, shots=(), mask: str = DEFAULT_MASK_TEXT) -> Example:
    """Render a row (with demonstration rows `shots`) into an Example. Raises ValueError (RenderError) on failure.
    `mask`: what a cloze template's {{ mask }} becomes in the query (the model's mask token).

    >>> t = Template("t", "Review: {{ sentence }}\\nSentiment:", "{{ label }}", ("negative", "positive"))
    >>> example = render(t, {"sentence": "great fun", "label": "positive"})
    >>> example.prompt, example.target, example.choices, example.gold
    ('Review: great fun\\nSentiment:', 'positive', ('negative', 'positive'), 1)
    """
    _check_sizes(t)
    row = with_class_numbers(t, row)
    choices = _choices(t, row)
    context = _context(row, choices, mask)
    if t.split_at_render:
        query, target = _split_render(t, context)
    else:
        query, target = None, _target(t, row, context)
    instruction = render_field("instruction", t.instruction, context) if t.instruction else ""
    prompt = _assemble(t, instruction, shots, render_field("prompt", t.prompt, context) if query is None else query)
    gold = choices.index(target) if target in choices else None
    return Example(prompt, target or "", choices, gold, t.target_delimiter)


def render_content_free(t: Template, shots=(), filler: str = "N/A", mask: str = DEFAULT_MASK_TEXT) -> Example:
    """The prompt with every variable it uses replaced by `filler` ("N/A"), for contextual calibration (Zhao et
    al. 2021, "Calibrate Before Use"). Demonstrations render normally. Needs answer choices that do not depend on
    the row. render_content_free(t).prompt == 'Review: N/A\\nSentiment:' for the template in render()'s example.
    """
    if _is_expression(t.answer_choices) and safe_undeclared(t.answer_choices):
        raise UserError("template.calibration_needs_fixed_choices", name=t.name)
    _check_sizes(t)
    choices = _choices(t, {})
    row = dict.fromkeys(safe_undeclared(t.prompt) | safe_undeclared(t.instruction), filler)
    if t.split_at_render:  # what only the target reads is no input: class 0 renders (the target is not used)
        row.update(dict.fromkeys(target_names(t.prompt) & row.keys(), 0))
    context = _context(row, choices, mask)
    instruction = render_field("instruction", t.instruction, context) if t.instruction else ""
    query = _split_render(t, context)[0] if t.split_at_render else render_field("prompt", t.prompt, context)
    prompt = _assemble(t, instruction, shots, query)
    return Example(prompt, "", choices, None, t.target_delimiter)


# ---------------------------------------------------------------------------------------------------------------
# Variables and validation

def _jinja_fields(t: Template) -> list[tuple[str, str]]:
    fields_ = [("instruction", t.instruction), ("prompt", t.prompt), ("target", t.target)]
    if _is_expression(t.answer_choices):
        fields_.append(("answer_choices", t.answer_choices))
    return [(name, source) for name, source in fields_ if source]


def variables(t: Template) -> set[str]:
    """The row columns the template reads (fields with syntax errors are skipped; validate() reports them).

    >>> sorted(variables(Template("t", "{{ premise }} Question: {{ hypothesis }}", "{{ label }}")))
    ['hypothesis', 'label', 'premise']
    """
    return set().union(*(safe_undeclared(source) for _, source in _jinja_fields(t)))


def validate(t: Template, columns, rows=()) -> list[Problem]:
    """Every problem of the template, each with a position (where it makes sense) and a fix hint; never raises.
    `columns`: the dataset's column names (None skips the column check); `rows`: sample rows to render.

    >>> [str(p) for p in validate(Template("t", "{{ sentense }}"), ["label", "sentence"])]
    ["prompt, line 1, column 4: Unknown column 'sentense'. Did you mean 'sentence'? Use one of: label, sentence."]
    """
    problems, broken = [], set()
    if not t.prompt.strip():
        problems.append(problem("prompt", "template.prompt_empty", "hint.prompt_empty"))
    for field, source in _jinja_fields(t):
        try:
            used = undeclared_variables(source)
            compile_source(source)  # cached for the renders; finds what only compiling finds (e.g. 21 nested loops)
        except TemplateSyntaxError as e:
            problems.append(syntax_problem(field, source, e))
            broken.add(field)
            continue
        unknown = sorted(used - set(columns)) if columns is not None else []
        problems += [_unknown_column(field, source, name, columns) for name in unknown[:MAX_UNKNOWN_REPORTED]]
        if len(unknown) > MAX_UNKNOWN_REPORTED:
            problems.append(problem(field, "template.more_unknown", "hint.use_one_of",
                                    n=len(unknown) - MAX_UNKNOWN_REPORTED, columns=listed_names(columns)))
        hidden = [hidden_function(field, name) for name in sorted(GLOBALS & set(columns or ()))
                  if calls(source, name)]
        problems += hidden
        broken.update([field] if unknown or hidden else [])
    problems += _oversized(t)
    if not _is_expression(t.answer_choices):
        literal = _choice_problems(t.answer_choices)
        problems += literal
        broken.update(["answer_choices"] if literal else [])  # reported once here, not again for every row
    if t.mode == "rank" and not t.target.strip() and not t.split_at_render:
        problems.append(problem("target", "template.no_target", "hint.no_target"))
    return problems + form_problems(t) + _mask_problems(t) + _row_problems(t, rows, broken)


def _mask_problems(t: Template) -> list[Problem]:
    """{{ mask }} is the answer slot of a cloze template's prompt: nowhere else, and only with answer choices."""
    problems = []
    for field, source in _jinja_fields(t):
        try:
            reads_mask = MASK in names_read(source)
        except TemplateSyntaxError:
            continue
        if reads_mask and field != "prompt":
            problems.append(problem(field, "template.mask_outside_prompt", "hint.mask_outside_prompt",
                                    field_name=Message(f"field.{field}")))
    if is_cloze(t) and t.mode != "rank":
        problems.append(problem("answer_choices", "template.cloze_needs_choices", "hint.cloze_needs_choices"))
    return problems


def _oversized(t: Template) -> list[Problem]:
    """Fields that are no Jinja but still part of the template, longer than a field may be (the Jinja fields are
    checked by the sandbox)."""
    texts = {"name": t.name, "target_delimiter": t.target_delimiter, "fewshot_delimiter": t.fewshot_delimiter,
             "description": t.description, "reference": t.reference}
    if not _is_expression(t.answer_choices):
        texts["answer_choices"] = "".join(t.answer_choices)
    return [problem(field, "template.field_too_long", "hint.shorten", length=len(text), limit=MAX_SOURCE_CHARS)
            for field, text in texts.items() if len(text) > MAX_SOURCE_CHARS]


def _unknown_column(field: str, source: str, name: str, columns) -> Problem:
    candidates = [c for c in map(str, columns) if len(c) <= 100]  # difflib is quadratic in the names' length
    close = difflib.get_close_matches(name, candidates, n=1) if len(name) <= 100 else []
    line, column = _locate(source, name)
    hint = Message("hint.did_you_mean_use_one_of", guess=close[0], columns=listed_names(columns)) if close else \
        Message("hint.use_one_of", columns=listed_names(columns))
    return Problem(field, Message("template.unknown_column", name=name), hint, line, column)


def _locate(source: str, name: str) -> tuple[int | None, int | None]:
    """Line and column of the first use of `name` inside a {{ }} or {% %} tag: a whole word not preceded by '.' or
    a quote. One pass over the tag marks and the words inside tags: linear in the source, where a backtracking
    search for tags took 40 s on 100,000 characters of unclosed '{{'."""
    opened = None
    for mark in _TAG_MARK.finditer(source):
        if opened is None:
            opened = mark.start() if mark[0][0] == "{" else None
        elif mark[0][1] == "}":  # the first closing mark after an opening one ends the tag
            for word in _WORD.finditer(source, opened, mark.end()):
                if word[0] == name and source[word.start() - 1] not in ".'\"":
                    offset = word.start()
                    return source.count("\n", 0, offset) + 1, offset - (source.rfind("\n", 0, offset) + 1) + 1
            opened = None
    return None, None


_TAG_MARK = re.compile(r"\{[{%]|[}%]\}")  # two fixed alternatives: no backtracking
_WORD = re.compile(r"\w+")


def _row_problems(t: Template, rows, broken: set) -> list[Problem]:
    """Render each sample row; the same problem on many rows is reported once, naming the rows. Rendering them all
    takes at most MAX_CHECK_SECONDS: past that the rest are left unchecked, and a problem says so."""
    found: dict[tuple[str, str, str], list[int]] = {}
    stopped, rows = None, list(rows)
    with render_budget(MAX_CHECK_SECONDS):
        for number, row in enumerate(rows, 1):
            problems = [] if budget_spent() else list(_check_row(t, row, broken))
            if budget_spent() or any(p.hint == BUDGET_HINT for p in problems):
                stopped = number
                break
            for p in problems:
                found.setdefault((p.field, p.message, p.hint), []).append(number)
    problems = [Problem(field, Message("template.on_rows", message=message, rows=_rows_text(numbers)), hint)
                for (field, message, hint), numbers in found.items()]
    if stopped is not None:
        problems.append(problem("prompt", "template.stopped_checking", "hint.simplify", row=stopped, n=len(rows),
                                seconds=f"{MAX_CHECK_SECONDS:g}"))
    return problems


def _rows_text(numbers: list[int]) -> Message:
    """"row 3", "rows 1, 2", "rows 1, 2, 3, 4, 5 and 3 more"."""
    shown = ", ".join(map(str, numbers[:5]))
    if len(numbers) > 5:
        return Message("rows.more", shown=shown, n=len(numbers) - 5)
    return Message("rows.some" if len(numbers) > 1 else "rows.one", shown=shown)


def _check_row(t: Template, row: dict, broken: set):
    """Each field is tried on its own, so one failure does not hide another."""
    try:
        row = with_class_numbers(t, row)
    except RenderError as e:
        yield e.problem
        return
    choices, context = (), _context(row, ())
    try:
        if "answer_choices" not in broken:
            choices = _choices(t, row)
            context = _context(row, choices)
    except RenderError as e:
        yield e.problem
    if t.split_at_render:
        yield from _check_split_row(t, choices, context, broken)
        return
    for field, source in (("instruction", t.instruction), ("prompt", t.prompt), ("target", t.target)):
        if not source or field in broken:
            continue
        try:
            text = _target(t, row, context) if field == "target" else render_field(field, source, context)
        except RenderError as e:
            yield e.problem
            continue
        if field == "target" and choices and text is not None and text not in choices:
            yield problem("target", "template.target_not_a_choice", "hint.target_not_a_choice", target=text,
                          choices=", ".join(choices))


def _check_split_row(t: Template, choices, context: dict, broken: set):
    """A row of a template in PromptSource form: its instruction, then the prompt's input and target at once."""
    try:
        if t.instruction and "instruction" not in broken:
            render_field("instruction", t.instruction, context)
    except RenderError as e:
        yield e.problem
    if "prompt" in broken:
        return
    try:
        problem = target_problem(*_split_render(t, context), choices)
    except RenderError as e:
        problem = e.problem
    if problem is not None:
        yield problem
