"""Every environment switch PromptLab reads, in one place: paths, the Hub, and what a shared server allows.

Each value is read when asked for (not at import), so tests can point a variable at a temp dir.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def switch(name: str, default: bool) -> bool:
    """An on/off variable (1/true/yes/on, 0/false/no/off, any case); `default` when unset or unrecognised.

    >>> switch("PROMPTLAB_NOT_SET_ANYWHERE", True)
    True
    """
    value = os.environ.get(name, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return default


# ---- paths --------------------------------------------------------------------------------------------------------

def templates_dir() -> Path:
    """The shipped template library (`templates/` beside the package), or $PROMPTLAB_TEMPLATES."""
    return Path(os.environ.get("PROMPTLAB_TEMPLATES", REPO_ROOT / "templates"))


def user_templates_dir() -> Path:
    """Where saved and imported templates go (the shipped library is read-only): $PROMPTLAB_USER_TEMPLATES, else
    `templates/` in the cache dir. On a public app each visitor has a folder of their own inside it."""
    return Path(os.environ.get("PROMPTLAB_USER_TEMPLATES", cache_dir() / "templates"))


def runs_dir() -> Path:
    """Where tuning runs live: $PROMPTLAB_RUNS, else `runs/` in the current directory."""
    return Path(os.environ.get("PROMPTLAB_RUNS", "runs")).resolve()


def cache_dir() -> Path:
    """Converted model cache: $PROMPTLAB_CACHE, else ~/.cache/promptlab."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "promptlab"
    return Path(os.environ.get("PROMPTLAB_CACHE", default))


