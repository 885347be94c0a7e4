"""What the web app shares across visitors: its settings, the loaded models and the loaded datasets.

Gradio runs one Python process for every visitor, so module-level values here are shared by all of them, while each
visitor's drafts live in the page's components and `gr.State`s (which never hold a model). The launched app keeps
its models in a process of its own (`start_model`): the served one loads at once, the others a visitor picks load
on demand, as many as fit in the model memory budget. Scoring runs here, with the engine's own scorer, on a
`SharedLM`: its model calls are short and take turns between visitors (`FairShare`), each request has a budget of
model time on a public server, and a visitor can stop their request (`stop`).

Models: each visitor scores with the model they picked (`load_model`; the served one until they pick), kept per page
session as the owner secret is. On a public app a visitor may pick only what the server offers (`offered_models`:
the served model, the registry's and the operator's $PROMPTLAB_MODELS), never a path or an arbitrary hub id.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from promptlab import settings
from promptlab.data.bounded import check_source, load_untrusted
from promptlab.data.cache import DatasetCache
from promptlab.data.sampling import demonstration_pool, evaluation_rows
from promptlab.data.splits import with_holdout
from promptlab.models.loaded import Call, LocalModels
from promptlab.models.process import ModelProcess
from promptlab.models.registry import BUNDLED, DEFAULT_MODEL, bundled_available, model_family
from promptlab.models.shared import Budget, FairShare, SharedLM
from promptlab.prompts import library as user_library
from promptlab.prompts.budget import render_budget
from promptlab.prompts.values import Template
from promptlab.runs.queue import slots_in_use
from promptlab.ui.format import html_text
from promptlab.ui.i18n import PageError, t

log = logging.getLogger("promptlab.ui")

# Events that use the model share this concurrency id. Up to MODEL_EVENTS run at once (rendering and metrics in
# parallel); their model calls take turns through `_share`, so a long request never blocks a short one for long.
MODEL_QUEUE = "model"
MODEL_EVENTS = 16
RENDER_SECONDS = 20.0  # rendering time one scoring request may take (rows x shots x seeds prompts)


@dataclass
class AppConfig:
    """Process-wide settings of the running app, fixed at launch."""

    model_id: str | None = None          # None: the engine's default (the bundled SmolLM2)
    allow_training: bool = True
    device: str = "auto"
    allow_local_files: bool = True       # typed server paths in the Data tab (off on a public Space)


CONFIG = AppConfig()
_local = LocalModels()                       # used when no model process runs (ZeroGPU, tests, embedding)
_scorer: ModelProcess | None = None          # the model process `start_model` started
_share = FairShare()                         # turns on the model, between visitors
_stops: dict[str, float] = {}                # visitor -> when they last asked to stop their request
_stops_lock = threading.Lock()               # several visitors press Stop at once
_datasets = DatasetCache(settings.dataset_cache_bytes(), settings.dataset_idle_s())  # (source, label, local) keys
_uploads: OrderedDict = OrderedDict()        # paths of files this app received as uploads (the latest 10,000)
_uploads_lock = threading.Lock()
_owners: OrderedDict = OrderedDict()         # page session -> its browser's secret (owns its runs on public apps)
_owners_lock = threading.Lock()
_visitors: OrderedDict = OrderedDict()       # page session -> {"model", "models" (picked), "lang"}
_visitors_lock = threading.Lock()


def configure(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto") -> AppConfig:
    """Set the process-wide settings (called once by `launch`/`build_app`). `allow_training=None` follows
    `settings.training_allowed()`; False turns training off whatever the environment says."""
    CONFIG.model_id = model_id or settings.served_model()
    CONFIG.allow_training = allow_training is not False and settings.training_allowed()
    CONFIG.device = device
    CONFIG.allow_local_files = settings.local_files_allowed()
    _datasets.max_bytes, _datasets.idle_seconds = settings.dataset_cache_bytes(), settings.dataset_idle_s()
    stop_model()  # a model process of an earlier configuration would score with the wrong model
    with _visitors_lock:
        _visitors.clear()  # models picked under an earlier configuration may not be allowed under this one
    return CONFIG


def model_id() -> str:
    return CONFIG.model_id or DEFAULT_MODEL


def start_model() -> None:
    """Start loading the model now, so that the first preview does not wait for it: in a process of its own
    (`ModelProcess`: it loads on another core while this process imports gradio and serves pages), or, on a
    ZeroGPU Space, which lends its GPU to this process only, in a background thread here."""
    global _scorer
    stop_model()
    if settings.zero_gpu():
        threading.Thread(target=_warm_up_here, name="promptlab-preload", daemon=True).start()
    else:
        _scorer = ModelProcess(model_id(), CONFIG.device, settings.model_memory_mb())


def stop_model() -> None:
    """Stop the model process, if one runs (scoring then loads the model in this process on first use)."""
    global _scorer
    if _scorer is not None:
        _scorer.close()
        _scorer = None


def _warm_up_here() -> None:
    try:
        _local.warm_up(model_id())
    except Exception:  # the first model-bound event will report it readably
        log.exception("preloading the model failed")


def score(template, rows, protocol=None, *, visitor: str = "local", budget: Budget | None = None,
          adapter: str | None = None, progress=None, model: str | None = None, notes: list | None = None,
          **options):
    """`experiment.score_template` here, with `model` (None: the one `visitor` picked, `model_for`) plus `adapter`
    as a `SharedLM` for `visitor`. `budget`: the request's share of model time (one Budget may span several calls,
    e.g. a whole comparison); None: a new one, `request_budget()`. Models unloaded to make room go to `notes`, or,
    without a list, to the visitor as a toast. `options`: score_template's keyword arguments (pool, label_column)."""
    from promptlab.scoring.experiment import ZERO_SHOT, score_template

    lm = shared_lm(model or model_for(visitor), visitor, budget, adapter)
    try:
        with render_budget(RENDER_SECONDS):  # rendering, like model time, is bounded per request
            return score_template(lm, template, rows, protocol or ZERO_SHOT, progress=progress, **options)
    finally:
        if notes is not None:
            notes.extend(lm.notes)
        else:
            tell(lm.notes, visitor)


