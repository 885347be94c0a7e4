"""The values of hard prompts: Template (one YAML file each), Example (one rendered row), Problem (one finding of
validation) and RenderError. Plain dataclasses; this module imports nothing from PromptLab."""

from __future__ import annotations

from dataclasses import dataclass

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