def shared_datasets_dir() -> Path | None:
    """`../shared/datasets` beside the checkout, used by tests and benchmarks only (never by the app)."""
    path = Path(os.environ.get("PROMPTLAB_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
    return path if path.is_dir() else None


def promptsource_dir() -> Path | None:
    """PromptSource's own source and templates (its PyPI sdist, unpacked by `scripts/install.sh --test`), used by
    tests only: $PROMPTLAB_PROMPTSOURCE, else `share/promptsource` in the Python environment."""
    path = Path(os.environ.get("PROMPTLAB_PROMPTSOURCE", Path(sys.prefix) / "share" / "promptsource"))
    return path if (path / "promptsource" / "templates.py").is_file() else None


# ---- the Hugging Face Hub -----------------------------------------------------------------------------------------

def hub_offline() -> bool:
    """Is the Hub switched off (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)? Then only local caches are read."""
    return switch("HF_HUB_OFFLINE", False) or switch("HF_DATASETS_OFFLINE", False)


def hub_endpoint() -> str:
    """The Hub's address: $HF_ENDPOINT (a mirror), else https://huggingface.co."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


# ---- what a served app allows ---------------------------------------------------------------------------------------

def language() -> str:
    """The language of the command line's messages: "en", or "zh" with PROMPTLAB_LANG=zh (the web app follows each
    visitor's choice instead)."""
    return "zh" if os.environ.get("PROMPTLAB_LANG", "").strip().lower().startswith("zh") else "en"


def on_space() -> bool:
    """Running as a Hugging Face Space (SPACE_ID is set there)."""
    return bool(os.environ.get("SPACE_ID"))


def public() -> bool:
    """Serving strangers: on a Space unless PROMPTLAB_PUBLIC=0, or anywhere with PROMPTLAB_PUBLIC=1. A public app
    shows each visitor only their own runs and bounds every visitor's share of the model."""
    return switch("PROMPTLAB_PUBLIC", on_space())


def browser_secret() -> str | None:
    """$PROMPTLAB_SECRET: the key that encrypts each browser's owner token (else one made once in the runs folder;
    set it when several servers share one runs folder)."""
    return os.environ.get("PROMPTLAB_SECRET") or None


def training_allowed() -> bool:
    """Soft-prompt tuning jobs: on, except on a public app (a Space, PROMPTLAB_PUBLIC=1, `serve --share`) without
    PROMPTLAB_ALLOW_TRAINING=1 (strangers should not each get a CPU- or GPU-hungry background job);
    PROMPTLAB_ALLOW_TRAINING=0 turns them off anywhere."""
    return switch("PROMPTLAB_ALLOW_TRAINING", not public())


def local_files_allowed() -> bool:
    """May a visitor type a server path (file or folder) in the Data tab? Yes on a private app; not on a public
    one, where any visitor could read the server's files, unless PROMPTLAB_ALLOW_LOCAL_FILES=1."""
    return switch("PROMPTLAB_ALLOW_LOCAL_FILES", not public())


def zero_gpu() -> bool:
    """Running on a ZeroGPU Space (the `spaces` package is installed there), which lends its GPU per call."""
    return on_space() and importlib.util.find_spec("spaces") is not None


def request_seconds() -> float:
    """Model seconds one request may use ($PROMPTLAB_REQUEST_SECONDS; 0 = no limit). Default: 120 on a public app,
    where one model serves every visitor, unlimited otherwise."""
    return max(0.0, _float("PROMPTLAB_REQUEST_SECONDS", 120.0 if public() else 0.0))


def served_model() -> str | None:
    """The model the app serves: $PROMPTLAB_MODEL, else None (the registry's default)."""
    return os.environ.get("PROMPTLAB_MODEL") or None


def offered_models() -> list[str]:
    """Models the operator offers visitors beside the registry's and the served one ($PROMPTLAB_MODELS: registry
    names, hub ids or server folders, separated by commas). On a public app these are the only other choices."""
    return [m.strip() for m in os.environ.get("PROMPTLAB_MODELS", "").split(",") if m.strip()]


def model_memory_mb() -> float:
    """Memory the loaded models may take together, in MB ($PROMPTLAB_MODEL_MEMORY_MB, default 4000; 0: no limit).
    A model that does not fit makes the least recently used ones unload; one that alone exceeds it is refused."""
    return max(0.0, _finite("PROMPTLAB_MODEL_MEMORY_MB", 4000.0))


# ---- reading data on a visitor's behalf --------------------------------------------------------------------------

def data_max_cells() -> int:
    """How many cells (rows x columns; each value inside a nested cell counts too) one dataset may hold once read
    ($PROMPTLAB_DATA_MAX_CELLS, default 10 million: SST-2 has 200 thousand)."""
    return max(1, _int("PROMPTLAB_DATA_MAX_CELLS", 10_000_000))


def data_max_bytes() -> int:
    """How many bytes one dataset may hold once decompressed and decoded ($PROMPTLAB_DATA_MAX_MB, default 500): a
    small compressed Parquet file can expand a thousandfold."""
    return max(1, int(_finite("PROMPTLAB_DATA_MAX_MB", 500.0) * 1_000_000))


def data_memory_bytes() -> int:
    """Memory a process reading untrusted data may use beyond its start ($PROMPTLAB_DATA_MEMORY_MB, default 4000):
    the backstop when a file expands beyond what its reader can foresee."""
    return max(1, int(_finite("PROMPTLAB_DATA_MEMORY_MB", 4000.0) * 1_000_000))


def data_timeout_s() -> float:
    """Seconds a read of untrusted data (file, folder or Hub download) may take ($PROMPTLAB_DATA_TIMEOUT_S, default
    180)."""
    return max(0.1, _finite("PROMPTLAB_DATA_TIMEOUT_S", 180.0))


def dataset_cache_bytes() -> int:
    """Memory the app's shared cache of loaded datasets may hold ($PROMPTLAB_DATASET_CACHE_MB, default 2000)."""
    return max(1, int(_finite("PROMPTLAB_DATASET_CACHE_MB", 2000.0) * 1_000_000))


def dataset_idle_s() -> float:
    """A loaded dataset nobody used for this long is dropped from the app's cache ($PROMPTLAB_DATASET_IDLE_S,
    default 1800: half an hour)."""
    return max(1.0, _finite("PROMPTLAB_DATASET_IDLE_S", 1800.0))


# ---- jobs ---------------------------------------------------------------------------------------------------------

def runs_per_visitor() -> int:
    """How many runs one visitor of a public app may have queued or running at once ($PROMPTLAB_RUNS_PER_VISITOR,
    default 2)."""
    return max(1, _int("PROMPTLAB_RUNS_PER_VISITOR", 2))


def max_jobs() -> int:
    """How many runs train at once ($PROMPTLAB_MAX_JOBS, default 1: one job per device)."""
    return max(1, _int("PROMPTLAB_MAX_JOBS", 1))


def cancel_grace_s() -> float:
    """Seconds a worker gets to stop by itself before it is killed ($PROMPTLAB_CANCEL_GRACE, default 30)."""
    return _float("PROMPTLAB_CANCEL_GRACE", 30.0)


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _finite(name: str, default: float) -> float:
    """A float variable; `default` when unset, unreadable, NaN or infinite (a limit must be a number)."""
    value = _float(name, default)
    return value if math.isfinite(value) else default
