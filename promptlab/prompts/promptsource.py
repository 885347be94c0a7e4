"""Import PromptSource (bigscience/promptsource) `templates.yaml` files as PromptLab templates.

A PromptSource file looks like this::

    dataset: glue
    subset: sst2
    templates:
      5aa0cea9-...: !Template
        answer_choices: negative ||| positive
        id: 5aa0cea9-...
        jinja: "{{sentence}}\\nWas that sentence positive or negative? ||| {{ answer_choices[label] }}"
        metadata: !TemplateMetadata
          choices_in_prompt: true
          languages: [en]
          metrics: [Accuracy]
          original_task: true
        name: positive negative after
        reference: ''

The custom `!Template` / `!TemplateMetadata` tags are read as plain mappings by a SafeLoader subclass: the file is
data and never constructs Python objects. Files are read up to MAX_PROMPTSOURCE_CHARS; values that should be text
must be text (a YAML alias can make a list that is small in memory but enormous written out).

Imported templates work on the data they were written for (`promptlab.prompts.conventions`): a template that reads
a label column gets that column's class names in class order (`class_labels`: from the caller, else from
KNOWN_CLASS_LABELS for the file's dataset), and a `jinja` that cannot be cut at "|||" into two templates (an
{% if %} that opens before it and closes after it) is kept whole, rendered and then split, as PromptSource does.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import yaml
from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from promptlab.messages import Message, UserError
from promptlab.prompts.files import read_text
from promptlab.prompts.render import variables
from promptlab.prompts.sandbox import compile_source, undeclared_variables
from promptlab.prompts.values import CHOICE_SEPARATOR, Template

_PARSER = Environment()  # parses only (to find the names a template sets); templates render in the sandbox

MAX_PROMPTSOURCE_CHARS = 1_000_000  # PromptSource's largest templates.yaml files are a few hundred KB

# The class names, in class order, of the Hugging Face datasets PromptSource's templates were written for (their
# ClassLabel features as PromptSource used them: its integers index these). Checked against PromptSource's own files
# and rendering in tests/test_promptsource.py; for any other dataset, give them to `import_promptsource`.
KNOWN_CLASS_LABELS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("glue", "sst2"): {"label": ("negative", "positive")},
    ("ag_news", ""): {"label": ("World", "Sports", "Business", "Sci/Tech")},
    ("super_glue", "rte"): {"label": ("entailment", "not_entailment")},
    ("emotion", ""): {"label": ("sadness", "joy", "love", "anger", "fear", "surprise")},
    ("trec", ""): {
        "label_coarse": ("DESC", "ENTY", "ABBR", "HUM", "NUM", "LOC"),
        "label_fine": ("manner", "cremat", "animal", "exp", "ind", "gr", "title", "def", "date", "reason", "event",
                       "state", "desc", "count", "other", "letter", "religion", "food", "country", "color", "termeq",
                       "city", "body", "dismed", "mount", "money", "product", "period", "substance", "sport",
                       "plant", "techmeth", "volsize", "instru", "abb", "speed", "word", "lang", "perc", "code",
                       "dist", "temp", "symbol", "ord", "veh", "weight", "currency"),
    },
}


class _PromptSourceLoader(yaml.SafeLoader):
    """SafeLoader that reads PromptSource's two custom tags as mappings."""


def _as_mapping(loader, node):
    return loader.construct_mapping(node, deep=True)


_PromptSourceLoader.add_constructor("!Template", _as_mapping)
_PromptSourceLoader.add_constructor("!TemplateMetadata", _as_mapping)


def is_promptsource(text: str) -> bool:
    """Does this YAML text look like a PromptSource templates.yaml (a top-level 'templates:' mapping)?"""
    return re.search(r"^templates\s*:", text, re.MULTILINE) is not None


