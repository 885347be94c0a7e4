"""Reading data that a stranger names (an upload, a Hub name, a typed path) in a child process that can be stopped.

A data file can be crafted to take a server down: a 1 kB Parquet file can hold 6 GB of text. The readers refuse
what they can foresee (`limits.Budget`: cells and decoded bytes, checked from a Parquet footer before decoding); the
child process is the backstop for what they cannot: it limits its own memory (the operating system refuses it more
than `settings.data_memory_bytes()` beyond what it started with) and the size of any file it writes, and it is
killed after `settings.data_timeout_s()`. Whatever happens there, this process gets a Dataset or a message.

    dataset = load_untrusted(upload_path, local_files=True)              # a file the app received
    dataset = load_untrusted("nyu-mll/glue:sst2", local_files=False)      # a public server: Hub names only

Why a fresh process for each read rather than a warm one: a read happens once per dataset (the app keeps what it
loaded, `promptlab.data.cache`), the start costs about 0.1 s (SST-2, 67k rows, on 2 busy cores: 0.19 s read here,
0.33 s through a child), and each read gets its own memory limit, nothing left over from another visitor's file,
and nothing to restart after a kill. The demo tasks are our own files and are read in this process.

With `local_files=False` a source must be a Hub name (`datasets.hub_name_problem`), and the child reads it from an
empty private working folder: `datasets.load_dataset` resolves a name that matches a folder in its working folder
(or names one of its file-format loaders) against the local disk, which must never be the server's.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from promptlab import settings
from promptlab.data import datasets
from promptlab.data.datasets import DEMOS, Dataset, hub_name_problem, load_dataset, load_hub_dataset
from promptlab.data.limits import Budget, size
from promptlab.messages import Message, UserError, from_dict, message_of, to_dict

log = logging.getLogger("promptlab.data")

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# The child's first act replaces sys.path[0] (its working folder, which may be the server's) by our package root.
_CHILD_CODE = (f"import sys; sys.path[0:1] = [{_PACKAGE_ROOT!r}]; "
               "from promptlab.data.bounded import child_main; child_main()")
_SLOTS = threading.BoundedSemaphore(2)  # reads at once: each may hold its memory limit, and the CPU is shared


def load_untrusted(source: str | os.PathLike, label_column: str | None = None, *, local_files: bool) -> Dataset:
    """Load `source` as `load_dataset` would, in a child process bounded in memory, time and decoded size.

    `local_files`: may `source` name a file or folder of this machine (the app's own uploads; typed paths where the
    operator allows them)? If not, only a demo task or a Hub name is read, never the local disk.
    Every failure is a ValueError saying what happened and what to do."""
    source = os.fspath(source)
    check_source(source, local_files=local_files)
    if source in DEMOS:
        return load_dataset(source, label_column=label_column)
    request = {
        "source": source, "label_column": label_column, "hub_only": not local_files,
        "max_cells": settings.data_max_cells(), "max_bytes": settings.data_max_bytes(),
        "max_file_bytes": datasets.MAX_UPLOAD_BYTES, "memory_bytes": settings.data_memory_bytes(),
    }
    timeout = settings.data_timeout_s()
    if not _SLOTS.acquire(timeout=timeout):
        raise UserError("data.busy")
    try:
        return _read_in_child(request, timeout)
    finally:
        _SLOTS.release()


def check_source(source: str, *, local_files: bool) -> None:
    """Refuse a source that may not be read: with `local_files` off, anything but a demo task or a Hub name."""
    if source in DEMOS or local_files:
        return
    problem = hub_name_problem(source)
    if problem:
        raise UserError("data.no_paths", problem=problem)


# ---- the parent's side --------------------------------------------------------------------------------------------


def _read_in_child(request: dict, timeout: float) -> Dataset:
    with tempfile.TemporaryDirectory(prefix="promptlab-read-") as private:  # mode 0700, ours alone
        empty = Path(private) / "cwd"
        empty.mkdir()
        with open(Path(private) / "stderr.txt", "w+b") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                cwd=empty if request["hub_only"] else None, env=_child_env(), start_new_session=True,
            )
            answer = _Answer(process, limit=2 * request["max_bytes"] + 64 * request["max_cells"] + 2**24)
            try:
                process.stdin.write(json.dumps(request).encode())
                process.stdin.close()
            except OSError:
                pass  # the child died at once: its exit status says why
            try:
                process.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill(process)  # on time, or whatever the child may have left running (holding its stdout open)
                answer.thread.join()
            if timed_out:
                raise UserError(_timeout_message(request, timeout))
            if answer.too_long:
                raise UserError("data.answer_too_long", source=_shown(request))
            if process.returncode != 0:
                stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 2000))
                log.warning("the reading process for %r ended with %s: %s", request["source"], process.returncode,
                            stderr.read().decode(errors="replace"))
                raise UserError(_died_message(request, process.returncode))
    return _dataset(request, answer.data())


class _Answer:
    """The child's stdout, read by a thread while the parent waits (so a large answer never blocks the child),
    up to `limit` bytes; more than that and the child is killed."""

    def __init__(self, process: subprocess.Popen, limit: int):
        self.process, self.limit = process, limit
        self.chunks: list[bytes] = []
        self.too_long = False
        self.thread = threading.Thread(target=self._read, name="promptlab-read-answer", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        received = 0
        while chunk := self.process.stdout.read1(1 << 20):
            received += len(chunk)
            if received > self.limit:
                self.too_long = True
                _kill(self.process)
                return
            self.chunks.append(chunk)

    def data(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()  # one copy at a time
        return data


def _dataset(request: dict, data: bytes) -> Dataset:
    try:
        kind, payload = _PlainData.loads(data)
    except Exception as error:  # a child that printed something else, or was subverted: refuse, never run it
        raise UserError("data.unreadable_answer", source=_shown(request), detail=error) from None
    if kind == "dataset":
        name, splits, columns, label_column, labels = payload
        return Dataset(name, splits, tuple(columns), label_column, tuple(labels))
    if kind == "memory":
        raise UserError(_memory_message(request))
    message = from_dict(payload)  # the child's message, said in the visitor's language here
    raise UserError(message) if isinstance(message, Message) else ValueError(message)


class _PlainData(pickle.Unpickler):
    """Unpickles plain values only (dict, list, tuple, str, numbers, None): no class is ever looked up, so an
    answer cannot make this process run anything, whatever the child was made to write."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"only plain data is accepted, not {module}.{name}")

    @classmethod
    def loads(cls, data: bytes):
        return cls(io.BytesIO(data)).load()


