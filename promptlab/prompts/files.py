"""Template files: one template per YAML file. Parse, dump, load, save, list and find them, checking every YAML
value against the Template field it fills, so a mistyped file fails with a ValueError naming the line and the fix.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import fields
from pathlib import Path

import yaml

from promptlab import settings
from promptlab.prompts.values import Template

_DUMP_ORDER = ("name", "description", "task", "language", "reference", "instruction", "prompt", "target",
               "answer_choices", "target_delimiter", "fewshot_delimiter", "chat")


@functools.cache
def _defaults() -> dict[str, object]:
    """Every Template field with its default, in declaration order: the keys a file may have."""
    return {f.name: f.default for f in fields(Template)}


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
    defaults = _defaults()
    unknown = [str(k) for k in data if k not in defaults]
    if unknown:
        close = difflib.get_close_matches(unknown[0], defaults, n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"{source}, line {lines.get(unknown[0], '?')}: unknown key '{unknown[0]}'.{guess} "
                         f"Allowed keys: {', '.join(defaults)}.")
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
        return _defaults()[key]
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
    defaults = _defaults()
    data = {k: getattr(t, k) for k in _DUMP_ORDER if k in ("name", "prompt") or getattr(t, k) != defaults[k]}
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
