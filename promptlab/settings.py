"""Where PromptLab keeps things on disk, overridable by environment variables.

Every path is resolved when asked for (not at import), so tests can point a variable at a temp dir.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    """The shipped template library (`templates/` beside the package), or $PROMPTLAB_TEMPLATES."""
    return Path(os.environ.get("PROMPTLAB_TEMPLATES", REPO_ROOT / "templates"))


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
