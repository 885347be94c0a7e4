"""Soft-prompt tuning: config (TuneConfig), training loop, job worker, export.

Importing this package (or `config`, `spec`, `export`) does not import torch, so `promptlab.jobs` and the web app
can validate and list runs cheaply; only `loop`, `model` and `worker` need torch.
"""

from promptlab.tuning.config import METHODS, PRESETS, TuneConfig, preset

__all__ = ["METHODS", "PRESETS", "TuneConfig", "preset"]
