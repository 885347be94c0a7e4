"""The template library a person sees: the shipped templates, read-only, and their own saved and imported ones.

Shipped templates live in `settings.templates_dir()` and are never written here. Your own live in
`settings.user_templates_dir()`: locally (owner None) that folder itself; on a public app (an owner token, see
`ui.state.owner_of`) a folder of the visitor's own inside it, named by the SHA-256 of their token, so one visitor
can neither see nor overwrite another's templates. Files are written whole (a temporary file, then a rename), so a
reader never sees half a template, and two saves of a new name cannot both win.

    save(template)                 # refused for a shipped name; Exists when one of yours has the name
    save(template, overwrite=True) # after the person said yes
    rename("mine", "better"); delete("better")
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from promptlab import settings
from promptlab.messages import UserError
from promptlab.prompts.files import Library, dump_template, library_file_name, parse_template, read_library, read_text
from promptlab.prompts.promptsource import MAX_PROMPTSOURCE_CHARS, import_promptsource, is_promptsource
from promptlab.prompts.values import Template

MAX_OWN_TEMPLATES = 200  # per person: a public app's disk and page loads are shared (a file: <= 100,000 chars)


class Exists(UserError):
    """Templates of yours already have these names: ask before overwriting them (`names`)."""

    def __init__(self, names: list[str]):
        super().__init__("library.exists_one" if len(names) == 1 else "library.exists_many", names=", ".join(names))
        self.names = names


@dataclass(frozen=True)
class Entry:
    """A template as the library lists it: shipped (read-only) or yours, and its file."""

    template: Template
    shipped: bool
    path: Path | None = None


@dataclass(frozen=True)
class View:
    """What one person sees: every template by name (shipped first, then theirs, each sorted by name), and the files
    that could not be read, as (path, why) pairs."""

    entries: dict[str, Entry]
    skipped: tuple[tuple[Path, str], ...] = ()

    @property
    def templates(self) -> dict[str, Template]:
        return {name: entry.template for name, entry in self.entries.items()}


def own_dir(owner: str | None = None) -> Path:
    """The folder of `owner`'s templates (None: the local library, `settings.user_templates_dir()` itself)."""
    root = settings.user_templates_dir()
    if owner is None:
        return root
    return root / "visitors" / hashlib.sha256(owner.encode("utf-8")).hexdigest()


def read(owner: str | None = None) -> View:
    """The shipped templates and `owner`'s, by name. One of yours named like a shipped template is hidden by it and
    reported in `skipped` (rename it)."""
    shipped, own = read_library(settings.templates_dir()), _own_library(owner)
    entries = {t.name: Entry(t, True) for t in shipped.templates}
    skipped = list(shipped.skipped) + list(own.skipped)
    for template, path in zip(own.templates, own.paths):
        if template.name in entries:
            other = "the shipped template" if entries[template.name].shipped else "another file of yours,"
            skipped.append((path, f"it is named like {other} '{template.name}'; rename it."))
        else:
            entries[template.name] = Entry(template, False, path)
    return View(entries, tuple(skipped))


def templates(owner: str | None = None) -> dict[str, Template]:
    """Every template `owner` can use, by name (shipped and their own)."""
    return read(owner).templates


def is_shipped(name: str) -> bool:
    return any(t.name == name for t in read_library(settings.templates_dir()).templates)


def templates_in(text: str, source: str, class_labels: dict | None = None) -> list[Template]:
    """The templates a YAML file holds, to import: all of a PromptSource templates.yaml (`class_labels`: see
    `import_promptsource`), or the one template of a PromptLab template file. `source` names the file in messages."""
    if is_promptsource(text):
        return import_promptsource(text, class_labels, source=source)
    return [parse_template(text, source)]


def read_import(path, class_labels: dict | None = None) -> list[Template]:
    """`templates_in` a file (read up to the size of a PromptSource file)."""
    return templates_in(read_text(path, MAX_PROMPTSOURCE_CHARS, "template_file"), str(path), class_labels)