_TOKENS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # pyarrow's default allocator reserves a gigabyte of address space up front; the system allocator takes what it
    # uses, so the memory limit measures the data.
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    if settings.public():  # a visitor names the dataset: the server's Hub token must not open private or gated ones
        for name in _TOKENS:
            env.pop(name, None)
        env.update(HF_HUB_DISABLE_IMPLICIT_TOKEN="1", HF_TOKEN_PATH=os.devnull)
    return env


def _kill(process: subprocess.Popen) -> None:
    """Kill the child and anything it started (its own process group); nothing to do for a child that ended and
    left nothing behind."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _shown(request: dict) -> str:
    """The source as a visitor knows it: a file's name (an upload's temp folder means nothing to them)."""
    source = request["source"]
    return Path(source).name if os.path.isabs(source) or len(source) > 80 else source


def _limits_advice(request: dict) -> Message:
    return Message("data.limits_advice", size=size(request["max_bytes"]))


def _memory_message(request: dict) -> Message:
    return Message("data.read_memory", source=_shown(request), size=size(request["memory_bytes"]),
                   advice=_limits_advice(request))


def _died_message(request: dict, code: int) -> Message:
    if code < 0:
        try:
            why = signal.Signals(-code).name
        except ValueError:
            why = f"signal {-code}"
        return Message("data.read_died", source=_shown(request), why=why, size=size(request["memory_bytes"]),
                       advice=_limits_advice(request))
    return Message("data.read_exit_code", source=_shown(request), code=code)


def _timeout_message(request: dict, timeout: float) -> Message:
    return Message("data.read_timeout", source=_shown(request), seconds=f"{timeout:g}")


# ---- the child's side ---------------------------------------------------------------------------------------------


def child_main() -> None:
    """Entry point of the reading process: a JSON request on stdin, a pickled answer of plain values on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    out, sys.stdout = sys.stdout.buffer, sys.stderr  # what libraries print must not mix with the answer
    _limit_resources(request)
    answer = _answer(request)
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        answer = None
        data = pickle.dumps(("memory", None))
    out.write(data)
    out.flush()


def _answer(request: dict) -> tuple:
    datasets.MAX_UPLOAD_BYTES = request["max_file_bytes"]  # the parent's limit (tests scale it down)
    budget = Budget(request["max_cells"], request["max_bytes"])
    load = load_hub_dataset if request["hub_only"] else load_dataset
    try:
        dataset = load(request["source"], label_column=request["label_column"], budget=budget)
    except ValueError as error:  # its message as plain data: the parent says it in the visitor's language
        return "error", to_dict(message_of(error))
    except MemoryError:
        return "memory", None
    except RecursionError:
        return "error", to_dict(Message("data.read_too_deep", source=_shown(request)))
    except OSError as error:
        if error.errno == errno.EFBIG:
            return "error", to_dict(Message("data.read_file_too_big", source=_shown(request),
                                            size=size(_file_limit(request))))
        return "error", to_dict(Message("data.read_failed", source=_shown(request), detail=error))
    except Exception as error:  # a reader's bug or a library's surprise: still a message, never a traceback
        return "error", to_dict(Message("data.read_failed_type", source=_shown(request), error=type(error).__name__,
                                        detail=error))
    return "dataset", (dataset.name, dataset.splits, dataset.columns, dataset.label_column, dataset.labels)


def _file_limit(request: dict) -> int:
    return 2 * max(request["max_file_bytes"], request["max_bytes"])


def _limit_resources(request: dict) -> None:
    """Ask the operating system to refuse this process more memory than the request allows beyond what it uses now
    (RLIMIT_DATA: the memory it allocates, not the address space libraries reserve), and files larger than twice
    the data limits (a Hub download, its cache). Where there is no `resource` module (Windows), only the parent's
    time limit and the readers' own limits hold."""
    try:
        import resource
    except ImportError:
        return
    for kind, amount in ((resource.RLIMIT_DATA, _data_in_use() + request["memory_bytes"]),
                         (resource.RLIMIT_FSIZE, _file_limit(request))):
        _, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (amount if hard == resource.RLIM_INFINITY else min(amount, hard), hard))
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-large write then fails with EFBIG, reported above


def _data_in_use() -> int:
    """Bytes of this process's data segment now (VmData), 0 where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
