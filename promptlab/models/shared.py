"""One model, many visitors: an `LM` whose work runs in short calls that take turns, with a budget and a stop.

A shared app holds one model (in its model process). If requests simply queued for it, one visitor's comparison at
the form's maximum would hold it for hours while another visitor's one-row preview waited. `SharedLM` is what the
app scores with instead: it has the `LM` interface the scorer uses (`loglikelihood`, `generate`, `wrap_chat`), and
cuts each request into calls of about half a second of model time; `FairShare` gives the model to waiting visitors
in turn, one call each, so a preview waits for at most one call of somebody else's comparison. Each request can
carry a budget of model seconds (public servers) and a `cancelled()` check, both honoured between calls.

    share = FairShare()
    lm = SharedLM(backend, "smollm2-135m-instruct", visitor=session_id, share=share, budget=Budget(120))
    report = score_template(lm, template, rows)          # the same scorer as the CLI, call by call

`backend` is anything with `call(Call, notes)`: the app's `ModelProcess`, or `LocalModels` in this process; what it
notes while serving (models unloaded to make room for this one) collects in `lm.notes`.
Torch-free.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from promptlab.messages import UserError
from promptlab.models.loaded import Call
from promptlab.models.requests import LogLikelihood, Request

Progress = Callable[[int, int], None]

TARGET_CALL_S = 0.5  # a call this long keeps turns short for others and the per-call overhead (~1 ms) negligible
MAX_CONTEXTS_PER_CALL = 1024
_DESCRIPTIONS: dict = {}  # (backend, model, adapter) -> its describe() answer: a model does not change


class Cancelled(UserError):
    """The visitor asked to stop the request."""

    def __init__(self):
        super().__init__("model.cancelled")


class BudgetExceeded(UserError):
    """A request used up its share of model time."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        super().__init__("model.budget_exceeded", seconds=f"{budget_s:.0f}")


@dataclass
class Budget:
    """A request's share of model time: `seconds` of model calls (None: unlimited), `spent` so far. One budget can
    span several LMs (a comparison of several prompts and adapters is one request)."""

    seconds: float | None = None
    spent: float = 0.0

    def check(self) -> None:
        if self.seconds and self.spent >= self.seconds:
            raise BudgetExceeded(self.seconds)


class FairShare:
    """Turns on one model, round robin between visitors: whenever the model is free, the next visitor in the ring
    that is waiting gets one call. A visitor's own calls keep their order."""

    def __init__(self):
        self._cond = threading.Condition()
        self._busy = False
        self._ring: deque[str] = deque()  # visitors with a waiting call, in turn order
        self._tickets: dict[str, deque[int]] = {}  # visitor -> its waiting calls, oldest first
        self._numbers = itertools.count()

    @contextmanager
    def turn(self, visitor: str, cancelled: Callable[[], bool] | None = None):
        """Hold the model for one call. Raises Cancelled if `cancelled()` turns true while waiting."""
        self._acquire(visitor, cancelled)
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _acquire(self, visitor: str, cancelled) -> None:
        with self._cond:
            ticket = next(self._numbers)
            self._tickets.setdefault(visitor, deque()).append(ticket)
            if visitor not in self._ring:
                self._ring.append(visitor)
            while self._busy or self._ring[0] != visitor or self._tickets[visitor][0] != ticket:
                if cancelled is not None and cancelled():
                    self._withdraw(visitor, ticket)
                    raise Cancelled()
                self._cond.wait(0.25)
            self._busy = True
            self._tickets[visitor].popleft()
            self._ring.popleft()
            if self._tickets[visitor]:  # more calls of this visitor wait: to the back of the ring
                self._ring.append(visitor)
            else:
                del self._tickets[visitor]

    def _withdraw(self, visitor: str, ticket: int) -> None:
        """A waiting call that will not run (cancelled): others move up."""
        self._tickets[visitor].remove(ticket)
        if not self._tickets[visitor]:
            del self._tickets[visitor]
            self._ring.remove(visitor)
        self._cond.notify_all()

    def waiting(self) -> int:
        """Calls waiting for the model now."""
        with self._cond:
            return sum(len(q) for q in self._tickets.values())


