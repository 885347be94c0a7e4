"""Loaded language models, kept for reuse within a memory budget, and the one function that answers an LM call.

`LoadedModels.answer(call)` is what runs wherever the models live: in the web app's model process
(`promptlab.models.process`), or in the calling process itself (`LocalModels`: a ZeroGPU Space, which lends its GPU
to the main process only; tests; an app embedded with `build_app`). Either way callers reach it through
`promptlab.models.shared.SharedLM`, which cuts work into short calls and shares the model fairly.

Several models stay loaded while their weights fit in the budget (`settings.model_memory_mb`): a model that does
not fit makes the least recently used ones unload, and each unloading is told to the caller as an `Unloaded` note
(the app shows "Unloaded X to make room for Y"); a model that alone exceeds the budget is refused before it loads.
A model's size is estimated before loading from its safetensors headers (values x the bytes of the dtype it will
load in; no tensor is read), and measured once it is loaded.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptlab import settings
from promptlab.messages import UserError

if TYPE_CHECKING:
    from promptlab.models.lm import LM

log = logging.getLogger("promptlab.models")

METHODS = ("loglikelihood", "generate", "wrap_chat", "describe", "load")
MB = 1_000_000


@dataclass(frozen=True)
class Call:
    """One LM call: `method` on the model `model_id` (plus `adapter`), with its arguments.

    loglikelihood: args=(requests,) -> list[LogLikelihood]; generate: args=(prompts,), kwargs max_new_tokens, stop
    -> list[str]; wrap_chat: args=(prompts,) -> list[str]; describe: () -> {"name", "family", "mask_token"};
    load: () -> describe's answer plus "bytes" (this model's), "budget" (bytes, None: no limit) and "loaded"
    ([model, adapter, bytes] of every loaded model, the least recently used first).
    `threads`: torch CPU threads for this call (0: every core)."""

    method: str
    model_id: str
    adapter: str | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    threads: int = 0


@dataclass(frozen=True)
class Unloaded:
    """A note for the caller: `model` was unloaded to make room for `for_model` (both as named in calls)."""

    model: str
    for_model: str

    def __str__(self) -> str:
        return f"Unloaded {self.model} to make room for {self.for_model}."


def weights_bytes(folder: str | Path, itemsize: int = 4) -> int:
    """Memory a model folder's weights take once loaded at `itemsize` bytes per value, from its safetensors headers
    (shapes only, no tensor is read); without safetensors files, the size of its PyTorch .bin files (fp32 values)
    scaled to `itemsize`. 0 when the folder has neither."""
    folder = Path(folder)
    tensors = sorted(folder.glob("*.safetensors"))
    if tensors:
        return sum(_values(path) for path in tensors) * itemsize
    return sum(path.stat().st_size for path in folder.glob("*.bin")) * itemsize // 4


def _values(path: Path) -> int:
    """How many values the tensors of one safetensors file hold (its header: 8 bytes of length, then JSON); a file
    whose header cannot be read counts by its size (as fp32 values: loading it will say what is wrong)."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if not 0 < length <= 100 * MB:
                raise ValueError("not a safetensors header")
            header = json.loads(f.read(length))
        return sum(math.prod(int(d) for d in info.get("shape", ())) for name, info in header.items()
                   if name != "__metadata__")
    except (OSError, ValueError, TypeError, AttributeError, struct.error):
        return path.stat().st_size // 4


def megabytes(n: int) -> str:
    """Bytes as megabytes for people: whole ones, or two significant digits below 10.

    >>> megabytes(540_123_456), megabytes(390_912)
    ('540', '0.39')
    """
    return f"{n / MB:,.0f}" if n >= 10 * MB else f"{n / MB:.2g}"


def _label(key: tuple[str, str | None]) -> str:
    model_id, adapter = key
    return model_id if adapter is None else f"{model_id} + {Path(adapter).name}"