def save(template: Template, owner: str | None = None, *, overwrite: bool = False) -> Path:
    """Write `template` into `owner`'s library under its name; the path. Raises ValueError for a shipped name or a
    name that cannot be a file name, and `Exists` when one of yours has the name and `overwrite` is False."""
    return save_all([template], owner, overwrite=overwrite)[0]


def save_all(templates_: list[Template], owner: str | None = None, *, overwrite: bool = False) -> list[Path]:
    """Write several templates (an import) after checking them all: nothing is written when one is refused."""
    names = [t.name for t in templates_]
    file_names = [library_file_name(name) for name in names]  # the file-name rule, said, before anything is written
    if len(set(names)) < len(names):
        raise UserError("library.two_named", name=next(n for n in names if names.count(n) > 1))
    _refuse_shipped(names)
    own = _own_by_name(owner)
    existing = [name for name in names if name in own]
    if existing and not overwrite:
        raise Exists(existing)
    new = len(names) - len(existing)
    if new and len(own) + new > MAX_OWN_TEMPLATES:
        raise UserError("library.full", n=len(own), limit=MAX_OWN_TEMPLATES)
    folder = own_dir(owner)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for template, file_name in zip(templates_, file_names):
        old = own.get(template.name)
        path = folder / file_name
        _write(path, dump_template(template), replace=overwrite)
        if old is not None and old != path:  # the old file had another name: the template now lives in one file
            old.unlink(missing_ok=True)
        paths.append(path)
    return paths


def rename(name: str, new_name: str, owner: str | None = None) -> Path:
    """Rename one of your templates (its file and its name field); the new path."""
    new_name = new_name.strip()
    file_name = library_file_name(new_name)
    _refuse_shipped([name], "renamed")
    path = _own_path(name, owner)
    if new_name == name:
        return path
    _refuse_shipped([new_name])
    if new_name in _own_by_name(owner):
        raise UserError("library.name_taken", name=new_name)
    own = _own_library(owner)
    template = own.templates[own.paths.index(path)]
    new_path = own_dir(owner) / file_name
    _write(new_path, dump_template(dataclasses.replace(template, name=new_name)), replace=False)
    path.unlink(missing_ok=True)
    return new_path


def delete(name: str, owner: str | None = None) -> None:
    """Delete one of your templates."""
    _refuse_shipped([name], "deleted")
    _own_path(name, owner).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------

def _own_library(owner: str | None):
    """`owner`'s library as read (templates with their files in `paths`); empty before the first save."""
    return read_library(own_dir(owner)) if own_dir(owner).is_dir() else Library(())


def _own_by_name(owner: str | None) -> dict[str, Path]:
    """Your templates' files by name (of two files with one name, the first, as `read` lists it)."""
    own = _own_library(owner)
    return {template.name: path for template, path in reversed(list(zip(own.templates, own.paths)))}


def _own_path(name: str, owner: str | None) -> Path:
    own = _own_by_name(owner)
    if name not in own:
        raise UserError("library.not_yours", name=repr(name), n=len(own))
    return own[name]


def _refuse_shipped(names: list[str], action: str = "overwritten") -> None:
    shipped = sorted({t.name for t in read_library(settings.templates_dir()).templates} & set(names))
    if shipped:
        many = "_many" if len(shipped) > 1 else ""
        raise UserError(f"library.shipped_{action}{many}", names=", ".join(shipped))


def _write(path: Path, text: str, *, replace: bool) -> None:
    """Write the file whole: a temporary file beside it, then a rename (replace) or a link (create: fails when a
    file of that name appeared meanwhile, so two saves of a new name cannot both win)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".saving-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise Exists([path.stem]) from None
            except OSError:  # a file system without hard links: check, then rename
                if path.exists():
                    raise Exists([path.stem]) from None
                os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
