"""How long a tuning run will take, said before it is launched. Torch-free (the web app asks on every form change).

The unit of work is the character the model reads: a training example's prompt plus its answer choices (or its
gold target, for the "lm" objective), an evaluation row's prompt plus every choice. Two ways to a duration:

* measured: every run records its speed on this machine (`runs/.speed/<model, device>.json`: training and
  evaluation characters per second, and the seconds it took to load), and the estimate divides the new run's
  characters by the last speed of the same model on the same device;
* formula, when this model has not run here yet: a deliberately slow machine, so the figure is an upper bound:
  tokens = characters / 3 (one per CJK character), 6 x parameters FLOPs per trained token and 2 x parameters per
  evaluated token, at 20 GFLOP/s per CPU core a job gets (2 TFLOP/s on a GPU), plus 30 s to load. (SmolLM2-135M
  on 2 shared CPU cores of the development machine ran about 3.5 times faster than this formula says.)

Either way the baselines cost nothing when they will be reused (`baseline_cache`); else they are scored like
evaluations: zero-shot once, few-shot `seeds` times with prompts counted (1 + 2 x shots) times as long (a
demonstration is a prompt and its answer, and long prompts pack less densely: SmolLM2-135M on the demo task, 64 rows,
4 shots, 3 seeds took 27 evaluations' time; this counts 28).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from promptlab import settings
from promptlab.runs.layout import read_dict, write_json_atomic

CPU_FLOPS_PER_CORE = 20e9
GPU_FLOPS = 2e12
FORMULA_LOAD_SECONDS = 30.0
CHARS_PER_TOKEN = 3.0
FEW_SHOT_COST = 2  # a demonstration costs about twice a zero-shot prompt's reading (see above)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class Work:
    """What a run will read: characters trained on and evaluated, and evaluations of the baselines."""

    train_chars: float
    eval_chars: float  # all evaluations of the soft prompt
    baseline_chars: float  # 0 when the baselines will be reused
    train_tokens: float
    eval_tokens: float  # evaluations + baselines


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: str  # "measured" (a run of this model on this machine) or "formula" (an upper bound)
    train_seconds: float
    eval_seconds: float  # evaluations and baselines
    load_seconds: float
    speed: dict  # the record used ("measured"), or {"parameters": n, "flops": f} ("formula")
    steps: int = 0  # the run's optimizer steps
    baselines_reused: bool = False  # its baselines were measured before (they cost nothing)


def estimate_run(spec: dict, runs_root: Path, dataset=None, sample: int = 32) -> Estimate:
    """How long the run of job `spec` (as `tuning.spec.submit` takes it) would take, from `sample` of its rendered
    training and evaluation rows (`dataset`: its data, loaded already). ValueError when the spec cannot run."""
    from promptlab.data.sampling import evaluation_rows, sample_rows
    from promptlab.tuning.baseline_cache import baseline_key, cached_baselines
    from promptlab.tuning.spec import prepare_with_parts

    spec, parts = prepare_with_parts(spec, dataset)  # the spec and the checks `submit` would make
    config = parts.config
    steps = spec["total_steps"]
    eval_rows = evaluation_rows(parts.eval_rows, config.eval_size)
    train = _rendered(parts.template, sample_rows(parts.train_rows, sample, config.seed))
    evals = _rendered(parts.template, eval_rows[:sample])
    reused = cached_baselines(runs_root, baseline_key(parts, spec)) is not None
    amount = work(config, total_steps=steps, train_examples=train, eval_examples=evals, eval_size=len(eval_rows),
                  mode=parts.template.mode, baselines_reused=reused)
    found = estimate(amount, spec["model"], device_of(config.device), runs_root, threads=config.num_threads or None)
    return dataclasses.replace(found, steps=steps, baselines_reused=reused)


def _rendered(template, rows: list[dict]) -> list:
    """The Examples of the rows that render (a row that does not is left out of a sample)."""
    from promptlab.prompts.render import render

    out = []
    for row in rows:
        try:
            out.append(render(template, row))
        except ValueError:
            continue
    return out


def device_of(device: str) -> str:
    """The device a config's `device` trains on here ("auto": the GPU when this machine has an NVIDIA driver)."""
    if device == "auto":
        return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"
    return device


def example_chars(example, objective: str = "choices") -> int:
    """Characters the model reads for one Example: its prompt, and its choices (all of them) or gold target."""
    if objective == "choices" and example.choices:
        return len(example.prompt) + sum(len(example.delimiter + c) for c in example.choices)
    gold = example.choices[example.gold] if example.choices and example.gold is not None else example.target
    return len(example.prompt) + len(example.delimiter + (gold or ""))


def tokens_of(chars: float, text_sample: str = "") -> float:
    """Tokens in `chars` characters of text like `text_sample` (one per CJK character, else CHARS_PER_TOKEN)."""
    if not text_sample:
        return chars / CHARS_PER_TOKEN
    cjk = len(_CJK.findall(text_sample)) / max(1, len(text_sample))
    return chars * (cjk + (1 - cjk) / CHARS_PER_TOKEN)


