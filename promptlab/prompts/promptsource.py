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
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import yaml

from promptlab.prompts.files import read_text
from promptlab.prompts.values import CHOICE_SEPARATOR, Template

MAX_PROMPTSOURCE_CHARS = 1_000_000  # PromptSource's largest templates.yaml files are a few hundred KB


class _PromptSourceLoader(yaml.SafeLoader):
    """SafeLoader that reads PromptSource's two custom tags as mappings."""


def _as_mapping(loader, node):
    return loader.construct_mapping(node, deep=True)


_PromptSourceLoader.add_constructor("!Template", _as_mapping)
_PromptSourceLoader.add_constructor("!TemplateMetadata", _as_mapping)


def import_promptsource(path_or_text) -> list[Template]:
    """Templates from a PromptSource `templates.yaml` (a file path, or its text), in file order.

    Each `jinja` field is split at "|||" into our prompt and target; literal answer choices ("a ||| b") become a
    tuple, choices that contain Jinja stay an expression string. Names become kebab-case and are prefixed by the
    subset (or dataset), e.g. "sst2-positive-negative-after".

    Labels: PromptSource's datasets carry integer labels, so its targets index the choices, e.g.
    `{{ answer_choices[label] }}`. PromptLab's datasets carry label *names* ("positive"), for which that target
    fails with a clear error. The text is kept as-is: render such a template with integer labels, or edit its
    target to `{{ label }}` or a mapping such as `{{ {"negative": "bad", "positive": "good"}[label] }}`.

    >>> [t.name for t in import_promptsource(text)]  # doctest: +SKIP
    ['sst2-positive-negative-after', 'sst2-review']
    """
    text, source = _read(path_or_text)
    if len(text) > MAX_PROMPTSOURCE_CHARS:
        raise ValueError(f"{source}: {len(text):,} characters is too long for a PromptSource file; the limit is "
                         f"{MAX_PROMPTSOURCE_CHARS:,}.")
    try:
        data = yaml.load(text, Loader=_PromptSourceLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as e:
        raise ValueError(f"{source}: invalid PromptSource YAML: {e}") from None
    except RecursionError:
        raise ValueError(f"{source}: the YAML nests lists or mappings too deeply to read.") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise ValueError(f"{source}: not a PromptSource templates file (expected a 'templates:' "  # noqa: TRY004
                         "mapping of !Template entries under 'dataset:' and 'subset:').")
    task = _text(data.get("subset") or data.get("dataset"), f"{source}: subset")
    templates, names = [], set()
    for key, entry in data["templates"].items():
        if not isinstance(entry, dict) or "jinja" not in entry:
            raise ValueError(f"{source}: template {key} has no 'jinja' field.")
        template = _convert(entry, task, data, f"{source}: template {_text(entry.get('name', key), source)!r}")
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
        return read_text(path_or_text, MAX_PROMPTSOURCE_CHARS, "PromptSource file"), str(path_or_text)
    return str(path_or_text), "<PromptSource text>"


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a text too long for a path, or with a NUL character
        return False


def _text(value, where: str) -> str:
    """A scalar YAML value as text; a list or mapping where text belongs is refused (never written out)."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise ValueError(f"{where}: expected text, found a {'list' if isinstance(value, list) else 'mapping'}.")
    return str(value)


def _convert(entry: dict, task: str, data: dict, where: str) -> Template:
    parts = _text(entry["jinja"], f"{where}: jinja").split(CHOICE_SEPARATOR)
    if len(parts) > 2:
        raise ValueError(f"{where}: its jinja has more than one '|||'; expected 'input ||| target'.")
    metadata = entry.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: its metadata is not a mapping.")
    languages = metadata.get("languages") or ["en"]
    return Template(
        name=_slug(f"{task}-{_text(entry.get('name'), f'{where}: name')}"),
        prompt=parts[0].strip(),
        target=parts[1].strip() if len(parts) == 2 else "",
        answer_choices=_choices(_text(entry.get("answer_choices"), f"{where}: answer_choices")),
        task=task,
        language=_text(languages[0] if isinstance(languages, list) else languages, f"{where}: languages"),
        reference=_text(entry.get("reference"), f"{where}: reference"),
        description=_description(entry, data, metadata, where),
    )


def _choices(value) -> tuple[str, ...] | str:
    """Literal "a ||| b" -> ("a", "b"); choices that use Jinja stay an expression rendered per row."""
    if not value:
        return ()
    if "{{" in str(value) or "{%" in str(value):
        return str(value).strip()
    return tuple(choice.strip() for choice in str(value).split(CHOICE_SEPARATOR))


def _description(entry: dict, data: dict, metadata: dict, where: str) -> str:
    dataset = "/".join(_text(x, where) for x in (data.get("dataset"), data.get("subset")) if x)
    metrics = metadata.get("metrics") or []
    metrics = [_text(m, f"{where}: metrics") for m in (metrics if isinstance(metrics, list) else [metrics])]
    extras = [f"metrics: {', '.join(metrics)}"] if metrics else []
    if metadata.get("original_task"):
        extras.append("original task")
    suffix = f" ({'; '.join(extras)})" if extras else ""
    return f"PromptSource template '{_text(entry.get('name'), where)}' for {dataset}{suffix}."


def _slug(text: str) -> str:
    """"sst2-Positive negative after" -> "sst2-positive-negative-after" (kebab-case, like our file names)."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "promptsource-template"

