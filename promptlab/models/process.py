"""Loaded language models, kept for reuse, and a child process that owns them and scores templates on request.

Why a process: a server that also holds the model pays for importing torch and transformers (about 4 s of one
core, nearly all of it holding the GIL) in the same process that serves every visitor's page. Measured on 2 cores,
the model then took 8.7 s to load while the first visitor's page loaded, against 4.3 s alone. A child process
starts importing at once, on the other core, while the app imports its UI framework; by the time a visitor can
click, the model is ready. Scoring there also leaves the GIL of the serving process free.

    scorer = ModelProcess("smollm2-135m-instruct")        # starts loading now
    report = scorer.score(template, rows, shots=0)        # an experiment.Report, as score_template returns
    scorer.close()

This module imports no torch at import time: the serving process never needs it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import pickle
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptlab.models.lm import LM
    from promptlab.prompts.values import Template
    from promptlab.scoring.experiment import Report

log = logging.getLogger("promptlab.model_process")

Progress = Callable[[int, int], None]


class LoadedModels:
    """Language models by (model, adapter, device), loaded on first use; the `limit` most recently used are kept
    (by default the base model and one soft-prompted copy). Thread-safe: a caller that wants a model being loaded
    waits for that load instead of starting a second one."""

    def __init__(self, limit: int = 2):
        self.limit = limit
        self._lms: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str, adapter: str | None = None, device: str = "auto") -> LM:
        key = (model_id, str(adapter) if adapter else None, device)
        with self._lock:
            if key not in self._lms:
                from promptlab.models.lm import load_lm

                log.info("loading model %s (adapter %s)", model_id, key[1])
                self._lms[key] = load_lm(model_id, adapter=key[1], device=device)
                while len(self._lms) > self.limit:
                    self._lms.popitem(last=False)
            self._lms.move_to_end(key)
            return self._lms[key]

    def warm_up(self, model_id: str, device: str = "auto") -> None:
        """Load the base model and run one tiny forward (the first forward pays one-time allocation costs)."""
        from promptlab.models.requests import Request

        self.get(model_id, device=device).loglikelihood([Request("Review: fine.\nSentiment:", " positive")])


class ModelProcess:
    """A child process that loads `model_id` as soon as it starts and then scores templates, one request at a
    time. If the child dies (killed for memory, a crash), the request in flight fails with a readable message and
    the next one starts a fresh child."""

    def __init__(self, model_id: str, device: str = "auto"):
        self.model_id, self.device = model_id, device
        self._context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        self._lock = threading.Lock()
        self._start()
        # Stop the child before multiprocessing's own exit handler would terminate it mid-flight (which leaves its
        # semaphores behind, and a warning about them).
        atexit.register(self.close)

    def _start(self) -> None:
        self._conn, child_end = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child_end, self.model_id, self.device),
                                              name="promptlab-model", daemon=True)
        self._process.start()
        child_end.close()  # so that the child's death reads as EOF here

    def score(self, template: Template, rows: Sequence[dict], *, adapter: str | None = None,
              progress: Progress | None = None, threads: int = 0, **options) -> Report:
        """`experiment.score_template` with this process's model (plus `adapter`), run in the child.

        `options` are score_template's keyword arguments (pool, shots, seeds, seed, sampler, ...). `threads`: torch
        threads for this request (0: every core). Keep it to 1 while a tuning job trains on the same machine: two
        processes that each spread over every core slow each other down several times over (OpenMP threads spin
        while they wait; measured on 2 cores beside a training job: 8 rows took 3.5 s on 2 threads, 0.45 s on 1)."""
        if not options.get("shots"):
            options.pop("pool", None)  # zero-shot never reads it, and a whole train split is megabytes to send
        with self._lock:
            if not self._process.is_alive():
                self._start()
            try:
                self._conn.send((template, list(rows), adapter, threads, options))
                kind, payload, failure = self._answer(progress)
            except (EOFError, BrokenPipeError, ConnectionResetError):
                raise ValueError(self._died_message()) from None
        if failure is not None:
            raise failure
        if kind == "error":
            raise payload
        return payload

    def _answer(self, progress: Progress | None):
        """The child's answer to the request just sent: every message up to it is read, even when `progress`
        fails (its exception is returned), so that the next request never reads this one's leftovers."""
        failure = None
        while True:
            kind, payload = self._conn.recv()
            if kind != "progress":
                return kind, payload, failure
            if progress is not None and failure is None:
                try:
                    progress(*payload)
                except Exception as error:
                    failure = error

    def _died_message(self) -> str:
        self._process.join(timeout=5)
        code = self._process.exitcode
        killed = code in (-getattr(signal, "SIGKILL", 9), 137)  # Windows has no SIGKILL
        why = "killed, most likely for lack of memory" if killed else f"exit code {code}"
        return (f"The model process stopped while scoring ({why}). Nothing was lost; the next request starts it "
                "again. If it keeps stopping, score fewer rows or shots, or use a smaller model.")

    def close(self) -> None:
        """Stop the child (also done when this process exits)."""
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


def _serve(conn, model_id: str, device: str) -> None:
    """The child's loop: load the model, then answer score requests until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the app; this process then sees EOF and ends
    import torch

    from promptlab.scoring.experiment import score_template

    every_core = torch.get_num_threads()
    models = LoadedModels()
    try:
        models.warm_up(model_id, device)
    except Exception:  # reported readably by the first request, which tries again
        log.exception("loading the model failed")
    while True:
        try:
            template, rows, adapter, threads, options = conn.recv()
        except (EOFError, OSError):
            return
        try:
            torch.set_num_threads(threads or every_core)
            lm = models.get(model_id, adapter, device)
            report = score_template(lm, template, rows, progress=lambda done, total: conn.send(
                ("progress", (done, total))), **options)
            conn.send(("report", report))
        except Exception as error:
            if not isinstance(error, ValueError):
                log.exception("scoring failed")
            conn.send(("error", _transportable(error)))


def _transportable(error: Exception) -> Exception:
    """`error` itself when it survives pickling (ValueError and most others do), else a RuntimeError that keeps
    its type name and text."""
    try:
        return pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
