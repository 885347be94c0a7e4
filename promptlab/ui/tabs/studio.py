"""Template studio: load or write a hard prompt, see its placeholders, problems and rendered prompts live, run it
zero- or few-shot on a few rows, and save it.

The editor's fields are the visitor's draft. Every edit re-runs the engine's `validate` against the selected data
(the live check, which also keeps `page.draft` for what other tabs show); every action (Preview, Save, Compare,
Tune) takes the template from the fields themselves (`editor.takes_editor`), so what is scored is what is shown.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr

from promptlab.models.registry import mask_token_of
from promptlab.prompts import files, render
from promptlab.prompts.budget import render_budget
from promptlab.prompts.values import Template
from promptlab.scoring.experiment import Protocol
from promptlab.ui import column_map, editor, library_view, private_files, state
from promptlab.ui.editor import fields_from_template, takes_editor
from promptlab.ui.format import (
    display_table,
    guarded,
    md_block,
    md_code,
    md_text,
    metrics_markdown,
    sampler_choices,
    track,
)
from promptlab.ui.i18n import say, t
from promptlab.ui.library_view import load_template, overwrite_in_library, save_to_library  # noqa: F401
from promptlab.ui.page import Page, StudioHandles

log = logging.getLogger("promptlab.ui")
RENDERED_ROWS = 3
CHECK_SECONDS = 2.0  # rendering time one live check may take, all rows together
def blank_template(sel: dict | None) -> Template:
    """A starting point that fits the selected data: its first text-like column and its labels."""
    columns = (sel or {}).get("columns") or ["text"]
    label = (sel or {}).get("label_column")
    text_column = next((c for c in columns if c != label), columns[0])
    choices = tuple(state.dataset_of(sel).labels) if sel and label else ()
    return Template(name="my-template", prompt=f"Text: {{{{ {text_column} }}}}\nAnswer:",
                        target=f"{{{{ {label} }}}}" if label else "", answer_choices=choices)


def build(page: Page) -> StudioHandles:
    L = page.labels
    L(gr.Markdown, value_key="studio.intro")
    lib = _library_row(L)
    load, blank = lib.load, lib.blank
    with gr.Row():
        with gr.Column(scale=3):
            name = L(gr.Textbox, label_key="studio.name", elem_id="studio-name")
            instruction = L(gr.Textbox, label_key="studio.instruction", info_key="studio.instruction_info",
                            lines=2, elem_id="studio-instruction")
            prompt = L(gr.Textbox, label_key="studio.prompt", info_key="studio.prompt_info", lines=4,
                       elem_id="studio-prompt")
            target = L(gr.Textbox, label_key="studio.target", info_key="studio.target_info",
                       elem_id="studio-target")
            choices = L(gr.Textbox, label_key="studio.choices", info_key="studio.choices_info",
                        elem_id="studio-choices")
            with L(gr.Accordion, label_key="studio.more", open=False):
                with gr.Row():
                    target_delimiter = L(gr.Textbox, label_key="studio.target_delimiter", value=" ")
                    fewshot_delimiter = L(gr.Textbox, label_key="studio.fewshot_delimiter", value="\\n\\n")
                    language = L(gr.Textbox, label_key="studio.language", value="en")
                    chat = L(gr.Checkbox, label_key="studio.chat", info_key="studio.chat_info")
                task = L(gr.Textbox, label_key="studio.task")
                with gr.Row():
                    description = L(gr.Textbox, label_key="studio.description")
                    reference = L(gr.Textbox, label_key="studio.reference")
                class_labels = L(gr.Textbox, label_key="studio.class_labels", info_key="studio.class_labels_info",
                                 lines=1, elem_id="studio-class-labels")
        with gr.Column(scale=2):
            # latex_delimiters=[]: a "$$" in a template or a cell is text, not a formula.
            placeholders = gr.Markdown(elem_id="studio-placeholders", latex_delimiters=[])
            columns = column_map.build(page)  # placeholders the data lacks -> its columns
            problems = gr.Markdown(elem_id="studio-problems", latex_delimiters=[])
            rendered = gr.Markdown(elem_id="studio-rendered", max_height=420, latex_delimiters=[])
    L(gr.Markdown, value_key="studio.run_title")
    with gr.Row(equal_height=True):
        n_rows = L(gr.Slider, label_key="studio.rows", minimum=1, maximum=64, step=1, value=8,
                   elem_id="studio-rows")
        shots = L(gr.Slider, label_key="studio.shots", minimum=0, maximum=8, step=1, value=0,
                  elem_id="studio-shots")
        sampler = L(gr.Dropdown, label_key="studio.sampler", choices_fn=sampler_choices, value="random")
        seed = L(gr.Number, label_key="studio.seed", value=0, precision=0, minimum=0)
        generate = L(gr.Checkbox, label_key="studio.generate", info_key="studio.generate_info", value=False)
        run = L(gr.Button, value_key="studio.run", variant="primary", elem_id="studio-run")
        stop = L(gr.Button, value_key="studio.stop", variant="stop", elem_id="studio-stop", scale=0)
    metrics = gr.Markdown(elem_id="studio-metrics")
    results = L(gr.Dataframe, label_key="studio.results", wrap=True, max_height=520, interactive=False, visible=False,
                elem_id="studio-results")
    with L(gr.Accordion, label_key="studio.save_title", open=False):
        yaml_view = L(gr.Code, label_key="studio.yaml", language="yaml", interactive=False, lines=8)
        with gr.Row():
            download = L(gr.DownloadButton, label_key="studio.download", value=None)
            save = L(gr.Button, value_key="studio.save", elem_id="studio-save")
            overwrite = L(gr.Button, value_key="studio.overwrite", variant="stop", visible=False,
                          elem_id="studio-overwrite")
        saved = gr.Markdown(latex_delimiters=[], elem_id="studio-saved")
    asked = gr.State(None)  # the name "Overwrite it?" asked about

    fields = [name, instruction, prompt, target, choices, target_delimiter, fewshot_delimiter, chat, language,
              task, description, reference, class_labels]
    checked = [page.draft, placeholders, problems, rendered, yaml_view, download]
    live = [*fields, page.data, page.lang, page.model]  # the live check's inputs (`check_for_model`)
    for i, field in enumerate(fields):
        field.input(check_for_model, live, checked, trigger_mode="always_last", show_progress="hidden",
                    api_name="check" if i == 0 else None)  # the live check's API: /check
    # New data (other columns) can make a valid template invalid and vice versa; another model shows another mask.
    for changed in (page.data, page.model):
        changed.change(check_for_model, live, checked, show_progress="hidden")
    page.on_language(show_check, live, checked[1:4])

    load.click(load_template, [lib.pick, page.lang], fields).then(
        column_map.map_loaded, [*fields, page.data, page.lang], [*fields, columns.mapped]).then(
        check_for_model, live, checked, show_progress="hidden")
    _wire_library(page, lib, fields, checked)
    blank.click(new_blank, [page.data, page.lang], fields).then(
        check_for_model, live, checked, show_progress="hidden")
    last = gr.State(None)  # this visitor's last preview, re-rendered when the language changes
    run.click(state.on_gpu(preview), [*fields, page.data, n_rows, shots, sampler, seed, generate, page.lang],
              [metrics, results, last], concurrency_id=state.MODEL_QUEUE, concurrency_limit=state.MODEL_EVENTS)
    stop.click(state.stop_request, None, None, show_progress="hidden")
    page.on_language(show_preview, [last, page.lang], [metrics, results])
    save.click(save_to_library, [*fields, page.lang], [saved, lib.pick, overwrite, asked]).success(
        library_view.describe, [lib.pick, page.lang], lib.info, show_progress="hidden")
    overwrite.click(overwrite_in_library, [*fields, asked, page.lang], [saved, lib.pick, overwrite, asked]).success(
        library_view.describe, [lib.pick, page.lang], lib.info, show_progress="hidden")
    page.on_language(library_view.cleared, [], saved)  # its question too: ask again
    page.on_language(library_view.hidden, [], overwrite)
    page.editor = fields
    column_map.wire(columns, page, fields,
                    lambda event: event.then(check_for_model, live, checked, show_progress="hidden"))
    return StudioHandles(pick=lib.pick, checked=checked, library=[lib.pick, lib.info])


@dataclass
class _Library:
    """The library's components: laid out by `_library_row`, wired by `_wire_library` (handlers: library_view)."""

    pick: gr.Dropdown
    load: gr.Button
    blank: gr.Button
    upload: gr.UploadButton
    info: gr.Markdown
    imported_row: gr.Row           # the templates of an imported PromptSource file
    imported_pick: gr.Dropdown
    imported_load: gr.Button
    imported_all: gr.Button
    imported_replace: gr.Button
    new_name: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    confirm_delete: gr.Button
    message: gr.Markdown
    imported: gr.State             # that file's templates, as YAML texts