class SharedLM:
    """The `LM` interface over a shared backend: short calls, fair turns, a budget of model seconds, a stop check."""

    def __init__(self, backend, model_id: str, *, adapter: str | None = None, visitor: str = "local",
                 share: FairShare | None = None, budget: Budget | None = None, threads: int = 0,
                 cancelled: Callable[[], bool] | None = None):
        self.backend, self.model_id, self.adapter = backend, model_id, adapter
        self.visitor, self.share = visitor, share or FairShare()
        self.budget, self.threads, self.cancelled = budget or Budget(), threads, cancelled
        self.name = model_id if adapter is None else f"{model_id} + {Path(adapter).name}"
        self._contexts_per_call = 16
        self._chat: dict[str, str] = {}
        self.notes: list = []  # what the backend told while serving this LM (`loaded.Unloaded`: models it unloaded)

    def loglikelihood(self, requests: Sequence[Request], progress: Progress | None = None) -> list[LogLikelihood]:
        """As `LM.loglikelihood`, in calls of whole contexts (the answer choices of one prompt stay together)."""
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.context, []).append(i)
        pending = deque(groups.values())
        out: list[LogLikelihood | None] = [None] * len(requests)
        done = 0
        while pending:
            take = [pending.popleft() for _ in range(min(self._contexts_per_call, len(pending)))]
            indices = [i for group in take for i in group]
            started = time.perf_counter()
            answers = self._call("loglikelihood", [requests[i] for i in indices])
            self._adapt(time.perf_counter() - started, len(take))
            for i, answer in zip(indices, answers):
                out[i] = answer
            done += len(indices)
            if progress:
                progress(done, len(requests))
        return out  # type: ignore[return-value]

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 32, stop: Sequence[str] = ("\n",),
                 progress: Progress | None = None) -> list[str]:
        """As `LM.generate`, eight prompts per call (generation is slow: a call of eight is about one turn)."""
        out: list[str] = []
        for start in range(0, len(prompts), 8):
            out += self._call("generate", list(prompts[start:start + 8]), max_new_tokens=max_new_tokens,
                              stop=tuple(stop))
            if progress:
                progress(len(out), len(prompts))
        return out

    @property
    def family(self) -> str:
        """"causal", "seq2seq" or "masked": what templates the model can serve (asked once per model)."""
        return self._description()["family"]

    @property
    def mask_token(self) -> str | None:
        """The masked LM's mask token (what a cloze template's {{ mask }} renders as), else None."""
        return self._description()["mask_token"]

    def _description(self) -> dict:
        key = (id(self.backend), self.model_id, self.adapter)
        if key not in _DESCRIPTIONS:
            _DESCRIPTIONS[key] = self._call("describe")
        return _DESCRIPTIONS[key]

    def wrap_chat(self, prompt: str) -> str:
        """As `LM.wrap_chat` (remembered: demonstrations repeat)."""
        if prompt not in self._chat:
            self._chat[prompt] = self._call("wrap_chat", [prompt])[0]
        return self._chat[prompt]

    def _call(self, method: str, *args, **kwargs):
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()
        self.budget.check()
        call = Call(method, self.model_id, self.adapter, args, kwargs, self.threads)
        with self.share.turn(self.visitor, self.cancelled):
            started = time.perf_counter()
            try:
                return self.backend.call(call, self.notes)
            finally:
                self.budget.spent += time.perf_counter() - started

    def _adapt(self, seconds: float, contexts: int) -> None:
        """Aim each call at TARGET_CALL_S of model time: more contexts when calls are quick, fewer when slow."""
        if seconds < TARGET_CALL_S / 2 and contexts >= self._contexts_per_call:
            self._contexts_per_call = min(MAX_CONTEXTS_PER_CALL, self._contexts_per_call * 2)
        elif seconds > TARGET_CALL_S * 2:
            self._contexts_per_call = max(1, self._contexts_per_call // 2)
