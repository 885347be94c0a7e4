"""The web app's model process: a child that owns the loaded language models and answers LM calls.

Why a process: a server that also holds the model pays for importing torch and transformers (about 4 s of one
core, nearly all of it holding the GIL) in the same process that serves every visitor's page. Measured on 2 cores,
the model then took 8.7 s to load while the first visitor's page loaded, against 4.3 s alone. A child process
starts importing at once, on the other core, while the app imports its UI framework; by the time a visitor can
click, the model is ready. Running the model there also leaves the GIL of the serving process free.

The child answers short `Call`s (a few dozen requests each): templates are rendered and scores computed in the
caller, by the same `scoring` code as everywhere else, through `promptlab.models.shared.SharedLM`, which cuts work
into such calls so that visitors take turns on the model.

    models = ModelProcess("smollm2-135m-instruct")        # starts loading now; more models load on demand
    models.call(Call("loglikelihood", "smollm2-135m-instruct", args=([Request("Q: hi\\nA:", " yes")],)))
    models.close()

This module imports no torch: the serving process never needs it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import pickle
import signal
import threading

from promptlab.messages import Message, UserError
from promptlab.models.loaded import Call, LoadedModels

log = logging.getLogger("promptlab.models")


class ModelProcess:
    """A child process that loads `model_id` as soon as it starts, then answers calls one at a time, loading the
    other models they name on demand and keeping them within `memory_mb` (`loaded.LoadedModels`). If the child
    dies (killed for memory, a crash), the call in flight fails with a readable message and the next call starts a
    fresh child."""

    def __init__(self, model_id: str, device: str = "auto", memory_mb: float | None = None):
        self.model_id, self.device, self.memory_mb = model_id, device, memory_mb
        self._context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        self._lock = threading.Lock()
        self._start()
        # Stop the child before multiprocessing's own exit handler would terminate it mid-flight (which leaves its
        # semaphores behind, and a warning about them).
        atexit.register(self.close)

    def _start(self) -> None:
        self._conn, child_end = self._context.Pipe()
        self._process = self._context.Process(target=_serve, name="promptlab-model", daemon=True,
                                              args=(child_end, self.model_id, self.device, self.memory_mb))
        self._process.start()
        child_end.close()  # so that the child's death reads as EOF here

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def call(self, call: Call, notes: list | None = None):
        """Answer `call` in the child; raises the engine's own exceptions (ValueErrors reach the page as they are).
        Models the child unloaded to make room for the call's model are added to `notes` (`loaded.Unloaded`)."""
        with self._lock:
            if not self._process.is_alive():
                self._start()
            try:
                self._conn.send(call)
                kind, payload, told = self._conn.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError):
                raise UserError(self._died_message()) from None
        if notes is not None:
            notes.extend(told)
        if kind == "error":
            raise payload
        return payload

    def _died_message(self) -> Message:
        self._process.join(timeout=5)
        code = self._process.exitcode
        killed = code in (-getattr(signal, "SIGKILL", 9), 137)  # Windows has no SIGKILL
        why = Message("model.killed") if killed else Message("model.exit_code", code=code)
        return Message("model.process_stopped", why=why)

    def close(self) -> None:
        """Stop the child (also done when this process exits). A call in progress is not cut from under its reader
        (a closed connection fails in odd ways): the child is stopped instead, and the call says so."""
        if self._lock.acquire(timeout=1):  # no call in progress: the child reads EOF and exits by itself
            try:
                self._conn.close()
            finally:
                self._lock.release()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


def _serve(conn, model_id: str, device: str, memory_mb: float | None = None) -> None:
    """The child's loop: load the model, then answer calls until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the app; this process then sees EOF and ends
    models = LoadedModels(device, memory_mb)
    try:
        models.warm_up(model_id)
    except Exception:  # reported readably by the first call, which tries again
        log.exception("loading the model failed")
    while True:
        try:
            call = conn.recv()
        except (EOFError, OSError):
            return
        notes: list = []
        try:
            conn.send(("answer", models.answer(call, notes), notes))
        except Exception as error:
            if not isinstance(error, ValueError):
                log.exception("model call failed")
            conn.send(("error", _transportable(error), notes))


def _transportable(error: Exception) -> Exception:
    """`error` itself when it survives pickling (ValueError and most others do), else a RuntimeError that keeps
    its type name and text."""
    try:
        return pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
