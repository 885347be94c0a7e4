"""The Studio's template library: the list (shipped templates, read-only, and the visitor's own), loading, saving
(refused for a shipped name, asked first over one of yours), renaming, deleting, and importing a YAML file (a
PromptLab template into the editor; a PromptSource templates.yaml: one into the editor, or all into your library).

Handlers only: `promptlab.ui.tabs.studio` lays the components out and wires them. Each visitor sees their own
templates (`state.owner_of`: theirs alone on a public app); the list is read again for every page, after every
change and on a language switch, so a template saved anywhere shows up without a restart.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from promptlab.prompts import library
from promptlab.prompts.files import dump_template, parse_template, read_text
from promptlab.prompts.promptsource import MAX_PROMPTSOURCE_CHARS, is_promptsource
from promptlab.prompts.values import Template
from promptlab.ui import state
from promptlab.ui.editor import FIELD_NAMES, fields_from_template, takes_editor
from promptlab.ui.format import guarded, md_code, md_text
from promptlab.ui.i18n import t


def hidden():
    return gr.update(visible=False)


def shown():
    return gr.update(visible=True)


def cleared() -> str:
    """A past action's message, cleared when the language switches (the list and its info are shown anew)."""
    return ""


def choices(lang: str, owner: str | None, view: library.View | None = None) -> list[tuple[str, str]]:
    """The dropdown's (label, name) pairs: shipped templates by name, yours marked as yours."""
    view = view or library.read(owner)
    return [(name if entry.shipped else t("studio.yours_label", lang, name=name), name)
            for name, entry in view.entries.items()]


def refresh(current: str | None, lang: str, request: gr.Request = None):
    """The list as this visitor sees it now, and what it says about the picked template: (dropdown, info)."""
    owner = state.owner_of(request)
    view = library.read(owner)
    listed = choices(lang, owner, view)
    kept = current if current in view.entries else None
    pick = gr.update(choices=listed) if kept == current else gr.update(choices=listed, value=None)
    return pick, info(kept, lang, owner, view)


def describe(name: str | None, lang: str, request: gr.Request = None) -> str:
    return info(name, lang, state.owner_of(request))


def info(name: str | None, lang: str, owner: str | None, view: library.View | None = None) -> str:
    """How many templates are shipped and yours, and whether the picked one is read-only."""
    entries = (view or library.read(owner)).entries
    own = sum(not entry.shipped for entry in entries.values())
    lines = [t("studio.library_counts", lang, shipped=len(entries) - own, own=own)]
    if name in entries:
        lines.append(t("studio.picked_shipped" if entries[name].shipped else "studio.picked_own", lang,
                       name=md_code(name)))
    return "  \n".join(lines)


@guarded("studio.load_failed")
def load_template(name: str, lang: str, request: gr.Request = None):
    templates = state.library(state.owner_of(request))
    if name not in templates:
        raise ValueError(t("studio.pick_first", lang))
    return fields_from_template(templates[name])


# ---- save, with the overwrite question ---------------------------------------------------------------------------

@guarded("studio.save_failed")
@takes_editor
def save_to_library(template: Template, lang: str, request: gr.Request = None):
    """Save the editor's template as one of yours: (message, dropdown, overwrite button, name asked about)."""
    return _save(template, lang, state.owner_of(request), overwrite=False)


@guarded("studio.save_failed")
@takes_editor
def overwrite_in_library(template: Template, asked: str | None, lang: str, request: gr.Request = None):
    """"Yes, overwrite it": only the template the question named (a name typed since then is asked about again)."""
    return _save(template, lang, state.owner_of(request), overwrite=template.name == asked)


def _save(template: Template, lang: str, owner: str | None, overwrite: bool):
    if not template.prompt.strip():
        raise ValueError(t("studio.fix_first", lang))
    if library.is_shipped(template.name):
        raise ValueError(t("studio.shipped_read_only", lang, name=template.name))
    try:
        library.save(template, owner, overwrite=overwrite)
    except library.Exists:
        return t("studio.overwrite_ask", lang, name=md_code(template.name)), gr.skip(), shown(), template.name
    return (t("studio.saved", lang, name=md_code(template.name)),
            gr.update(choices=choices(lang, owner), value=template.name), hidden(), None)


# ---- rename and delete (yours only) ------------------------------------------------------------------------------

def _own(name: str | None, lang: str, owner: str | None) -> str:
    entries = library.read(owner).entries
    if name in entries and entries[name].shipped:
        raise ValueError(t("studio.shipped_keep", lang, name=name))
    if name not in entries:
        raise ValueError(t("studio.pick_own", lang))
    return name


