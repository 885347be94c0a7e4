"""Template files: one template per YAML file. Parse, dump, load, save, list and find them, checking every YAML
value against the Template field it fills, so a mistyped file fails with a ValueError naming the line and the fix.

Files may come from strangers (a shared library folder, run specs): a file is read up to MAX_FILE_CHARS, each field
up to the sandbox's MAX_SOURCE_CHARS, deep nesting and YAML aliases never blow up a message, and one broken file
in the library is skipped and reported (`read_library`), never stopping the others from loading.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import reprlib
import stat
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from promptlab import settings
from promptlab.prompts.sandbox import MAX_SOURCE_CHARS
from promptlab.prompts.values import Template

MAX_FILE_CHARS = 100_000  # a template file; its fields at their longest fit several times over
MAX_NAME_CHARS = 100  # a library template's name, which becomes its file name ("<name>.yaml")
_FILE_NAME = re.compile(r"\w[\w.-]*")
_SHOW = reprlib.Repr()  # values quoted in messages: short, and never the expansion of nested or aliased YAML
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxdict = 2, 4, 4

_DUMP_ORDER = ("name", "description", "task", "language", "reference", "instruction", "prompt", "target",
               "answer_choices", "class_labels", "target_delimiter", "fewshot_delimiter", "chat")


@functools.cache
def _defaults() -> dict[str, object]:
    """Every Template field with its default, in declaration order: the keys a file may have."""
    return {f.name: f.default for f in fields(Template)}


def parse_template(text: str, source: str = "<text>") -> Template:
    """Read a template from YAML text. `source` names the file in error messages.

    >>> parse_template("name: t\\nprompt: 'Review: {{ sentence }}'").prompt
    'Review: {{ sentence }}'
    """
    if len(text) > MAX_FILE_CHARS:
        raise ValueError(f"{source}: the file is {len(text):,} characters long; a template file may have at most "
                         f"{MAX_FILE_CHARS:,}. Shorten its fields.")
    node, data = _load_yaml(text, source)
    if not isinstance(data, dict):  # TRY004: engine errors are ValueErrors (docs/design.md), not TypeErrors
        raise ValueError(f"{source}: a template file must be a YAML mapping with keys such as name: and prompt:, "  # noqa: TRY004
                         f"not {'an empty file' if data is None else type(data).__name__}.")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    defaults = _defaults()
    unknown = [str(k) for k in data if k not in defaults]
    if unknown:
        close = difflib.get_close_matches(unknown[0][:100], defaults, n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"{source}, line {lines.get(unknown[0], '?')}: unknown key {_SHOW.repr(unknown[0])}.{guess} "
                         f"Allowed keys: {', '.join(defaults)}.")
    for key in ("name", "prompt"):
        if key not in data:
            raise ValueError(f"{source}: missing required key '{key}:'.")
    return Template(**{k: _field_value(k, v, f"{source}, line {lines.get(k, '?')}, field '{k}'")
                           for k, v in data.items()})


def _load_yaml(text: str, source: str):
    """(node, data): the YAML's node tree (for line numbers) and its value, read in one pass."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{source}{where}: invalid YAML: {getattr(e, 'problem', None) or e}. Fix: check the "
                         "indentation, and quote values that start with '{' or contain ': ' (or use a | block).") \
            from None
    except RecursionError:
        raise ValueError(f"{source}: the YAML nests lists or mappings too deeply to read. A template file needs "
                         "only key: value lines (and a list of answer choices).") from None
    finally:
        loader.dispose()


def _field_value(key: str, value, where: str):
    """Check one YAML value against the field's type; return it in the type Template stores."""
    if key == "chat":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false, not {_SHOW.repr(value)}.")
        return value
    if value is None:
        return _defaults()[key]
    if key == "class_labels":
        return _class_labels_value(value, where)
    if key == "answer_choices" and isinstance(value, list):
        choices = tuple(_choice_value(i, item, where) for i, item in enumerate(value, 1))
        _check_length(sum(map(len, choices)), where)
        return choices
    if isinstance(value, dict):
        raise ValueError(f"{where}: must be text, but YAML read a mapping. Fix: quote a value that starts with "  # noqa: TRY004
                         f"'{{', e.g. {key}: \"{{{{ label }}}}\".")
    if not isinstance(value, str):
        what = "a list of choices or text" if key == "answer_choices" else "text"
        shown = _SHOW.repr(value)
        raise ValueError(f"{where}: must be {what}, not {shown}. Fix: quote it, e.g. {key}: \"{shown}\".")  # noqa: TRY004
    if key == "name" and not value.strip():
        raise ValueError(f"{where}: the name is empty.")
    _check_length(len(value), where)
    return value


def _check_length(length: int, where: str) -> None:
    if length > MAX_SOURCE_CHARS:
        raise ValueError(f"{where}: {length:,} characters is too long; a template field may have at most "
                         f"{MAX_SOURCE_CHARS:,}.")


def _choice_value(index: int, item, where: str, what: str = "choice") -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    raise ValueError(f"{where}: {what} {index} is {_SHOW.repr(item)}, not text (YAML reads yes/no/on/off/true/false as "
                     f"booleans). Fix: quote it, e.g. [\"yes\", \"no\"].")


