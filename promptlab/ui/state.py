"""What the web app shares across visitors: its settings, the loaded model(s) and the loaded datasets.

Gradio runs one Python process for every visitor, so module-level values here are shared by all of them, while each
visitor's drafts live in the page's components and `gr.State`s (which never hold a model). The launched app scores
in a model process of its own (`start_model`); the model is loaded once, and every model-bound event is queued
under one concurrency id (`MODEL_QUEUE`, limit 1), so visitors take turns on the device instead of racing on it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from promptlab.model_cache import DEFAULT_MODEL
from promptlab.model_process import LoadedModels, ModelProcess

log = logging.getLogger("promptlab.ui")

# Every event that runs the model joins this queue (one at a time). The app holds one model on one device, so one
# queue is "per device"; a process that served several devices would key this by device.
MODEL_QUEUE = "model"


@dataclass
class AppConfig:
    """Process-wide settings of the running app, fixed at launch."""

    model_id: str | None = None          # None: the engine's default (the bundled SmolLM2)
    allow_training: bool = True
    device: str = "auto"
    allow_local_files: bool = True       # typed server paths in the Data tab (off on a public Space)


CONFIG = AppConfig()
_models = LoadedModels()                     # used when no model process runs (ZeroGPU, tests, embedding)
_scorer: ModelProcess | None = None          # the model process `start_model` started
_datasets: OrderedDict = OrderedDict()       # (source, label_column) -> Dataset
_MAX_DATASETS = 8
_cache_lock = threading.Lock()


def configure(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto") -> AppConfig:
    """Set the process-wide settings (called once by `launch`/`build_app`)."""
    CONFIG.model_id = model_id or os.environ.get("PROMPTLAB_MODEL") or None
    CONFIG.allow_training = training_allowed(allow_training)
    CONFIG.device = device
    CONFIG.allow_local_files = local_files_allowed()
    stop_model()  # a model process of an earlier configuration would score with the wrong model
    return CONFIG


def local_files_allowed() -> bool:
    """May a visitor type a server path (file or folder) in the Data tab? Yes locally; not on a Hugging Face Space
    (SPACE_ID is set there), where any visitor could read the server's files, unless PROMPTLAB_ALLOW_LOCAL_FILES=1.
    Uploads, the demo tasks and Hub dataset names always work."""
    return _switch("PROMPTLAB_ALLOW_LOCAL_FILES", default=not os.environ.get("SPACE_ID"))


def training_allowed(explicit: bool | None = None) -> bool:
    """Training is on unless turned off: explicitly, by PROMPTLAB_ALLOW_TRAINING=0, or by running on a public
    Hugging Face Space (SPACE_ID is set there) without PROMPTLAB_ALLOW_TRAINING=1 - a public Space should not hand
    every visitor a GPU-hungry background job."""
    if explicit is False:
        return False
    return _switch("PROMPTLAB_ALLOW_TRAINING", default=not os.environ.get("SPACE_ID"))


def _switch(name: str, default: bool) -> bool:
    """An on/off environment variable (1/true/yes/on, 0/false/no/off); `default` when unset or unrecognised."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return default


def model_id() -> str:
    return CONFIG.model_id or DEFAULT_MODEL


def start_model() -> None:
    """Start loading the model now, so that the first preview does not wait for it: in a process of its own
    (`ModelProcess`: it loads on another core while this process imports gradio and serves pages), or, on a
    ZeroGPU Space, which lends its GPU to this process only, in a background thread here."""
    global _scorer
    stop_model()
    if zero_gpu():
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
        _models.warm_up(model_id(), CONFIG.device)
    except Exception:  # the first model-bound event will report it readably
        log.exception("preloading the model failed")


def score(template, rows, *, adapter: str | None = None, progress=None, **options):
    """`experiment.score_template` with the shared model (plus `adapter`): in the model process when one runs,
    else here, loading the model on first use. `options` are score_template's keyword arguments."""
    if _scorer is not None:
        return _scorer.score(template, rows, adapter=adapter, progress=progress, **options)
    from promptlab.experiment import score_template  # imports torch: kept out of the app's start

    lm = _models.get(model_id(), adapter, CONFIG.device)
    return score_template(lm, template, rows, progress=progress, **options)


def get_dataset(source: str, label_column: str | None = None):
    """A loaded dataset, shared by every visitor that picks the same source (datasets are never mutated)."""
    key = (str(source), label_column or None)
    with _cache_lock:
        if key in _datasets:
            _datasets.move_to_end(key)
            return _datasets[key]
    from promptlab import data

    dataset = data.load_dataset(key[0], label_column=key[1])
    with _cache_lock:
        _datasets[key] = dataset
        while len(_datasets) > _MAX_DATASETS:
            _datasets.popitem(last=False)
    return dataset


def zero_gpu() -> bool:
    """Running on a ZeroGPU Space (the `spaces` package is installed there, SPACE_ID set)?"""
    return bool(os.environ.get("SPACE_ID")) and importlib.util.find_spec("spaces") is not None


def on_gpu(fn):
    """On a ZeroGPU Space, borrow a GPU for the call; elsewhere `fn` as is."""
    if not zero_gpu():
        return fn
    import spaces

    return spaces.GPU(duration=120)(fn)