def _library_row(L) -> _Library:
    """The library row: the list (this visitor's, read again on every page load), load, start blank, import; the
    templates of an imported PromptSource file; rename and delete (yours only)."""
    with gr.Row(equal_height=True):
        pick = L(gr.Dropdown, label_key="studio.library", choices=library_view.choices("en", None), scale=3,
                 elem_id="studio-library")
        load = L(gr.Button, value_key="studio.load", scale=1, elem_id="studio-load")
        blank = L(gr.Button, value_key="studio.blank", scale=1, elem_id="studio-blank")
        upload = L(gr.UploadButton, label_key="studio.import", file_types=[".yaml", ".yml"], type="filepath",
                   scale=1, elem_id="studio-import")
    info = gr.Markdown(elem_id="studio-library-info", latex_delimiters=[])
    with gr.Row(equal_height=True, visible=False) as imported_row:
        imported_pick = L(gr.Dropdown, label_key="studio.ps_pick", scale=3, elem_id="studio-imported-pick")
        imported_load = L(gr.Button, value_key="studio.ps_load", scale=1, elem_id="studio-imported-load")
        imported_all = L(gr.Button, value_key="studio.ps_all", scale=1, elem_id="studio-imported-all")
        imported_replace = L(gr.Button, value_key="studio.ps_overwrite", variant="stop", visible=False, scale=1,
                             elem_id="studio-imported-replace")
    with L(gr.Accordion, label_key="studio.manage", open=False, elem_id="studio-manage"), gr.Row(equal_height=True):
        new_name = L(gr.Textbox, label_key="studio.new_name", scale=2, elem_id="studio-new-name")
        rename = L(gr.Button, value_key="studio.rename", scale=1, elem_id="studio-rename")
        delete = L(gr.Button, value_key="studio.delete", variant="stop", scale=1, elem_id="studio-delete")
        confirm_delete = L(gr.Button, value_key="studio.confirm_delete", variant="stop", visible=False, scale=1,
                           elem_id="studio-confirm-delete")
    message = gr.Markdown(elem_id="studio-library-message", latex_delimiters=[])
    return _Library(pick, load, blank, upload, info, imported_row, imported_pick, imported_load, imported_all,
                    imported_replace, new_name, rename, delete, confirm_delete, message, gr.State(None))