def shared_lm(model: str, visitor: str = "local", budget: Budget | None = None, adapter: str | None = None):
    """`model` (plus `adapter`) as the app scores with it for `visitor`: a SharedLM on the model process (or this
    process), taking turns with other visitors, within `budget` (None: a new `request_budget()`), stoppable."""
    started = time.time()
    return SharedLM(_scorer or _local, model, adapter=adapter, visitor=visitor, share=_share,
                    budget=budget or request_budget(),
                    threads=1 if slots_in_use(settings.runs_dir()) else 0,  # a job trains here: keep off its cores
                    cancelled=lambda: _stops.get(visitor, 0.0) > started)


def request_budget() -> Budget:
    """A request's share of model time: `settings.request_seconds()` (unlimited when 0)."""
    return Budget(settings.request_seconds() or None)


def stop_request(request: gr.Request = None) -> None:
    """A Stop button's handler: the visitor's preview or comparison ends before its next model call."""
    stop(visitor(request))


def stop(visitor: str) -> None:
    """Stop `visitor`'s requests in flight (they end before their next model call, or while waiting for one)."""
    now = time.time()
    with _stops_lock:
        for old in [v for v, when in _stops.items() if now - when > 3600]:  # visitors come and go
            _stops.pop(old, None)
        _stops[visitor] = now


def get_dataset(source: str, label_column: str | None = None, *, of_a_run: bool = False):
    """A loaded dataset, shared by every visitor that picks the same source (datasets are never mutated). Read in a
    bounded child process (`load_untrusted`); a server path only where typed paths are allowed, it is an upload, or
    it is the recorded source of a run (`of_a_run`: accepted when the run was created)."""
    source = str(source)
    local_files = CONFIG.allow_local_files or source in _uploads or of_a_run
    check_source(source, local_files=local_files)  # before the cache: what may not be read is never served from it
    key = (source, label_column or None, local_files)
    return _datasets.get(key, lambda: load_untrusted(source, key[1], local_files=local_files))


def remember_upload(path: str) -> None:
    """Mark `path` as a file this app received as an upload: readable even where typed paths are not."""
    with _uploads_lock:
        _uploads[str(path)] = True
        while len(_uploads) > 10_000:
            _uploads.popitem(last=False)


def on_gpu(fn):
    """On a ZeroGPU Space, borrow a GPU for the call; elsewhere `fn` as is."""
    if not settings.zero_gpu():
        return fn
    import spaces

    return spaces.GPU(duration=120)(fn)


def library(owner: str | None = None) -> dict[str, Template]:
    """The templates `owner` (`owner_of`) can use, by name: the shipped ones and their own saved ones."""
    return user_library.templates(owner)


# ---- the visitor's data selection (a small dict in a gr.State; the Dataset itself is in the shared cache) ----

def dataset_of(sel: dict | None):
    """The selection's Dataset (from the shared cache), with its validation split held out where it has one."""
    if not sel:
        raise PageError("data.none_loaded")
    return with_holdout(get_dataset(sel["source"], sel.get("label_column")), sel.get("holdout"))


def eval_rows(sel: dict, n: int | None = None) -> list[dict]:
    """The eval rows every tab scores (`data.sampling.evaluation_rows`), so tabs, runs and the CLI agree."""
    return evaluation_rows(dataset_of(sel).rows(sel["eval"]), int(n or sel["eval_size"]))


def demonstrations(sel: dict) -> list[dict]:
    """The rows demonstrations are drawn from (`data.sampling.demonstration_pool` of the train split)."""
    return demonstration_pool(dataset_of(sel).rows(sel["train"]), sel.get("label_column"))


def visitor(request) -> str:
    """Who is asking: the gradio session of `request` ("local" when a handler is called directly)."""
    return getattr(request, "session_hash", None) or "local"