class LoadedModels:
    """Language models by (model, adapter), loaded on first use and kept while they fit in `memory_mb` (None: the
    `settings.model_memory_mb()` of the moment; 0: no limit). Thread-safe: a caller that wants a model being loaded
    waits for that load instead of starting a second one."""

    def __init__(self, device: str = "auto", memory_mb: float | None = None):
        self.device, self.memory_mb = device, memory_mb
        self._lms: OrderedDict = OrderedDict()  # (model, adapter) -> LM, the least recently used first
        self._bytes: dict = {}  # (model, adapter) -> its measured size
        self._lock = threading.Lock()
        self._every_core: int | None = None

    @property
    def budget(self) -> int | None:
        """The budget in bytes (None: no limit)."""
        mb = settings.model_memory_mb() if self.memory_mb is None else self.memory_mb
        return int(mb * MB) if mb else None

    def get(self, model_id: str, adapter: str | None = None, notes: list | None = None) -> LM:
        """The LM for (model, adapter), loading it if needed; models unloaded to make room are added to `notes` as
        `Unloaded`. Raises a ValueError when the model alone exceeds the budget."""
        key = (model_id, str(adapter) if adapter else None)
        with self._lock:
            if key not in self._lms:
                from promptlab.models.lm import load_lm

                needed = self._estimate(model_id)
                self._refuse_too_big(key, needed)
                self._make_room(key, needed, notes)
                log.info("loading model %s (adapter %s, about %s MB)", model_id, key[1], megabytes(needed))
                self._lms[key] = load_lm(model_id, adapter=key[1], device=self.device)
                self._bytes[key] = _measured(self._lms[key])
                self._make_room(key, 0, notes)  # it measured more than estimated: others make room
            self._lms.move_to_end(key)
            return self._lms[key]

    def loaded(self) -> list[list]:
        """[model, adapter, bytes] of every loaded model, the least recently used first."""
        return [[model, adapter, self._bytes.get((model, adapter), 0)] for model, adapter in self._lms]

    def _estimate(self, model_id: str) -> int:
        import torch

        from promptlab.models.lm import pick_device, pick_dtype
        from promptlab.models.registry import resolve_model

        itemsize = torch.empty((), dtype=pick_dtype(pick_device(self.device))).element_size()
        return weights_bytes(resolve_model(model_id), itemsize)

    def _refuse_too_big(self, key, needed: int) -> None:
        budget = self.budget
        if budget and needed > budget:
            raise UserError("model.over_budget", model=_label(key), needed=megabytes(needed), budget=megabytes(budget))

    def _make_room(self, key, needed: int, notes: list | None) -> None:
        """Unload the least recently used other models until `needed` more bytes fit in the budget."""
        budget = self.budget
        freed = False
        while budget and sum(self._bytes[k] for k in self._lms) + needed > budget:
            old = next((k for k in self._lms if k != key), None)
            if old is None:
                break
            del self._lms[old], self._bytes[old]
            freed = True
            log.info("unloaded model %s to make room for %s", _label(old), _label(key))
            if notes is not None:
                notes.append(Unloaded(_label(old), _label(key)))
        if freed:
            _release_memory()

    def warm_up(self, model_id: str) -> None:
        """Load the base model and run one tiny forward (the first forward pays one-time allocation costs)."""
        from promptlab.models.requests import Request

        self.get(model_id).loglikelihood([Request("Review: fine.\nSentiment:", " positive")])

    def answer(self, call: Call, notes: list | None = None):
        """Run one call; raises what the engine raises (ValueErrors are meant for people). Models unloaded to make
        room for the call's model are added to `notes`."""
        import torch

        if call.method not in METHODS:
            raise UserError("model.unknown_call", method=repr(call.method), methods=", ".join(METHODS))
        self._every_core = self._every_core or torch.get_num_threads()
        torch.set_num_threads(call.threads or self._every_core)
        lm = self.get(call.model_id, call.adapter, notes)
        if call.method == "loglikelihood":
            return lm.loglikelihood(*call.args, **call.kwargs)
        if call.method == "generate":
            return lm.generate(*call.args, **call.kwargs)
        if call.method == "wrap_chat":
            return [lm.wrap_chat(prompt) for prompt in call.args[0]]
        description = {"name": lm.name, "family": lm.family, "mask_token": lm.mask_token}
        if call.method == "load":
            key = (call.model_id, str(call.adapter) if call.adapter else None)
            with self._lock:
                description.update(bytes=self._bytes.get(key, 0), budget=self.budget, loaded=self.loaded())
        return description


def _measured(lm) -> int:
    """Bytes the loaded model's parameters and buffers take."""
    model = lm.model
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _release_memory() -> None:
    """Give an unloaded model's memory back now (the GPU's cache too), not at some later collection."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class LocalModels:
    """The models in this process, answering one call at a time (what `ModelProcess` does in a child)."""

    def __init__(self, device: str = "auto", memory_mb: float | None = None):
        self.models = LoadedModels(device, memory_mb)
        self._lock = threading.Lock()

    def call(self, call: Call, notes: list | None = None):
        with self._lock:
            return self.models.answer(call, notes)

    def warm_up(self, model_id: str) -> None:
        with self._lock:
            self.models.warm_up(model_id)