def _wire_library(page: Page, lib: _Library, fields: list, checked: list) -> None:
    """The library's events besides Load and Save: what the picked template is, the language switch, import,
    rename and delete (each refreshes the list)."""
    recheck = dict(fn=check_for_model, inputs=[*fields, page.data, page.lang, page.model], outputs=checked,
                   show_progress="hidden")
    listed = [lib.message, lib.pick, lib.info]
    lib.pick.change(library_view.describe, [lib.pick, page.lang], lib.info, show_progress="hidden")
    lib.pick.change(library_view.hidden, None, lib.confirm_delete, show_progress="hidden")  # asked about one pick
    page.on_language(library_view.refresh, [lib.pick, page.lang], [lib.pick, lib.info])
    page.on_language(library_view.cleared, [], lib.message)
    for question in (lib.confirm_delete, lib.imported_replace):
        page.on_language(library_view.hidden, [], question)
    lib.upload.upload(library_view.import_file, [lib.upload, page.lang],
                      [*fields, lib.message, lib.imported_row, lib.imported_pick, lib.imported]).success(**recheck)
    lib.imported_load.click(library_view.load_imported, [lib.imported, lib.imported_pick, page.lang],
                            fields).success(**recheck)
    lib.imported_all.click(library_view.import_all, [lib.imported, page.lang], [*listed, lib.imported_replace])
    lib.imported_replace.click(library_view.replace_all, [lib.imported, page.lang], [*listed, lib.imported_replace])
    lib.rename.click(library_view.rename, [lib.pick, lib.new_name, fields[0], page.lang],
                     [*listed, lib.new_name, fields[0]])
    lib.delete.click(library_view.ask_delete, [lib.pick, page.lang], [lib.message, lib.confirm_delete])
    lib.confirm_delete.click(library_view.delete, [lib.pick, page.lang], [*listed, lib.confirm_delete])


