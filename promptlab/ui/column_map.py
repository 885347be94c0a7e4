"""The Studio's column mapping: a template whose placeholders the data lacks ({{ sentence }} on data whose column
is `text`) gets a proposed column for each (`prompts.mapping.propose_mapping`); the visitor can change them, and
applying renames the placeholders in the editor's fields, so the editor shows exactly what is scored. Loading a
library template applies a proposal that makes it fit at once, and says so.

The section lists one dropdown per placeholder to map: those the data lacks, and those it mapped for the template
in the editor (to change them). What it mapped is kept per visitor in a small state: {"template": name, "pairs":
{placeholder as written: column it reads now}}.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from promptlab.prompts import mapping
from promptlab.ui import editor, state
from promptlab.ui.format import guarded, md_code
from promptlab.ui.i18n import t

MAX_SLOTS = 6  # placeholders mapped in the section; more are renamed in the template by hand
SAMPLE_ROWS = 20  # rows that tell text columns from the others


@dataclass
class MappingHandles:
    box: object                                  # the section (hidden when there is nothing to map)
    note: object
    slots: list = field(default_factory=list)    # one dropdown per placeholder
    shown: object = None                         # gr.State: [[placeholder, column it reads now], ...] as shown
    mapped: object = None                        # gr.State: what this section mapped (see the module's doc)
    apply: object = None


def build(page) -> MappingHandles:
    """The section's components, where the Studio places it (under the placeholders)."""
    L = page.labels
    with gr.Group(visible=False, elem_id="studio-mapping") as box:
        note = gr.Markdown(elem_id="studio-mapping-note", latex_delimiters=[])
        with gr.Row():
            slots = [gr.Dropdown(choices=[], value=None, visible=False, interactive=True, min_width=140,
                                 elem_id=f"studio-map-{i}") for i in range(MAX_SLOTS)]
        apply = L(gr.Button, value_key="studio.map_apply", size="sm", elem_id="studio-map-apply")
    return MappingHandles(box, note, slots, gr.State(None), gr.State(None), apply)


def wire(handles: MappingHandles, page, fields: list, recheck) -> None:
    """Show the section for the draft and the data; Apply renames the placeholders in the editor's fields, then
    `recheck(event)` chains the Studio's live check."""
    shown = [handles.box, handles.note, *handles.slots, handles.shown]
    inputs = [page.draft, page.data, handles.mapped, page.lang]
    for event in (page.draft.change, page.data.change, handles.mapped.change):
        event(show, inputs, shown, show_progress="hidden")
    page.on_language(show, inputs, shown)
    recheck(handles.apply.click(apply, [*fields, *handles.slots, handles.shown, handles.mapped, page.lang],
                                [*fields, handles.mapped]))


def show(draft, sel, mapped, lang: str):
    """The section for a draft on the selected data: hidden when its placeholders are all columns and it mapped
    nothing; else a note and one dropdown per placeholder (proposed or current column)."""
    hidden = [gr.update(visible=False), "", *[gr.update(visible=False)] * MAX_SLOTS, []]
    if draft is None or not sel:
        return hidden
    columns = sel.get("columns") or []
    read = mapping.placeholders(draft)
    done = {old: new for old, new in _pairs(mapped, draft).items() if new in read}
    missing = [name for name in sorted(read - set(columns)) if name not in done.values()]
    if not done and not missing:
        return hidden
    proposal = mapping.propose_mapping(draft, columns, sel.get("label_column"), _sample(sel))
    slots = [(old, new, new) for old, new in done.items()] + [(name, name, proposal.get(name)) for name in missing]
    choices = [c for c in columns if mapping.usable_column(c)]
    updates = [gr.update(visible=True, label=t("studio.map_slot", lang, name=old), choices=choices, value=value)
               for old, _, value in slots[:MAX_SLOTS]]
    updates += [gr.update(visible=False)] * (MAX_SLOTS - len(updates))
    return [gr.update(visible=True), note_markdown(done, missing, len(slots), lang), *updates,
            [[old, current] for old, current, _ in slots[:MAX_SLOTS]]]


def note_markdown(done: dict, missing: list, n_slots: int, lang: str) -> str:
    """What the section is for: placeholders the data lacks, and/or what was mapped (names shown as text)."""
    lines = [f"**{t('studio.map_title', lang)}**"]
    if missing:
        lines.append(t("studio.map_missing", lang, names=", ".join(md_code(name) for name in missing)))
    if done:
        pairs = ", ".join(f"{md_code(old)} → {md_code(new)}" for old, new in done.items())
        lines.append(t("studio.map_applied", lang, pairs=pairs))
    if n_slots > MAX_SLOTS:
        lines.append(t("studio.map_more", lang, n=n_slots - MAX_SLOTS))
    return "\n\n".join(lines)


@guarded("studio.map_failed")
def apply(*values):
    """Rename the placeholders as the dropdowns say, in the template as the editor shows it now."""
    fields, values = values[:len(editor.FIELD_NAMES)], values[len(editor.FIELD_NAMES):]
    chosen, (shown, mapped, lang) = values[:MAX_SLOTS], values[MAX_SLOTS:]
    template = editor.template_from_fields(*fields)
    read = mapping.placeholders(template)
    renames, pairs = {}, _pairs(mapped, template)
    for (old, current), column in zip(shown or [], chosen, strict=False):
        if column and column != current and current in read:
            renames[current] = column
            pairs[old] = column
    if not renames:
        raise ValueError(t("studio.map_pick", lang))
    renamed = mapping.rename_placeholders(template, renames)
    return (*editor.fields_from_template(renamed), {"template": renamed.name, "pairs": pairs})


@guarded("studio.load_failed")
def map_loaded(*values):
    """After a library template is loaded: apply the proposed mapping when it makes the template fit the data
    (the section then says what it mapped); otherwise leave the template as written (the section proposes)."""
    *fields, sel, lang = values
    template = editor.template_from_fields(*fields)
    if not sel or not template.prompt.strip():
        return (*[gr.skip()] * len(fields), None)
    proposal = mapping.fitting_mapping(template, sel.get("columns") or [], sel.get("label_column"), _sample(sel))
    if not proposal:
        return (*[gr.skip()] * len(fields), None)
    try:
        renamed = mapping.rename_placeholders(template, proposal)
    except ValueError:  # a template that uses the name for a variable of its own: the section proposes instead
        return (*[gr.skip()] * len(fields), None)
    return (*editor.fields_from_template(renamed), {"template": renamed.name, "pairs": dict(proposal)})


def _pairs(mapped, template) -> dict:
    """What the section mapped for this template (by name), as {placeholder as written: column read now}."""
    if isinstance(mapped, dict) and template is not None and mapped.get("template") == template.name:
        return dict(mapped.get("pairs") or {})
    return {}


def _sample(sel: dict) -> list[dict]:
    """A few of the rows scored, to tell text columns (none when the data cannot be read now: the Data tab says
    why)."""
    try:
        return state.eval_rows(sel, SAMPLE_ROWS)
    except ValueError:
        return []
