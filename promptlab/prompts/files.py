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
from promptlab.messages import Message, UserError, message_of
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
        raise UserError("file.too_long", source=source, length=len(text), limit=MAX_FILE_CHARS)
    node, data = _load_yaml(text, source)
    if not isinstance(data, dict):  # TRY004: engine errors are ValueErrors (docs/design.md), not TypeErrors
        raise UserError("file.not_a_mapping", source=source,  # noqa: TRY004
                        found=Message("file.empty") if data is None else type(data).__name__)
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    defaults = _defaults()
    unknown = [str(k) for k in data if k not in defaults]
    if unknown:
        close = difflib.get_close_matches(unknown[0][:100], defaults, n=1)
        guess = Message("file.did_you_mean", name=close[0]) if close else ""
        raise UserError("file.unknown_key", source=source, line=lines.get(unknown[0], "?"),
                        key=_SHOW.repr(unknown[0]), guess=guess, keys=", ".join(defaults))
    for key in ("name", "prompt"):
        if key not in data:
            raise UserError("file.missing_key", source=source, key=key)
    return Template(**{k: _field_value(k, v, Message("where.line_field", source=source, line=lines.get(k, "?"),
                                                     field=k))
                       for k, v in data.items()})


def _load_yaml(text: str, source: str):
    """(node, data): the YAML's node tree (for line numbers) and its value, read in one pass."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = Message("problem.at_line_column", line=mark.line + 1, column=mark.column + 1) if mark else ""
        raise UserError("file.invalid_yaml", source=source, where=where,
                        detail=getattr(e, "problem", None) or e) from None
    except RecursionError:
        raise UserError("file.too_deep", source=source) from None
    finally:
        loader.dispose()


def _field_value(key: str, value, where: Message):
    """Check one YAML value against the field's type; return it in the type Template stores."""
    if key == "chat":
        if not isinstance(value, bool):
            raise UserError("file.not_a_bool", where=where, value=_SHOW.repr(value))
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
        raise UserError("file.mapping_not_text", where=where, key=key)  # noqa: TRY004
    if not isinstance(value, str):
        what = Message("noun.choices_or_text" if key == "answer_choices" else "noun.text")
        raise UserError("file.not_text", where=where, what=what, value=_SHOW.repr(value), key=key)  # noqa: TRY004
    if key == "name" and not value.strip():
        raise UserError("file.empty_name", where=where)
    _check_length(len(value), where)
    return value


def _check_length(length: int, where: Message) -> None:
    if length > MAX_SOURCE_CHARS:
        raise UserError("file.field_too_long", where=where, length=length, limit=MAX_SOURCE_CHARS)


def _choice_value(index: int, item, where: Message, what: str = "choice") -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    raise UserError("file.choice_not_text", where=where, what=Message(f"noun.{what}"), index=index,
                    value=_SHOW.repr(item))


def _class_labels_value(value, where: Message) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """class_labels: a mapping of column -> its label names in class order, e.g. {label: [negative, positive]}."""
    if not isinstance(value, dict):
        raise UserError("file.class_labels_not_a_mapping", where=where, value=_SHOW.repr(value))  # noqa: TRY004
    pairs = []
    for column, names in value.items():
        if not isinstance(column, str) or not isinstance(names, list):
            raise UserError("file.class_labels_entry", where=where, column=_SHOW.repr(column))  # noqa: TRY004
        pairs.append((column, tuple(_choice_value(i, name, Message("where.column", where=where, column=column),
                                                  "label_name")
                                    for i, name in enumerate(names, 1))))
    _check_length(sum(len(column) + sum(map(len, names)) for column, names in pairs), where)
    return tuple(pairs)


def load_template(path) -> Template:
    """Read a template YAML file (UTF-8). load_template("templates/sst2-review-sentiment.yaml")"""
    return parse_template(read_text(path, MAX_FILE_CHARS, "template_file"), str(path))


def read_text(path, max_chars: int, what: str) -> str:
    """A UTF-8 text file's content, refused with a ValueError when it is no regular file (a FIFO or a device would
    block or never end) or longer than `max_chars` (only so much is read). `what` names the file in messages: a
    noun of the catalogue ("template_file", "promptsource_file")."""
    what = Message(f"noun.{what}")
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens without waiting for a writer
        with os.fdopen(fd, "rb") as file:
            regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
            data = file.read(4 * max_chars + 1) if regular else b""  # UTF-8: at most 4 bytes a character
    except (OSError, ValueError) as e:  # ValueError: a NUL character in the path
        raise UserError("file.cannot_read", what=what, path=path, detail=getattr(e, "strerror", None) or e) from None
    if not regular:
        raise UserError("file.not_regular", what=what, path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError("file.not_utf8", what=what, path=path, byte=e.start) from None
    if len(text) > max_chars:
        raise UserError("file.over_chars", what=what, path=path, limit=max_chars)
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
            skipped.append((path, message_of(e)))
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
        raise UserError("file.bad_name", name=_SHOW.repr(name))
    if len(name) > MAX_NAME_CHARS or len(name.encode()) > 250:  # file systems allow 255 bytes, ".yaml" included
        raise UserError("file.long_name", length=len(name), limit=MAX_NAME_CHARS)
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
    guess = Message("file.did_you_mean_one_of", names=", ".join(close)) if close else ""
    skipped = [p for library in libraries for p, _ in library.skipped]
    broken = Message("file.unreadable_there", n=len(skipped), names=", ".join(p.name for p in skipped[:3])) \
        if skipped else ""
    raise UserError("file.unknown_template", name=_SHOW.repr(name), guess=guess, shipped=folders[0], yours=folders[1],
                    broken=broken)


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
