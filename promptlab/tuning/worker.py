"""The job worker: `python -m promptlab.cli worker RUN_DIR` (started by `promptlab.runs.queue`, no shell).

1. records its pid (worker.json), waits its turn in the queue (status "queued") and takes a device slot;
2. status "running": loads the data, the model and the examples, measures the manual baselines (once per run),
   wraps the model with PEFT and runs the training loop (resuming from the newest checkpoint if there is one);
3. writes the final status: done, cancelled (STOP file), failed (with a readable error) or interrupted (SIGTERM).

With `num_processes > 1` the worker keeps the queue slot and runs the training through `accelerate launch`,
whose processes run this module with `--train-only`.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from promptlab import settings
from promptlab.messages import Message, UserError, message_of
from promptlab.runs.info import active_seconds
from promptlab.runs.layout import disk_is_full, error_of, read_dict, update_status, write_json_atomic
from promptlab.runs.queue import hold_worker_lock, is_next_in_queue, process_record, try_acquire_slot
from promptlab.tuning.run import Cancelled, Run

EXIT_DONE, EXIT_FAILED, EXIT_CANCELLED = 0, 2, 3
_STATUS_TRIES = 5  # the final status is written again (after a pause) when the disk refuses it


def main(run_dir, train_only: bool = False) -> int:
    """Run one job to its end; return the process exit code."""
    if train_only:
        return _train_only(run_dir)
    run = Run(run_dir)
    lock = hold_worker_lock(run.path)  # held until this process ends: a second worker on this run stops here
    if lock is None:
        run.log("another worker is already running this run: this one exits without touching it")
        return EXIT_FAILED
    try:
        write_json_atomic(run.path / "worker.json", process_record())
    except OSError:  # a full disk: readers see this worker alive through its lock; its status says the rest
        pass
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM ends as "interrupted"
    try:
        return _supervise(run)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        os.close(lock)


def _supervise(run: Run) -> int:
    slot, finished = None, threading.Event()
    final, error = "failed", None
    try:
        slot = _wait_for_turn(run)
        status = run.read_status()
        run.start_clock(active_seconds(status) or 0.0)
        run.status(status="running", started=status.get("started") or time.time(), finished=None, error=None)
        finished = _watch_for_stop(run)
        if run.config.num_processes > 1:
            final, error = _launch_processes(run)
        else:
            outcome = train_run(run)
            final = "done"
            if outcome == "early_stopped":
                _log(run, "finished early (early stopping)")
    except Cancelled:
        final = "cancelled"
    except ValueError as err:  # TrainingError included: the message is meant for the user
        final, error = "failed", message_of(err)
    except (KeyboardInterrupt, SystemExit):
        final = "interrupted"
        error = Message("tuning.worker_signalled")
    except Exception as err:  # noqa: BLE001 - any other failure must still end in a truthful status
        _log(run, traceback.format_exc())
        final, error = "failed", failure_message(run, err)
    finally:
        _log(run, ("cancelled while queued" if slot is None and final == "cancelled" else f"run {final}")
             + (f": {error}" if error else ""))
        _final_status(run, status=final, finished=time.time(), eta_seconds=None, error=error)
        finished.set()
        if slot is not None:
            slot.close()
    return {"done": EXIT_DONE, "cancelled": EXIT_CANCELLED}.get(final, EXIT_FAILED)


def _log(run: Run, message: str) -> None:
    """A log line that cannot fail the run (a full disk refuses it: the status says what happened)."""
    try:
        run.log(message)
    except OSError:
        print(message, file=sys.stderr, flush=True)


def _final_status(run: Run, **changes) -> None:
    """Write the run's last status, trying again for a few seconds when the disk refuses. If it never can, readers
    see a dead worker with an active status and conclude "interrupted" (naming a full disk): never "running"."""
    for attempt in range(_STATUS_TRIES):
        try:
            run.status(**changes)
            return
        except OSError as err:
            if attempt == _STATUS_TRIES - 1:
                print(f"could not write the final status ({err}); readers will mark the run interrupted",
                      file=sys.stderr, flush=True)
                return
            time.sleep(0.5 * (attempt + 1))


def failure_message(run: Run, err: Exception) -> Message:
    """What the user reads when training raised something unexpected: out of memory and a full disk are named,
    with what to do; anything else is an internal error whose traceback is in the log."""
    from promptlab.tuning.checkpoint import list_checkpoints

    saved = list_checkpoints(run.path / "checkpoints")
    kept = Message("tuning.checkpoints_kept", step=int(saved[-1].name.split("-")[-1])) if saved \
        else Message("tuning.no_checkpoint_yet")
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if _is_out_of_memory(err):
        config = run.config
        return Message("tuning.out_of_memory", detail=text, batch=config.batch_size, tokens=config.max_tokens,
                       kept=kept)
    full = _disk_full_error(err)
    if full is not None or disk_is_full(run.path):
        where = (full.filename if full is not None else None) or run.path
        return Message("tuning.disk_full", where=where, run=run.id, kept=kept)
    return Message("tuning.internal_error", error=type(err).__name__, detail=err)


def _disk_full_error(err: BaseException) -> OSError | None:
    """The ENOSPC / EDQUOT OSError behind `err`, if any: torch and safetensors wrap the OS's in their own errors
    ("unexpected pos", "file write failed"), keeping it as the cause or context, or only in the text."""
    seen = 0
    while err is not None and seen < 20:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return err
        if "No space left on device" in str(err) or "StorageFull" in str(err):
            return OSError(errno.ENOSPC, "No space left on device")
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def _is_out_of_memory(err: Exception) -> bool:
    import torch

    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    # CPU allocations that fail surface as RuntimeErrors with the allocator's wording
    return isinstance(err, RuntimeError) and any(
        words in str(err).lower() for words in ("out of memory", "can't allocate memory", "not enough memory"))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def _wait_for_turn(run: Run):
    """Block until this run is the oldest queued one and a device slot is free; return the held slot."""
    announced = False
    while True:
        if run.stop_requested():
            raise Cancelled()
        if is_next_in_queue(run.path):
            slot = try_acquire_slot(run.path.parent)
            if slot is not None:
                return slot
        if not announced:
            run.log("queued: waiting for the runs ahead of this one to finish")
            announced = True
        time.sleep(0.5)


def _watch_for_stop(run: Run) -> threading.Event:
    """Cancel is cooperative (the loop checks STOP every step); if the worker is stuck, end it after the grace.

    Returns the event to set when the run has ended (the watcher then quits).
    """
    finished = threading.Event()

    def watch():
        while not run.stop_requested():
            if finished.wait(0.5):
                return
        if finished.wait(settings.cancel_grace_s()):
            return
        _log(run, "did not stop within the grace period: ending the process")
        try:
            run.status(status="cancelled", finished=time.time(), eta_seconds=None)
        finally:
            os._exit(EXIT_CANCELLED)

    threading.Thread(target=watch, daemon=True).start()
    return finished


def _launch_processes(run: Run) -> tuple[str, str | None]:
    """Train through `accelerate launch` with `num_processes` processes; map their exit code to a status."""
    config = run.config
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(config.num_processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--multi_gpu"]  # torchrun under the hood; with no GPU the processes talk over gloo on the CPU
    cmd += ["-m", "promptlab.cli", "worker", "--train-only", str(run.path)]
    run.log("launching: " + " ".join(cmd))
    code = subprocess.call(cmd, cwd=str(run.path))
    if code == EXIT_DONE:
        return "done", None
    if code == EXIT_CANCELLED or run.stop_requested():
        return "cancelled", None
    return "failed", error_of(run.read_status()) or Message("tuning.launch_exit_code", code=code)


def _train_only(run_dir) -> int:
    """One process of a multi-process run (under accelerate launch)."""
    try:
        train_run(Run(run_dir, writer=_is_main_process()))
        return EXIT_DONE
    except Cancelled:
        return EXIT_CANCELLED
    except ValueError as err:
        if _is_main_process():
            try:
                update_status(Path(run_dir), error=message_of(err))
            except OSError:
                print(err, file=sys.stderr, flush=True)
        return EXIT_FAILED


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def train_run(run: Run) -> str:
    """Load everything the run needs and train it; return the loop's outcome ("done" / "early_stopped")."""
    started = time.monotonic()  # the load time the estimates use counts importing torch, which comes next
    from promptlab.models.lm import load_lm
    from promptlab.tuning import loop
    from promptlab.tuning.baseline_cache import baseline_key, remember_baselines, reuse_baselines
    from promptlab.tuning.checkpoint import repair_adapter
    from promptlab.tuning.methods import template_init_text, wrap
    from promptlab.tuning.spec import load_parts

    _quiet_libraries()
    config, spec = run.config, run.spec
    acc = _accelerator(config)
    repair_adapter(run.adapter)
    parts = load_parts(spec)
    template = parts.template
    key = baseline_key(parts, spec)
    if acc.is_main_process and reuse_baselines(run.path, key, template.name) and \
            read_dict(run.path / "baselines.json").get("reused"):
        run.log("baselines: reused, measured before for the same template, data, model, shots and seeds")
    run.log(f"loading model {spec['model']} on {acc.device}")
    lm = load_lm(spec["model"], device=str(acc.device), dtype=config.precision)
    train, val_rows, val = _examples(parts, lm)
    loaded = time.monotonic()
    total = config.total_steps(len(train), acc.num_processes)
    run.log(f"{len(train)} training examples, {len(val)} validation rows, {total} steps of "
            f"{config.batch_size}x{config.grad_accum}x{acc.num_processes} examples, method {config.method}")
    run.status(total_steps=total)
    if acc.is_main_process and not (run.path / "baselines.json").is_file():
        remember_baselines(run.path.parent, key, _measure_baselines(run, lm, parts, val_rows))
    acc.wait_for_everyone()
    choices = template.answer_choices if isinstance(template.answer_choices, tuple) else \
        tuple(dict.fromkeys(c for e in train[:1000] for c in e.choices))  # choices from the rows (Jinja)
    init_text = template_init_text(template)
    model = wrap(lm.model, lm.tokenizer, config, init_text=init_text, choices=choices)
    setup = loop.Setup(run=run, config=config, model=model, tokenizer=lm.tokenizer, train=train, val=val,
                       mode=template.mode, accelerator=acc, total_steps=total, model_name=f"{spec['model']} + {run.id}",
                       finish_adapter=functools.partial(finish_adapter, run, init_text=config.init_text or init_text),
                       record_speed=functools.partial(_record_speed, run, acc.device.type,
                                                      load_seconds=loaded - started))
    return loop.train(setup)


