"""The template editor's fields and the engine's Template: one conversion each way, and the rule that every action
takes the template from the fields as the editor shows them when it is clicked (`takes_editor`), never from a draft
an earlier live check left behind (under load that draft lagged keystrokes behind, and Preview scored it)."""

from __future__ import annotations

import functools
import inspect

from promptlab.prompts.values import Template

# Editor fields in the order of `template_from_fields`' parameters.
FIELD_NAMES = ("name", "instruction", "prompt", "target", "answer_choices", "target_delimiter",
               "fewshot_delimiter", "chat", "language", "task", "description", "reference", "class_labels")


def template_from_fields(name, instruction, prompt, target, choices, target_delimiter, fewshot_delimiter, chat,
                         language, task, description, reference="", class_labels="") -> Template:
    """The editor's widget values as an engine Template (delimiters are typed escaped, e.g. "\\n\\n")."""
    return Template(
        name=(name or "").strip() or "untitled", prompt=prompt or "", target=target or "",
        answer_choices=text_to_choices(choices), instruction=instruction or "", task=(task or "").strip(),
        language=(language or "en").strip() or "en", target_delimiter=unescape(target_delimiter or ""),
        fewshot_delimiter=unescape(fewshot_delimiter or ""), chat=bool(chat), description=description or "",
        reference=reference or "", class_labels=text_to_class_labels(class_labels),
    )


def fields_from_template(template: Template) -> tuple:
    """A Template as the editor's widget values (same order as FIELD_NAMES)."""
    return (template.name, template.instruction, template.prompt, template.target,
            choices_to_text(template.answer_choices), escape(template.target_delimiter),
            escape(template.fewshot_delimiter), template.chat, template.language, template.task,
            template.description, template.reference, class_labels_to_text(template.class_labels))


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(text[i + 1], text[i:i + 2]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def choices_to_text(choices) -> str:
    """Answer choices as typed in the editor: literal choices joined by ' ||| ', or the Jinja expression as is."""
    if isinstance(choices, str):
        return choices
    return " ||| ".join(choices)


def text_to_choices(text: str):
    """The editor's text back to engine form: a Jinja expression stays a string, else a tuple of choices."""
    text = (text or "").strip()
    if "{{" in text or "{%" in text:
        return text
    return tuple(part.strip() for part in text.split("|||") if part.strip())


def class_labels_to_text(class_labels) -> str:
    """Class labels as typed in the editor: one line per column, "label: negative ||| positive"."""
    return "\n".join(f"{column}: {' ||| '.join(names)}" for column, names in class_labels)


def text_to_class_labels(text: str) -> tuple:
    """The editor's class labels back to engine form; a line without "column:" is the `label` column's."""
    pairs = []
    for line in (text or "").splitlines():
        column, colon, names = line.partition(":")
        column, names = (column.strip(), names) if colon else ("label", line)
        parts = tuple(part.strip() for part in names.split("|||") if part.strip())
        if column and parts:
            pairs.append((column, parts))
    return tuple(pairs)


def takes_editor(fn):
    """`fn(template, *rest)` as a gradio handler whose first inputs are the editor's fields (FIELD_NAMES order):
    the template is built from them at the click.

    >>> handler = takes_editor(lambda template, lang: template.prompt)
    >>> handler("t", "", "Review: {{ text }}", "", "", " ", "\\n\\n", False, "en", "", "", "", "", "en")
    'Review: {{ text }}'
    """
    signature = inspect.signature(fn)
    rest = list(signature.parameters.values())[1:]
    fields = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in FIELD_NAMES]

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        return fn(template_from_fields(*args[:len(FIELD_NAMES)]), *args[len(FIELD_NAMES):], **kwargs)

    handler.__signature__ = signature.replace(parameters=fields + rest)  # what gradio reads to pass inputs
    return handler