def work(config, *, total_steps: int, train_examples: list, eval_examples: list, eval_size: int, mode: str,
         baselines_reused: bool) -> Work:
    """The characters a run of `config` reads, from samples of its rendered training and evaluation Examples."""
    objective = config.objective_for(mode)
    train_mean = _mean([example_chars(e, objective) for e in train_examples])
    eval_mean = _mean([example_chars(e, "choices") for e in eval_examples])
    train = total_steps * config.batch_size * config.grad_accum * train_mean
    evaluations = 1 + (total_steps // config.eval_every if config.eval_every else 1)
    if config.eval_every and total_steps % config.eval_every:
        evaluations += 1  # the last step is evaluated too
    evals = evaluations * eval_size * eval_mean
    baselines = 0.0
    if not baselines_reused:
        few = config.baseline_seeds * (1 + FEW_SHOT_COST * config.baseline_shots) if config.baseline_shots else 0
        baselines = eval_size * eval_mean * (1 + few)
    sample = "".join(e.prompt for e in (train_examples + eval_examples)[:50])
    return Work(train, evals, baselines, tokens_of(train, sample), tokens_of(evals + baselines, sample))


def _mean(values: list) -> float:
    return sum(values) / len(values) if values else 0.0


def estimate(work_: Work, model_id: str, device: str, runs_root: Path, threads: int | None = None) -> Estimate:
    """The run's duration from the last measured speed of `model_id` on `device` ("cpu" or "cuda") here, else
    from the formula (an upper bound)."""
    speed = read_speed(runs_root, model_id, device)
    if speed:
        train = work_.train_chars / speed["train_chars_per_s"]
        evals = (work_.eval_chars + work_.baseline_chars) / speed["eval_chars_per_s"]
        load = speed.get("load_seconds") or 0.0
        return Estimate(train + evals + load, "measured", train, evals, load, speed)
    parameters = parameter_count(model_id)
    flops = GPU_FLOPS if device == "cuda" else CPU_FLOPS_PER_CORE * (threads or _job_threads())
    if not parameters:
        return Estimate(0.0, "unknown", 0.0, 0.0, 0.0, {})
    train = 6 * parameters * work_.train_tokens / flops
    evals = 2 * parameters * work_.eval_tokens / flops
    return Estimate(train + evals + FORMULA_LOAD_SECONDS, "formula", train, evals, FORMULA_LOAD_SECONDS,
                    {"parameters": parameters, "flops": flops})


def _job_threads() -> int:
    """The CPU threads a job trains with (the worker's default: the cores shared by the jobs that may run)."""
    return max(1, (os.cpu_count() or 1) // settings.max_jobs())


# ---- speed records --------------------------------------------------------------------------------------------------

def _speed_file(runs_root: Path, model_id: str, device: str) -> Path:
    digest = hashlib.sha256(f"{model_id}\n{device}".encode()).hexdigest()[:24]
    return Path(runs_root) / ".speed" / f"{digest}.json"


def read_speed(runs_root: Path, model_id: str, device: str) -> dict | None:
    """The last speed recorded for `model_id` on `device` in this runs folder, or None."""
    found = read_dict(_speed_file(runs_root, model_id, device))
    numbers = [found.get(k) for k in ("train_chars_per_s", "eval_chars_per_s")]
    if found.get("model") != model_id or not all(isinstance(v, (int, float)) and v > 0 for v in numbers):
        return None
    return found


def record_speed(runs_root: Path, model_id: str, device: str, *, run_id: str, train_chars_per_s: float,
                 eval_chars_per_s: float, load_seconds: float) -> None:
    """Remember how fast `model_id` trained and evaluated on `device` (best effort: a full disk skips it)."""
    path = _speed_file(runs_root, model_id, device)
    if path.parent.is_symlink() or not (train_chars_per_s > 0 and eval_chars_per_s > 0):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"model": model_id, "device": device, "run": run_id, "measured_at": time.time(),
                                 "train_chars_per_s": round(train_chars_per_s, 1),
                                 "eval_chars_per_s": round(eval_chars_per_s, 1),
                                 "load_seconds": round(load_seconds, 1)})
    except OSError:
        pass


# ---- the model's size, from its weights' headers -------------------------------------------------------------------

def parameter_count(model_id: str) -> int:
    """The parameters of a model whose weights are on this machine, read from the safetensors headers (no weight
    is read, nothing converted or downloaded); 0 when they are not here."""
    folder = _local_folder(model_id)
    if folder is None:
        return 0
    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        total += _safetensors_parameters(file)
    return total


def _local_folder(model_id: str) -> Path | None:
    from promptlab.models.registry import BUNDLED

    if model_id in BUNDLED:  # its converted cache, if the app has made it (never converted here)
        found = sorted((settings.cache_dir() / "models").glob(f"{model_id}-*/model.safetensors"))
        return found[-1].parent if found else None
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, allow_patterns=["*.safetensors"], local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the local cache
        return None


def _safetensors_parameters(file: Path) -> int:
    try:
        with open(file, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size < 100 * 2**20:
                return 0
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return 0
    total = 0
    for name, tensor in header.items():
        if name != "__metadata__" and isinstance(tensor, dict):
            count = 1
            for dim in tensor.get("shape") or ():
                count *= int(dim)
            total += count
    return total
