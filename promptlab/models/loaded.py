"""Loaded language models, kept for reuse, and the one function that answers an LM call on them.

`LoadedModels.answer(call)` is what runs wherever the models live: in the web app's model process
(`promptlab.models.process`), or in the calling process itself (`LocalModels`: a ZeroGPU Space, which lends its GPU
to the main process only; tests; an app embedded with `build_app`). Either way callers reach it through
`promptlab.models.shared.SharedLM`, which cuts work into short calls and shares the model fairly.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptlab.models.lm import LM

log = logging.getLogger("promptlab.models")

METHODS = ("loglikelihood", "generate", "wrap_chat", "describe")


@dataclass(frozen=True)
class Call:
    """One LM call: `method` on the model `model_id` (plus `adapter`), with its arguments.

    loglikelihood: args=(requests,) -> list[LogLikelihood]; generate: args=(prompts,), kwargs max_new_tokens, stop
    -> list[str]; wrap_chat: args=(prompts,) -> list[str]; describe: () -> {"name", "family", "mask_token"}.
    `threads`: torch CPU threads for this call (0: every core)."""

    method: str
    model_id: str
    adapter: str | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    threads: int = 0


class LoadedModels:
    """Language models by (model, adapter, device), loaded on first use; the `limit` most recently used are kept
    (by default the base model and one soft-prompted copy). Thread-safe: a caller that wants a model being loaded
    waits for that load instead of starting a second one."""

    def __init__(self, device: str = "auto", limit: int = 2):
        self.device, self.limit = device, limit
        self._lms: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._every_core: int | None = None

    def get(self, model_id: str, adapter: str | None = None) -> LM:
        key = (model_id, str(adapter) if adapter else None)
        with self._lock:
            if key not in self._lms:
                from promptlab.models.lm import load_lm

                log.info("loading model %s (adapter %s)", model_id, key[1])
                self._lms[key] = load_lm(model_id, adapter=key[1], device=self.device)
                while len(self._lms) > self.limit:
                    self._lms.popitem(last=False)
            self._lms.move_to_end(key)
            return self._lms[key]

    def warm_up(self, model_id: str) -> None:
        """Load the base model and run one tiny forward (the first forward pays one-time allocation costs)."""
        from promptlab.models.requests import Request

        self.get(model_id).loglikelihood([Request("Review: fine.\nSentiment:", " positive")])

    def answer(self, call: Call):
        """Run one call; raises what the engine raises (ValueErrors are meant for people)."""
        import torch

        if call.method not in METHODS:
            raise ValueError(f"Unknown model call {call.method!r}; expected one of {', '.join(METHODS)}.")
        self._every_core = self._every_core or torch.get_num_threads()
        torch.set_num_threads(call.threads or self._every_core)
        lm = self.get(call.model_id, call.adapter)
        if call.method == "loglikelihood":
            return lm.loglikelihood(*call.args, **call.kwargs)
        if call.method == "generate":
            return lm.generate(*call.args, **call.kwargs)
        if call.method == "wrap_chat":
            return [lm.wrap_chat(prompt) for prompt in call.args[0]]
        return {"name": lm.name, "family": lm.family, "mask_token": lm.mask_token}


class LocalModels:
    """The models in this process, answering one call at a time (what `ModelProcess` does in a child)."""

    def __init__(self, device: str = "auto"):
        self.models = LoadedModels(device)
        self._lock = threading.Lock()

    def call(self, call: Call):
        with self._lock:
            return self.models.answer(call)

    def warm_up(self, model_id: str) -> None:
        with self._lock:
            self.models.warm_up(model_id)
