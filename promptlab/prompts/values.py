"""The values of hard prompts: Template (one YAML file each), Example (one rendered row), Problem (one finding of
validation) and RenderError. Plain dataclasses; this module imports nothing from PromptLab but its messages."""

from __future__ import annotations

from dataclasses import dataclass

from promptlab.messages import Message, UserError, say

CHOICE_SEPARATOR = "|||"  # between answer choices rendered by a Jinja expression, and PromptSource's input/target


@dataclass(frozen=True)
class Template:
    """A hard prompt. `answer_choices` is a tuple of literal choices, or a Jinja expression over the row that
    renders choices separated by "|||". Example: Template("sst2-review", "Review: {{ sentence }}\\nSentiment:",
    "{{ label }}", ("negative", "positive")).

    Two PromptSource conventions, so its templates work on the data they were written for:

    * `class_labels` names columns whose values the template reads as class numbers, with the label names in class
      order: {"label": ("negative", "positive")} gives the template 1 for a row labelled "positive", so
      `{{ answer_choices[label] }}` works on data whose labels are names (PromptLab's datasets). Stored as
      (column, names) pairs; a dict is accepted.
    * A prompt that contains "|||" and no target is PromptSource's whole "input ||| target" text: it is rendered
      as one text and split at "|||" afterwards (`split_at_render`), so an {% if %} may open before the "|||" and
      close after it.
    """

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
    class_labels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self):
        if isinstance(self.answer_choices, list):  # lists are unhashable and compare unequal to tuples
            object.__setattr__(self, "answer_choices", tuple(self.answer_choices))
        pairs = self.class_labels.items() if isinstance(self.class_labels, dict) else self.class_labels
        object.__setattr__(self, "class_labels", tuple((str(column), tuple(map(str, names)))
                                                       for column, names in pairs))

    @property
    def split_at_render(self) -> bool:
        """The prompt is PromptSource's whole "input ||| target" Jinja: render it, then split at "|||"."""
        return CHOICE_SEPARATOR in self.prompt and not self.target.strip()

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


# The template's fields, as a problem names them (in Chinese, by the Studio's labels).
FIELDS = ("name", "instruction", "prompt", "target", "answer_choices", "target_delimiter", "fewshot_delimiter",
          "description", "reference", "class_labels", "language", "task")


@dataclass(frozen=True)
class Problem:
    """One finding of validate(): what is wrong (message), how to fix it (hint), and where. `message` and `hint` are
    catalogue Messages (their English text as str; `say(problem, lang)` says the whole finding in a language).

    `problem(field, key, hint_key, **params)` makes one whose message and hint share the parameters."""

    field: str
    message: str
    hint: str
    line: int | None = None
    column: int | None = None

    def field_name(self) -> Message | str:
        """The field as a user calls it ("prompt", "answer choices"), in any language; an unknown field as given."""
        return Message(f"field.{self.field}") if self.field in FIELDS else self.field

    def as_message(self) -> Message:
        """"field, line 1, column 4: message hint" as one Message."""
        field = self.field_name()
        if self.line and self.column:
            where = Message("problem.at_line_column", line=self.line, column=self.column)
        elif self.line or self.column:
            where = Message("problem.at_line" if self.line else "problem.at_column", line=self.line,
                            column=self.column)
        else:
            where = ""
        if not str(self.hint):
            return Message("problem.no_hint", field=field, where=where, message=self.message)
        return Message("problem", field=field, where=where, message=self.message, hint=self.hint)

    def __str__(self) -> str:
        return str(self.as_message()).strip()

    def say(self, lang: str | None) -> str:
        return say(self.as_message(), lang).strip()


def problem(field: str, key: str, hint_key: str, *, at_line: int | None = None, at_column: int | None = None,
            **params) -> Problem:
    """A Problem whose message is catalogue text `key` and whose hint is `hint_key`, both filled from `params`, at
    line `at_line`, column `at_column` of the field."""
    return Problem(field, Message(key, **params), Message(hint_key, **params), at_line, at_column)


class RenderError(UserError):
    """A template failed to render; `.problem` holds the structured finding (str: the problem in English)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.as_message())
        self.problem = problem