def import_promptsource(path_or_text, class_labels: dict | None = None, source: str | None = None) -> list[Template]:
    """Templates from a PromptSource `templates.yaml` (a file path, or its text), in file order.

    Each `jinja` field is split at "|||" into our prompt and target where both halves are templates by themselves;
    otherwise (an {% if %} across the "|||") it stays whole in the prompt, which is then rendered and split. Literal
    answer choices ("a ||| b") become a tuple, choices that contain Jinja stay an expression string. Names become
    kebab-case and are prefixed by the subset (or dataset), e.g. "sst2-positive-negative-after".

    Labels: PromptSource's datasets carry integer labels, so its targets index the choices, e.g.
    `{{ answer_choices[label] }}`; PromptLab's datasets carry label *names* ("positive"). `class_labels` maps a
    column to its names in class order ({"label": ["negative", "positive"]}; default: KNOWN_CLASS_LABELS for the
    file's dataset); each template that reads such a column gets them, and reads a name as its class number.
    `source` names the file in messages when the text is given.

    >>> text = '''dataset: glue
    ... subset: sst2
    ... templates:
    ...   1: !Template
    ...     name: review
    ...     jinja: "Review: {{sentence}} ||| {{ answer_choices[label] }}"
    ...     answer_choices: negative ||| positive
    ... '''
    >>> [(t.name, t.prompt, t.answer_choices) for t in import_promptsource(text)]
    [('sst2-review', 'Review: {{sentence}}', ('negative', 'positive'))]
    """
    text, read_from = _read(path_or_text)
    source = source or read_from
    if len(text) > MAX_PROMPTSOURCE_CHARS:
        raise UserError("promptsource.too_long", source=source, length=len(text), limit=MAX_PROMPTSOURCE_CHARS)
    try:
        data = yaml.load(text, Loader=_PromptSourceLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as e:
        raise UserError("promptsource.invalid_yaml", source=source, detail=e) from None
    except RecursionError:
        raise UserError("promptsource.too_deep", source=source) from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise UserError("promptsource.not_templates", source=source)  # noqa: TRY004
    task = _text(data.get("subset") or data.get("dataset"), _at(source, "subset"))
    dataset = (_text(data.get("dataset"), _at(source, "dataset")), _text(data.get("subset"), _at(source, "subset")))
    classes = {**KNOWN_CLASS_LABELS.get(dataset, {}), **_class_labels(class_labels)}
    templates, names = [], set()
    for key, entry in data["templates"].items():
        if not isinstance(entry, dict) or "jinja" not in entry:
            raise UserError("promptsource.no_jinja", source=source, key=key)
        where = Message("where.ps_template", source=source, name=repr(_text(entry.get("name", key), source)))
        template = _convert(entry, task, data, where)
        read = variables(template)
        template = replace(template, class_labels=tuple((c, n) for c, n in classes.items() if c in read))
        if template.name in names:  # PromptSource names are unique per dataset, but slugs may collide
            template = replace(template, name=f"{template.name}-{_slug(_text(key, source))[:8]}")
        names.add(template.name)
        templates.append(template)
    return templates


def _read(path_or_text) -> tuple[str, str]:
    """(text, name for messages): a Path, or one line naming a file or ending in .yaml, is read from disk;
    anything else is the YAML itself."""
    one_line = "\n" not in str(path_or_text)
    if isinstance(path_or_text, Path) or (one_line and (_is_file(str(path_or_text)) or
                                                        str(path_or_text).endswith((".yaml", ".yml")))):
        return read_text(path_or_text, MAX_PROMPTSOURCE_CHARS, "promptsource_file"), str(path_or_text)
    return str(path_or_text), "<PromptSource text>"


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a text too long for a path, or with a NUL character
        return False


def _at(where, key: str) -> Message:
    """"<where>: <key>", a place in the file for messages."""
    return Message("where.key", where=where, key=key)


def _text(value, where) -> str:
    """A scalar YAML value as text; a list or mapping where text belongs is refused (never written out)."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise UserError("promptsource.not_text", where=where,
                        found=Message("noun.a_list" if isinstance(value, list) else "noun.a_mapping"))
    return str(value)


def _class_labels(given: dict | None) -> dict[str, tuple[str, ...]]:
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(isinstance(names, (list, tuple)) for names in given.values()):
        raise UserError("promptsource.class_labels")  # noqa: TRY004
    return {str(column): tuple(map(str, names)) for column, names in given.items()}


def _convert(entry: dict, task: str, data: dict, where: Message) -> Template:
    jinja = _text(entry["jinja"], _at(where, "jinja"))
    parts = jinja.split(CHOICE_SEPARATOR)
    if len(parts) > 2:
        raise UserError("promptsource.pipes", where=where)
    if len(parts) == 2 and not _splits_cleanly(*parts):
        parts = [jinja]  # kept whole: rendered, then split at "|||" (Template.split_at_render)
    metadata = entry.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UserError("promptsource.metadata", where=where)
    languages = metadata.get("languages") or ["en"]
    return Template(
        name=_slug(f"{task}-{_text(entry.get('name'), _at(where, 'name'))}"),
        prompt=parts[0].strip(),
        target=parts[1].strip() if len(parts) == 2 else "",
        answer_choices=_choices(_text(entry.get("answer_choices"), _at(where, "answer_choices"))),
        task=task,
        language=_text(languages[0] if isinstance(languages, list) else languages, _at(where, "languages")),
        reference=_text(entry.get("reference"), _at(where, "reference")),
        description=_description(entry, data, metadata, where),
    )


def _splits_cleanly(head: str, tail: str) -> bool:
    """Can "head ||| tail" be cut into a prompt and a target template that render what the whole does? Each half
    must be a template by itself, and the target must not read a name the prompt sets ({% set %}, {% for %})."""
    try:
        compile_source(head)  # the sandbox's checks (size, nesting) first
        compile_source(tail)
    except TemplateSyntaxError:
        return False
    set_in_head = {node.name for node in _PARSER.parse(head).find_all(nodes.Name) if node.ctx != "load"}
    return not set_in_head & undeclared_variables(tail)


def _choices(value) -> tuple[str, ...] | str:
    """Literal "a ||| b" -> ("a", "b"); choices that use Jinja stay an expression rendered per row."""
    if not value:
        return ()
    if "{{" in str(value) or "{%" in str(value):
        return str(value).strip()
    return tuple(choice.strip() for choice in str(value).split(CHOICE_SEPARATOR))


def _description(entry: dict, data: dict, metadata: dict, where: Message) -> str:
    dataset = "/".join(_text(x, where) for x in (data.get("dataset"), data.get("subset")) if x)
    metrics = metadata.get("metrics") or []
    metrics = [_text(m, _at(where, "metrics")) for m in (metrics if isinstance(metrics, list) else [metrics])]
    extras = [f"metrics: {', '.join(metrics)}"] if metrics else []
    if metadata.get("original_task"):
        extras.append("original task")
    suffix = f" ({'; '.join(extras)})" if extras else ""
    return f"PromptSource template '{_text(entry.get('name'), where)}' for {dataset}{suffix}."


def _slug(text: str) -> str:
    """"sst2-Positive negative after" -> "sst2-positive-negative-after" (kebab-case, like our file names)."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "promptsource-template"