@guarded("studio.load_failed")
def new_blank(sel: dict | None, lang: str):
    return fields_from_template(blank_template(sel))


def check_for_model(*values):
    """`check` for the model the visitor picked (the last input: `page.model`)."""
    *values, model = values
    return check(*values, model=model)


def check(*values, model: str | None = None):
    """Live check of the draft: placeholders, problems (engine `validate`), the first rendered prompts as `model`
    (None: the app's) will read them, YAML."""
    *field_values, sel, lang = values
    if not any(field_values[:5]):  # nothing loaded into the editor yet (the page is still starting)
        return None, "", "", "", "", gr.skip()
    try:
        return _check(field_values, sel, lang, model or state.model_id())
    except Exception as error:  # never a toast per keystroke: show it where the problems go
        log.exception("live check failed")
        return None, "", "⚠ " + md_text(f"{type(error).__name__}: {error}"), "", "", gr.skip()


def _check(field_values, sel, lang: str, model: str):
    template = editor.template_from_fields(*field_values)
    yaml_text = files.dump_template(template)
    return (template, *_shown_check(template, sel, lang, model), yaml_text,
            gr.update(value=_yaml_file(template.name, yaml_text)))


def show_check(*values):
    """The live check's placeholders, problems and rendered prompts in the page's language (a language switch):
    the findings of the last check of this template on this data for this model are kept (`_findings`), so nothing
    is rendered again."""
    *field_values, sel, lang, model = values
    if not any(field_values[:5]):
        return gr.skip(), gr.skip(), gr.skip()
    return _shown_check(editor.template_from_fields(*field_values), sel, lang, model or state.model_id())


def _shown_check(template: Template, sel, lang: str, model: str) -> tuple[str, str, str]:
    problems, examples = _findings(template, sel, mask_token_of(model))
    columns = (sel or {}).get("columns")
    return (placeholders_markdown(template, columns, lang), problems_markdown(problems, lang),
            rendered_markdown(template, examples, lang))


_FINDINGS: OrderedDict = OrderedDict()  # (template, data selection, mask) -> (problems, rendered rows): the last checks
_FINDINGS_KEPT = 64
_findings_lock = threading.Lock()


def _findings(template: Template, sel, mask: str | None) -> tuple[list, list]:
    """The problems of `template` on the selected data's first evaluation rows, and the first rows rendered (a cloze
    template's {{ mask }} as the model's own mask token, `mask`, where it is known) as [(row number, Example)]; the
    last few checks are kept, so a language switch says them again without rendering (a live check per keystroke:
    a slow template cannot hold the server either way)."""
    key = (template, json.dumps(sel, sort_keys=True, default=str), mask)
    with _findings_lock:
        if key in _FINDINGS:
            _FINDINGS.move_to_end(key)
            return _FINDINGS[key]
    rows = state.eval_rows(sel, 20) if sel else []
    with render_budget(CHECK_SECONDS):
        problems = render.validate(template, (sel or {}).get("columns"), rows)
        examples = list(_rendered(template, rows[:RENDERED_ROWS], mask or render.DEFAULT_MASK_TEXT))
    with _findings_lock:
        _FINDINGS[key] = (problems, examples)
        while len(_FINDINGS) > _FINDINGS_KEPT:
            _FINDINGS.popitem(last=False)
    return problems, examples


