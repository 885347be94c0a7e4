"""The language switch: one event, outside the queue, that relabels every component and re-renders what each tab
shows from what it keeps (a comparison, a preview, a check, an estimate: nothing is scored, rendered against the data
or estimated again), so the page switches at once and whole, however busy the model queue is. Gradio's own texts (the
upload box, "Error" badges, "Loading...") follow through its frontend locale, set by a small script on the same
change.

Tabs register what they re-render (`Page.on_language`); the assembler wires them into the one event (`wire`).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import gradio as gr

from promptlab.ui.i18n import GRADIO_LOCALES
from promptlab.ui.page import Part

log = logging.getLogger("promptlab.ui")


def wire(page, labels) -> None:
    """One event for the whole switch (relabel + every part), and the script that sets gradio's own locale."""
    parts = page.language_parts
    inputs = _unique([page.lang, *(c for part in parts for c in part.inputs)])
    outputs = _unique([*labels.components, *(c for part in parts for c in part.outputs)])
    where_in = {id(c): i for i, c in enumerate(inputs)}
    where_out = {id(c): i for i, c in enumerate(outputs)}

    def switch(*values, request: gr.Request = None):
        lang = values[0]
        updates = [gr.skip()] * len(outputs)
        for component, update in zip(labels.components, labels.updates(lang), strict=True):
            updates[where_out[id(component)]] = update
        for part in parts:
            for component, value in zip(part.outputs, _run(part, [values[where_in[id(c)]] for c in part.inputs],
                                                           request), strict=True):
                i = where_out[id(component)]
                updates[i] = merged(updates[i], value)
        return updates

    params = [inspect.Parameter(f"v{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(len(inputs))]
    params.append(inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=gr.Request))
    switch.__signature__ = inspect.Signature(params)  # what gradio reads to pass the inputs and the request
    page.lang.change(switch, inputs, outputs, queue=False, show_progress="hidden")
    page.lang.change(None, page.lang, None, js=gradio_locale_js())


def _run(part: Part, args: list, request) -> list:
    """A part's outputs; a part that fails leaves its outputs as they are (logged), never the whole switch."""
    n = len(part.outputs)
    try:
        accepts_request = "request" in inspect.signature(part.fn).parameters
        result = part.fn(*args, request=request) if accepts_request else part.fn(*args)
    except Exception:  # noqa: BLE001 - one tab's trouble must not leave the page half-switched
        log.exception("language switch: %s failed", getattr(part.fn, "__name__", part.fn))
        return [gr.skip()] * n
    values = list(result) if n > 1 else [result]
    return values if len(values) == n else [gr.skip()] * n


def merged(first, then):
    """Two updates of one component as one (the later one's keys win); a plain value is an update of `value`."""
    if _is_skip(then):
        return first
    if _is_skip(first):
        return then
    return {**_as_update(first), **_as_update(then)}


def _is_skip(value) -> bool:
    return isinstance(value, dict) and value == {"__type__": "update"}


def _as_update(value) -> dict:
    if isinstance(value, dict) and value.get("__type__") == "update":
        return value
    return {"__type__": "update", "value": value}


def _unique(components: list) -> list:
    return list({id(c): c for c in components}.values())


def gradio_locale_js() -> str:
    """A browser-side function of the page language that sets gradio's own frontend locale (svelte-i18n, which
    translates the upload box, "Error" badges, "Loading..." and its other built-in texts): gradio picks it from the
    browser once, at page load, and changes it only through `changeLocale` of its core module, which this imports by
    the URL the page loaded it from (the same module, so the same locale store). Nothing happens where the module
    cannot be found."""
    core = _gradio_core_module()
    if core is None:
        return "(lang) => lang"
    locales = ", ".join(f"{code!r}: {locale!r}" for code, locale in GRADIO_LOCALES.items())
    return (
        "(lang) => {"
        f" const locales = {{{locales}}};"
        " const entry = [...document.scripts]"
        ".find(s => s.type === 'module' && /\\/assets\\/index-[^/]*\\.js/.test(s.src));"
        f" const url = new URL({core!r}, entry ? entry.src : new URL('assets/', document.baseURI));"
        " import(url.href).then(m => m.changeLocale(locales[lang] || 'en')).catch(() => {});"
        " return lang; }"
    )


def _gradio_core_module() -> str | None:
    """The file name of gradio's frontend module that exports `changeLocale` (its name carries a build hash)."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    for path in sorted(assets.glob("core-*.js")):
        try:
            if "changeLocale" in path.read_text(encoding="utf-8", errors="ignore"):
                return path.name
        except OSError:
            continue
    return None
