"""What the web app shares across visitors: its settings, the loaded model(s) and the loaded datasets.

Gradio runs one Python process for every visitor, so module-level values here are shared by all of them, while each
visitor's drafts live in the page's components and `gr.State`s (which never hold a model). The model is loaded
lazily, once per process, and every model-bound event is queued under one concurrency id (`MODEL_QUEUE`, limit 1),
so visitors take turns on the device instead of racing on it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


CONFIG = AppConfig()
_lms: OrderedDict = OrderedDict()            # (model_id, adapter) -> LM, most recently used last
_MAX_LMS = 2                                 # the base model plus one soft-prompted copy
_datasets: OrderedDict = OrderedDict()       # (source, label_column) -> Dataset
_MAX_DATASETS = 8
_cache_lock = threading.Lock()


def configure(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto") -> AppConfig:
    """Set the process-wide settings (called once by `launch`/`build_app`)."""
    CONFIG.model_id = model_id or os.environ.get("PROMPTLAB_MODEL") or None
    CONFIG.allow_training = training_allowed(allow_training)
    CONFIG.device = device
    CONFIG.allow_local_files = local_files_allowed()
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
    from promptlab import models

    return CONFIG.model_id or models.DEFAULT_MODEL


def get_lm(adapter: str | None = None):
    """The shared LM (optionally with a soft-prompt adapter), loaded on first use and kept for later events."""
    key = (model_id(), str(adapter) if adapter else None)
    with _cache_lock:
        if key in _lms:
            _lms.move_to_end(key)
            return _lms[key]
    # Loading takes seconds: hold only the load lock, so dataset look-ups of other visitors go on meanwhile.
    with CONFIG.lock:
        with _cache_lock:
            if key in _lms:
                return _lms[key]
        from promptlab import models

        log.info("loading model %s (adapter %s)", key[0], key[1])
        lm = models.load_lm(key[0], adapter=key[1], device=CONFIG.device)
        with _cache_lock:
            _lms[key] = lm
            while len(_lms) > _MAX_LMS:
                _lms.popitem(last=False)
        return lm


def loaded_lm():
    """The base LM if it is already loaded, else None (never loads)."""
    with _cache_lock:
        return _lms.get((model_id(), None))


def preload_in_background() -> threading.Thread:
    """Start loading the base model now, so the first preview does not pay for it."""

    def load():
        try:
            from promptlab.models import Request

            # One tiny forward too: the first forward pays one-time costs (allocations, kernel choice).
            get_lm().loglikelihood([Request("Review: fine.\nSentiment:", " positive")])
        except Exception:  # the first model-bound event will report it readably
            log.exception("preloading the model failed")

    thread = threading.Thread(target=load, name="promptlab-preload", daemon=True)
    thread.start()
    return thread


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


def on_gpu(fn):
    """On a ZeroGPU Space (the `spaces` package is installed there), borrow a GPU for the call; elsewhere as is."""
    try:
        import spaces  # only present on Hugging Face Spaces
    except ImportError:
        return fn
    if not os.environ.get("SPACE_ID"):
        return fn
    return spaces.GPU(duration=120)(fn)
