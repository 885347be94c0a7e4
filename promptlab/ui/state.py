"""What the web app shares across visitors: its settings, the loaded model(s) and the loaded datasets.

Gradio runs one Python process for every visitor, so module-level values here are shared by all of them, while each
visitor's drafts live in the page's components and `gr.State`s (which never hold a model). The launched app keeps
its model in a process of its own (`start_model`), loaded once. Scoring runs here, with the engine's own scorer, on a
`SharedLM`: its model calls are short and take turns between visitors (`FairShare`), each request has a budget of
model time on a public server, and a visitor can stop their request (`stop`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr

from promptlab import settings
from promptlab.data.bounded import check_source, load_untrusted
from promptlab.data.cache import DatasetCache
from promptlab.data.sampling import demonstration_pool, evaluation_rows
from promptlab.data.splits import with_holdout
from promptlab.models.loaded import LocalModels
from promptlab.models.process import ModelProcess
from promptlab.models.registry import DEFAULT_MODEL
from promptlab.models.shared import Budget, FairShare, SharedLM
from promptlab.prompts import library as user_library
from promptlab.prompts.budget import render_budget
from promptlab.prompts.values import Template
from promptlab.runs.queue import slots_in_use

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
_datasets = DatasetCache(settings.dataset_cache_bytes(), settings.dataset_idle_s())  # (source, label, local) keys
_uploads: OrderedDict = OrderedDict()        # paths of files this app received as uploads (the latest 10,000)
_uploads_lock = threading.Lock()
_owners: OrderedDict = OrderedDict()         # page session -> its browser's secret (owns its runs on public apps)
_owners_lock = threading.Lock()


def configure(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto") -> AppConfig:
    """Set the process-wide settings (called once by `launch`/`build_app`). `allow_training=None` follows
    `settings.training_allowed()`; False turns training off whatever the environment says."""
    CONFIG.model_id = model_id or settings.served_model()
    CONFIG.allow_training = allow_training is not False and settings.training_allowed()
    CONFIG.device = device
    CONFIG.allow_local_files = settings.local_files_allowed()
    _datasets.max_bytes, _datasets.idle_seconds = settings.dataset_cache_bytes(), settings.dataset_idle_s()
    stop_model()  # a model process of an earlier configuration would score with the wrong model
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
        _scorer = ModelProcess(model_id(), CONFIG.device)


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
          adapter: str | None = None, progress=None, **options):
    """`experiment.score_template` here, with the shared model (plus `adapter`) as a `SharedLM` for `visitor`.
    `budget`: the request's share of model time (one Budget may span several calls, e.g. a whole comparison);
    None: a new one, `request_budget()`. `options`: score_template's keyword arguments (pool, label_column)."""
    from promptlab.scoring.experiment import ZERO_SHOT, score_template

    started = time.time()
    lm = SharedLM(_scorer or _local, model_id(), adapter=adapter, visitor=visitor, share=_share,
                  budget=budget or request_budget(),
                  threads=1 if slots_in_use(settings.runs_dir()) else 0,  # a job trains here: keep off its cores
                  cancelled=lambda: _stops.get(visitor, 0.0) > started)
    with render_budget(RENDER_SECONDS):  # rendering, like model time, is bounded per request
        return score_template(lm, template, rows, protocol or ZERO_SHOT, progress=progress, **options)


def request_budget() -> Budget:
    """A request's share of model time: `settings.request_seconds()` (unlimited when 0)."""
    return Budget(settings.request_seconds() or None)


def stop_request(request: gr.Request = None) -> None:
    """A Stop button's handler: the visitor's preview or comparison ends before its next model call."""
    stop(visitor(request))


def stop(visitor: str) -> None:
    """Stop `visitor`'s requests in flight (they end before their next model call, or while waiting for one)."""
    now = time.time()
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
        raise ValueError("No data loaded yet: pick a task in the Data tab first.")
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