def remember_owner(secret: str | None, request: gr.Request = None) -> str:
    """On page load: the browser's secret (kept in its local storage; a new one for a first visit), remembered for
    this page's session. On a public app it owns the visitor's runs: they see and change only their own."""
    if not (isinstance(secret, str) and 20 <= len(secret) <= 100):
        secret = secrets.token_urlsafe(24)
    with _owners_lock:
        _owners[visitor(request)] = secret
        while len(_owners) > 10_000:
            _owners.popitem(last=False)
    return secret


def owner_of(request) -> str | None:
    """The owner token the run store gets for this request: None on a private app (everyone's runs), else the
    page's browser secret (the session itself until the page has said it)."""
    if not settings.public():
        return None
    with _owners_lock:
        return _owners.get(visitor(request)) or f"session-{visitor(request)}"


# ---- models a visitor may pick ----

def offered_models() -> list[str]:
    """What every visitor may pick: the served model, the registry's (installed or not) and the operator's
    ($PROMPTLAB_MODELS). On a public app the only choices."""
    return list(dict.fromkeys([model_id(), *BUNDLED, *settings.offered_models()]))


def may_type_models() -> bool:
    """May a visitor type a model (a server folder where typed paths are allowed, a hub id)? Not on a public app."""
    return not settings.public()


def model_choices(visitor_id: str = "local") -> list[str]:
    """The models to list for a visitor: those offered, then the ones they typed and loaded on this page."""
    return list(dict.fromkeys(offered_models() + _visitor(visitor_id).get("models", [])))


def check_model(model: str | None, lang: str = "en") -> str:
    """`model` (trimmed) when this app lets a visitor score with it, else a PageError saying why (said in the page's
    language wherever it is shown, also after a language switch)."""
    model = (model or "").strip()
    if not model:
        raise PageError("models.empty")
    if model in BUNDLED and not bundled_available(model):
        raise PageError("models.not_installed", model=model, hint=BUNDLED[model].install_hint)
    if model in offered_models():
        return model
    if not may_type_models():
        raise PageError("models.not_offered", model=model, offered=", ".join(offered_models()))
    if is_path(model) and not CONFIG.allow_local_files:
        raise PageError("models.no_paths")
    return model


def is_path(model: str) -> bool:
    """Does `model` name a server file or folder (as `registry.resolve_model` reads it) rather than a hub id?"""
    return model.startswith((".", "/", "~")) or Path(model).expanduser().exists() or model.endswith(".gguf")


def model_label(model: str) -> str:
    """A model's short name for tables and charts: a folder's own name, else the id."""
    return Path(model).name if is_path(model) else model


def family_of(model: str) -> str:
    """A model's family ("causal", "seq2seq", "masked") from its config alone: nothing is loaded."""
    return model_family(model)


def load_model(model: str | None, visitor_id: str, lang: str) -> dict:
    """Check `model` may be used (`check_model`), load it in the model process (a turn on it, like any call) and
    make it the visitor's model. Returns the process's `load` answer (family, bytes, budget, loaded) plus "model" and
    "notes" (models unloaded to make room for it)."""
    model = check_model(model, lang)
    family_of(model)  # a folder without config.json, or no language model: said before anything loads
    notes: list = []
    with _share.turn(visitor_id):
        answer = (_scorer or _local).call(Call("load", model), notes)
    with _visitors_lock:
        entry = _visitor_entry(visitor_id)
        entry["model"] = model
        if model not in offered_models() and model not in entry["models"]:
            entry["models"].append(model)
    return {**answer, "model": model, "notes": notes}


def model_for(visitor_id: str) -> str:
    """The model a visitor scores with: the one they picked, else the served one."""
    return _visitor(visitor_id).get("model") or model_id()


def remember_language(lang: str, request: gr.Request = None) -> None:
    """The page's language, for messages that reach a visitor outside their own handler's outputs (`tell`)."""
    with _visitors_lock:
        _visitor_entry(visitor(request))["lang"] = lang


def tell(notes: list, visitor_id: str) -> None:
    """Show each note (a model unloaded to make room) to the visitor as a toast, in their language."""
    lang = _visitor(visitor_id).get("lang", "en")
    for note in notes:
        gr.Info(unloaded_text(note, lang), title=t("warning.title", lang))


def unloaded_text(note, lang: str, escape=html_text) -> str:
    """An `Unloaded` note in words: "Unloaded X to make room for Y.". Model names are outside text: `escape` makes
    them text where the message goes (html_text for toasts, md_text for markdown)."""
    return t("models.unloaded", lang, old=escape(model_label(note.model)), new=escape(model_label(note.for_model)))


def _visitor(visitor_id: str) -> dict:
    with _visitors_lock:
        return dict(_visitors.get(visitor_id) or {})


def _visitor_entry(visitor_id: str) -> dict:
    """The visitor's entry, made when new (callers hold `_visitors_lock`); the 10,000 most recent are kept."""
    entry = _visitors.setdefault(visitor_id, {"models": []})
    _visitors.move_to_end(visitor_id)
    while len(_visitors) > 10_000:
        _visitors.popitem(last=False)
    return entry
