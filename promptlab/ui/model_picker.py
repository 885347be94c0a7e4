"""The header's model picker: which model this visitor scores with, its family and what that family supports, and
the memory it takes beside the other loaded models.

The choices are the models this server offers (the served one, the registry's, the operator's $PROMPTLAB_MODELS);
where a visitor may type models (not on a public app), also a local folder (where typed paths are allowed) or a hub
id. Picking one loads it in the model process at once: a model that cannot be used says why and the previous one
stays; one that made others unload says which ("Unloaded X to make room for Y").
"""

from __future__ import annotations

import logging

import gradio as gr

from promptlab.models.loaded import megabytes
from promptlab.models.registry import BUNDLED, bundled_available
from promptlab.ui import state
from promptlab.ui.format import USER_ERRORS, html_text, md_code, md_text
from promptlab.ui.i18n import say, t
from promptlab.ui.page import Page

log = logging.getLogger("promptlab.ui")


def build(page: Page):
    """The picker and its information line, in the header; `page.model` is the visitor's choice."""
    page.model = gr.State(None)
    with gr.Column(scale=4, min_width=360):
        picker = page.labels(gr.Dropdown, label_key="models.pick",
                             info_key="models.pick_info" if state.may_type_models() else "models.pick_info_offered",
                             choices=choices("local", "en"), value=state.model_id(),
                             allow_custom_value=state.may_type_models(), elem_id="pl-model-pick")
        info = gr.Markdown(elem_id="pl-model", latex_delimiters=[])
    return picker, info


def wire(page: Page, picker, info) -> None:
    """The picker's events (once `page.lang` exists): a pick loads the model; a language switch relabels."""
    picker.input(pick, [picker, page.model, page.lang], [page.model, picker, info],
                 concurrency_id=state.MODEL_QUEUE, concurrency_limit=state.MODEL_EVENTS)
    page.on_language(show, [page.model, page.lang], [picker, info])


def choices(visitor_id: str, lang: str) -> list[tuple[str, str]]:
    """(label, model) for every model the visitor may pick; a registry model not installed here says so."""
    out = []
    for model in state.model_choices(visitor_id):
        missing = model in BUNDLED and not bundled_available(model)
        out.append((f"{model} ({t('models.not_installed_short', lang)})" if missing else model, model))
    return out


def show(model, lang: str, request: gr.Request = None):
    """The picker and its line for the visitor's model (on page load and language switch)."""
    state.remember_language(lang, request)
    visitor = state.visitor(request)
    model = model or state.model_for(visitor)
    return gr.update(choices=choices(visitor, lang), value=model), info_markdown(model, lang)


def pick(choice, current, lang: str, request: gr.Request = None, progress=gr.Progress()):
    """Load the picked model and make it the visitor's; when it cannot be used, say why and keep the previous."""
    visitor = state.visitor(request)
    state.remember_language(lang, request)
    progress(0, desc=t("models.loading", lang, model=state.model_label(str(choice or ""))))
    try:
        answer = state.load_model(choice, visitor, lang)
    except Exception as error:  # noqa: BLE001 - every failure keeps the previous model and says why
        if not isinstance(error, USER_ERRORS):
            log.exception("loading model %r failed", choice)
        kept = current or state.model_for(visitor)
        message = (f"{t('models.load_failed', lang)}: {say(error, lang)}"
                   f"{t('models.kept', lang, model=state.model_label(kept))}")
        gr.Warning(html_text(message), title=t("error.title", lang))
        return gr.skip(), gr.update(choices=choices(visitor, lang), value=kept), gr.skip()
    model = answer["model"]
    return model, gr.update(choices=choices(visitor, lang), value=model), info_markdown(model, lang, answer)


def info_markdown(model: str, lang: str, loaded: dict | None = None) -> str:
    """The family and what it supports; after a load, the memory the model takes, the others loaded beside it and
    the ones unloaded to make room; whether training is on."""
    try:
        family = state.family_of(model)
        parts = [f"**{t(f'family.{family}', lang)}**", t(f"supports.{family}", lang)]
    except ValueError as error:
        parts = ["⚠ " + md_text(say(error, lang))]
    if loaded:
        parts.append(memory_text(model, loaded, lang))
    parts.append(t("app.training_on" if state.CONFIG.allow_training else "app.training_off", lang))
    lines = [" · ".join(parts)]
    lines += ["ℹ " + state.unloaded_text(note, lang, md_text) for note in (loaded or {}).get("notes", ())]
    return "  \n".join(lines)


def memory_text(model: str, loaded: dict, lang: str) -> str:
    """"0.39 MB of the 4,000 MB for models; also loaded: a, b"."""
    size, budget = megabytes(loaded.get("bytes", 0)), loaded.get("budget")
    text = t("models.size", lang, size=size, budget=megabytes(budget)) if budget else \
        t("models.size_unlimited", lang, size=size)
    others = [t("models.with_adapter", lang, model=md_code(state.model_label(m))) if adapter
              else md_code(state.model_label(m)) for m, adapter, _ in loaded.get("loaded", ())
              if (m, adapter) != (model, None)]
    if others:
        text += "; " + t("models.also_loaded", lang, models=", ".join(others))
    return text