@guarded("studio.rename_failed")
def rename(name: str | None, new_name: str, editor_name: str, lang: str, request: gr.Request = None):
    """(message, dropdown, info, new-name box, the editor's name): the editor follows when it shows the template."""
    owner = state.owner_of(request)
    library.rename(_own(name, lang, owner), (new_name or "").strip(), owner)
    new_name = (new_name or "").strip()
    return (t("studio.renamed", lang, old=md_code(name), new=md_code(new_name)),
            gr.update(choices=choices(lang, owner), value=new_name), info(new_name, lang, owner), "",
            new_name if (editor_name or "").strip() == name else gr.skip())


@guarded("studio.delete_failed")
def ask_delete(name: str | None, lang: str, request: gr.Request = None):
    """"Delete…": (question, the confirm button)."""
    return t("studio.delete_ask", lang, name=md_code(_own(name, lang, state.owner_of(request)))), shown()


@guarded("studio.delete_failed")
def delete(name: str | None, lang: str, request: gr.Request = None):
    """"Yes, delete it": (message, dropdown, info, the confirm button)."""
    owner = state.owner_of(request)
    library.delete(_own(name, lang, owner), owner)
    return (t("studio.deleted", lang, name=md_code(name)), gr.update(choices=choices(lang, owner), value=None),
            info(None, lang, owner), hidden())


# ---- import ------------------------------------------------------------------------------------------------------

@guarded("studio.import_failed")
def import_file(path: str | None, lang: str, request: gr.Request = None):
    """An uploaded YAML file: a PromptLab template goes into the editor (saved only when you save it); a PromptSource
    file's templates are listed to load one or import them all. (*editor fields, message, PromptSource row, its
    dropdown, its templates as YAML texts)."""
    if not path:
        return (*[gr.skip()] * (len(FIELD_NAMES) + 4),)
    file = Path(path).name
    text = read_text(path, MAX_PROMPTSOURCE_CHARS, "template_file")
    templates = library.templates_in(text, file)
    if not is_promptsource(text):
        message = t("studio.loaded_file", lang, name=md_code(templates[0].name), file=md_code(file))
        return (*fields_from_template(templates[0]), message, hidden(), gr.skip(), None)
    names = [template.name for template in templates]
    return (*[gr.skip()] * len(FIELD_NAMES), _found(templates, file, lang), shown(),
            gr.update(choices=names, value=names[0]), [dump_template(template) for template in templates])


def _found(templates: list[Template], file: str, lang: str) -> str:
    dataset = templates[0].task if templates else ""
    found = t("studio.ps_found", lang, file=md_code(file), n=len(templates), dataset=md_code(dataset))
    classes = sorted({f"{column}: {', '.join(names)}" for tpl in templates for column, names in tpl.class_labels})
    if classes:
        return f"{found}  \n{t('studio.ps_classes', lang, classes=md_text('; '.join(classes)))}"
    return f"{found}  \n{t('studio.ps_no_classes', lang, dataset=md_code(dataset))}"


def _imported(texts: list[str] | None, lang: str) -> list[Template]:
    if not texts:
        raise ValueError(t("studio.pick_first", lang))
    return [parse_template(text) for text in texts]


@guarded("studio.load_failed")
def load_imported(texts: list[str] | None, name: str | None, lang: str):
    """One template of the PromptSource file into the editor."""
    template = next((tpl for tpl in _imported(texts, lang) if tpl.name == name), None)
    if template is None:
        raise ValueError(t("studio.pick_first", lang))
    return fields_from_template(template)


@guarded("studio.import_failed")
def import_all(texts: list[str] | None, lang: str, request: gr.Request = None):
    """Every template of the PromptSource file into your library; asks first over yours: (message, dropdown,
    info, the replace button)."""
    return _import_all(_imported(texts, lang), lang, state.owner_of(request), overwrite=False)


@guarded("studio.import_failed")
def replace_all(texts: list[str] | None, lang: str, request: gr.Request = None):
    return _import_all(_imported(texts, lang), lang, state.owner_of(request), overwrite=True)


def _import_all(templates: list[Template], lang: str, owner: str | None, overwrite: bool):
    try:
        library.save_all(templates, owner, overwrite=overwrite)
    except library.Exists as exists:
        names = ", ".join(md_code(name) for name in exists.names)
        return t("studio.ps_overwrite_ask", lang, names=names), gr.skip(), gr.skip(), shown()
    return (t("studio.ps_imported", lang, n=len(templates)), gr.update(choices=choices(lang, owner)),
            info(None, lang, owner), hidden())