def _record_speed(run: Run, device: str, train_chars_per_s: float, eval_chars_per_s: float, *,
                  load_seconds: float) -> None:
    """This machine's speed for the run's model: what the Tune form's duration estimates read."""
    from promptlab.tuning.estimate import record_speed

    record_speed(run.path.parent, run.spec.get("model"), device, run_id=run.id, load_seconds=load_seconds,
                 train_chars_per_s=train_chars_per_s, eval_chars_per_s=eval_chars_per_s)


def finish_adapter(run: Run, folder: Path, best: dict, *, init_text: str) -> None:
    """Make a freshly saved adapter folder portable: adapter_config.json names the base model's hub id and the
    init the soft prompt started from (PEFT's TEXT for the template's text), README.md is our model card."""
    from promptlab.runs.card import model_card, portable_config

    config_file = folder / "adapter_config.json"
    config = portable_config(json.loads(config_file.read_text(encoding="utf-8")), run.spec.get("model"),
                             init=run.config.init, init_text=init_text)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    (folder / "README.md").write_text(model_card(run.path, adapter_path=".", best=best, adapter_config=config),
                                      encoding="utf-8")


def _accelerator(config):
    """Torch threads, the device check, and the Accelerator (fp16 brings loss scaling)."""
    import torch
    from accelerate import Accelerator

    shared_by = config.num_processes * settings.max_jobs()  # processes that may train on this machine at once
    torch.set_num_threads(config.num_threads or max(1, (os.cpu_count() or 1) // shared_by))
    available = {"auto": True, "cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if not available[config.device]:
        raise UserError("tuning.no_device", device=config.device)
    return Accelerator(cpu=config.device == "cpu", mixed_precision="fp16" if config.precision == "fp16" else "no")


def _examples(parts, lm):
    """Labelled training examples, the fixed validation rows (seed 0: the same for every run) and their examples."""
    from promptlab.data.sampling import evaluation_rows
    from promptlab.scoring.experiment import build_examples, render_options
    from promptlab.tuning.loop import is_labelled

    options = render_options(lm, parts.template)  # the chat template, the mask token; refuses a misfit template
    train = [e for e in build_examples(parts.template, parts.train_rows, **options) if is_labelled(e)]
    val_rows = evaluation_rows(parts.eval_rows, parts.config.eval_size)
    return train, val_rows, build_examples(parts.template, val_rows, **options)


def _measure_baselines(run: Run, lm, parts, val_rows) -> dict:
    from promptlab.data.sampling import demonstration_pool
    from promptlab.tuning.baselines import measure_baselines

    config = parts.config
    label_column = parts.dataset.label_column
    pool = demonstration_pool(parts.dataset.rows(parts.train_split), label_column)  # as Compare draws them
    baselines = measure_baselines(lm, parts.template, val_rows, pool, shots=config.baseline_shots,
                                  seeds=config.baseline_seeds, label_column=label_column,
                                  progress=run.check_stop, log=run.log)
    write_json_atomic(run.path / "baselines.json", baselines)
    return baselines


def _quiet_libraries() -> None:
    """Keep log.txt readable: no progress bars or deprecation chatter from the libraries."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