def _rendered(template: Template, rows, mask: str):
    for i, row in enumerate(rows, 1):
        try:
            yield i, render.render(template, row, mask=mask)
        except ValueError:  # already listed among the problems
            continue


def placeholders_markdown(template: Template, columns, lang: str) -> str:
    found = sorted(render.variables(template))
    if not found:
        return f"**{t('studio.placeholders', lang)}**: {t('studio.none', lang)}"
    marks = [f"{md_code(v)} {'✓' if columns is None or v in columns else '✗'}" for v in found]
    return f"**{t('studio.placeholders', lang)}**: " + " · ".join(marks)


def problems_markdown(problems, lang: str) -> str:
    """The engine's problems as a list; their messages quote the template and the data, so they are shown as text."""
    if not problems:
        return f"✓ **{t('studio.no_problems', lang)}**"
    lines = [f"⚠ **{t('studio.problems', lang, n=len(problems))}**"]
    for p in problems:
        where = t("studio.where", lang, line=p.line, column=p.column) if p.line else ""
        hint = f" *{md_text(say(p.hint, lang))}*" if p.hint else ""
        lines.append(f"- **{md_text(say(p.field_name(), lang))}**{where}: {md_text(say(p.message, lang))}{hint}")
    return "\n".join(lines)


def rendered_markdown(template: Template, examples, lang: str) -> str:
    """The first rows as the model will read them ([(row number, Example)]): the prompt, then the gold target after
    the delimiter, each in a code block that the text cannot close. A chat template is scored inside the model's
    chat template: a note says so."""
    if not examples:
        return ""
    parts = [f"**{t('studio.rendered', lang)}**"]
    if template.chat:
        parts.append(f"*{t('studio.chat_note', lang)}*")
    for i, example in examples:
        target = f"{example.delimiter}{example.target}" if example.target else ""
        parts.append(f"{t('studio.row', lang, n=i)}\n{md_block(f'{example.prompt}⟦{target}⟧')}")
    return "\n\n".join(parts)


def _yaml_file(name: str, yaml_text: str) -> str:
    """A downloadable copy of the YAML, named after the template, in this process's private folder (see
    `private_files`: a fresh file each time, only the newest few kept)."""
    return private_files.write_text(name or "template", ".yaml", yaml_text)


@guarded("studio.run_failed")
@takes_editor
def preview(template, sel, n_rows, shots, sampler, seed, generate, lang, request: gr.Request = None,
            progress=gr.Progress()):
    """Score the editor's template on N evaluation rows: metrics above a per-row table."""
    if not template.prompt.strip():
        raise ValueError(t("studio.fix_first", lang))
    rows = state.eval_rows(sel, int(n_rows))
    progress(0, desc=t("progress.loading_model", lang))
    protocol = Protocol(shots=int(shots), seed=int(seed or 0), sampler=sampler, generate=bool(generate))
    report = state.score(template, rows, protocol, visitor=state.visitor(request), pool=state.demonstrations(sel),
                         label_column=sel.get("label_column"), progress=track(progress, t("progress.scoring", lang)))
    last = {"metrics": report.metrics, "n": report.n, "seconds": report.seconds, "table": report.table}
    return (*show_preview(last, lang), last)


def show_preview(last: dict | None, lang: str):
    """A preview's metrics above its per-row table, in `lang`."""
    if last is None:
        return gr.skip(), gr.skip()
    return (metrics_markdown(last["metrics"], last["n"], last["seconds"], lang),
            gr.update(value=display_table(last["table"], lang), visible=True))