def _class_labels_value(value, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """class_labels: a mapping of column -> its label names in class order, e.g. {label: [negative, positive]}."""
    example = "e.g. class_labels: {label: [negative, positive]}"
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must map each column to its label names in class order, {example}, not "  # noqa: TRY004
                         f"{_SHOW.repr(value)}.")
    pairs = []
    for column, names in value.items():
        if not isinstance(column, str) or not isinstance(names, list):
            raise ValueError(f"{where}: {_SHOW.repr(column)} must be a column name with a list of label names, "  # noqa: TRY004
                             f"{example}.")
        pairs.append((column, tuple(_choice_value(i, name, f"{where}, column '{column}'", "label name")
                                    for i, name in enumerate(names, 1))))
    _check_length(sum(len(column) + sum(map(len, names)) for column, names in pairs), where)
    return tuple(pairs)


def load_template(path) -> Template:
    """Read a template YAML file (UTF-8). load_template("templates/sst2-review-sentiment.yaml")"""
    return parse_template(read_text(path, MAX_FILE_CHARS, "template file"), str(path))


def read_text(path, max_chars: int, what: str) -> str:
    """A UTF-8 text file's content, refused with a ValueError when it is no regular file (a FIFO or a device would
    block or never end) or longer than `max_chars` (only so much is read)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens without waiting for a writer
        with os.fdopen(fd, "rb") as file:
            regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
            data = file.read(4 * max_chars + 1) if regular else b""  # UTF-8: at most 4 bytes a character
    except (OSError, ValueError) as e:  # ValueError: a NUL character in the path
        raise ValueError(f"Cannot read {what} {path}: {getattr(e, 'strerror', None) or e}.") from None
    if not regular:
        raise ValueError(f"Cannot read {what} {path}: it is not a regular file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"Cannot read {what} {path}: it is not UTF-8 text (byte {e.start}). Save it as UTF-8.") \
            from None
    if len(text) > max_chars:
        raise ValueError(f"{path}: the file is over {max_chars:,} characters long; a {what} may have at most "
                         f"{max_chars:,}.")
    return text


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
    if t.class_labels:
        data["class_labels"] = dict(t.class_labels)
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=float("inf"))


def save_template(t: Template, path) -> None:
    """Write the template to a YAML file (UTF-8)."""
    Path(path).write_text(dump_template(t), encoding="utf-8")


@dataclass(frozen=True)
class Library:
    """The template library as read: the templates of its good files, sorted by name, and the files skipped,
    as (path, why) pairs."""

    templates: tuple[Template, ...]
    skipped: tuple[tuple[Path, str], ...] = ()
    paths: tuple[Path, ...] = ()  # the file of each template, in the same order


def read_library(directory=None) -> Library:
    """Every template file (*.yaml, *.yml) in `directory` (default: the shipped library). A file that cannot be
    read is skipped and listed in `skipped` with its error, so one broken file never hides the others."""
    directory = Path(directory) if directory is not None else settings.templates_dir()
    paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    found, skipped = [], []
    for path in paths:
        try:
            found.append((load_template(path), path))
        except ValueError as e:
            skipped.append((path, str(e)))
    found.sort(key=lambda pair: pair[0].name)
    return Library(tuple(t for t, _ in found), tuple(skipped), tuple(p for _, p in found))


def list_templates(directory=None) -> list[Template]:
    """All readable templates in `directory` (default: the shipped library), sorted by name; broken files are
    left out (`read_library` says which and why)."""
    return list(read_library(directory).templates)


def library_file_name(name: str) -> str:
    """The file name a template named `name` is saved under in the library: "<name>.yaml". Raises ValueError
    saying the rule when the name cannot be a file name (a path, other characters, too long for a file system).

    >>> library_file_name("sst2-review")
    'sst2-review.yaml'
    """
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"The template name {_SHOW.repr(name)} cannot be a file name: use letters, digits, '-', "
                         "'_' and '.' (not '..'), starting with a letter or digit.")
    if len(name) > MAX_NAME_CHARS or len(name.encode()) > 250:  # file systems allow 255 bytes, ".yaml" included
        raise ValueError(f"The template name is {len(name):,} characters long; a library template's name (its file "
                         f"name) may have at most {MAX_NAME_CHARS}, fewer in scripts that take several bytes a "
                         "character. Shorten it.")
    return f"{name}.yaml"


def find_template(name_or_path) -> Template:
    """A template from a file path, or by name: a shipped one (find_template("sst2-review-sentiment")), else one
    you saved or imported (the local library, `settings.user_templates_dir()`). A library template is found whatever
    other files there are broken."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or _is_file(path):
        return load_template(path)
    name, folders = str(name_or_path), (settings.templates_dir(), settings.user_templates_dir())
    for directory in folders:
        named = directory / _library_file(name) if _library_file(name) else None
        if named is not None and _is_file(named):  # the library's convention: a template's file is named after it
            template = load_template(named)
            if template.name == name:
                return template
    libraries = [read_library(directory) for directory in folders]
    for library in libraries:
        for template in library.templates:
            if template.name == name:
                return template
    names = [t.name for library in libraries for t in library.templates]
    close = difflib.get_close_matches(name[:100], names, n=3, cutoff=0.5)
    guess = f" Did you mean: {', '.join(close)}?" if close else ""
    skipped = [p for library in libraries for p, _ in library.skipped]
    broken = f" ({len(skipped)} files there could not be read: {', '.join(p.name for p in skipped[:3])}; " \
             "`promptlab templates list` says why.)" if skipped else ""
    raise ValueError(f"Unknown template {_SHOW.repr(name)}.{guess} Give a shipped template's name, one you saved, or "
                     f"a .yaml file path; shipped templates are in {folders[0]}, yours in {folders[1]}.{broken}")


def _library_file(name: str) -> str | None:
    try:
        return library_file_name(name)
    except ValueError:
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL character
        return False
