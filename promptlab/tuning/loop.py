"""The training loop: explicit and readable top to bottom (nanoGPT style), on `accelerate`.

One optimizer step = `grad_accum` micro-batches of `batch_size` examples per process. The loss is built from the
model family's scoring module (`lm.scorer_for`: packed causal scoring, seq2seq decoder labels, or masked-LM label
words at the mask slot), the scorer's own path, on the same `Example`s the template renders:

* objective "choices" (classification): cross-entropy over each example's answer-choice log-likelihoods, i.e.
  log_softmax over exactly the numbers the scorer ranks;
* objective "lm": the gold continuation's token log-likelihood (mean over target tokens); generation always.

Resume is exact: the data order is a pure function of (seed, epoch), and a checkpoint carries the weights,
optimizer, scheduler, RNG and loop state, so a resumed run takes the same steps as one never interrupted.
Several processes (`accelerate launch`) each take a slice of every batch; the few trainable parameters' gradients
are averaged by hand (no DDP wrapper, so the PEFT model is passed to the scorer unchanged).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from promptlab.messages import UserError
from promptlab.models.lm import LM, max_length, n_scored, scorer_for
from promptlab.models.requests import Request
from promptlab.scoring import evaluate as scoring
from promptlab.scoring.metrics import is_better
from promptlab.tuning import checkpoint as ckpt
from promptlab.tuning.config import TuneConfig
from promptlab.tuning.estimate import example_chars
from promptlab.tuning.methods import drift, nearest_tokens, virtual_token_vectors
from promptlab.tuning.run import Cancelled, Run


class TrainingError(UserError):
    """Training cannot go on (the loss is not finite, ...); the message says what to change."""


@dataclass
class LoopState:
    """What the loop carries from step to step (and a checkpoint saves): the best evaluation so far, evaluations
    since it (early stopping), and the tokens, characters and seconds trained, for throughput."""

    best: dict = field(default_factory=dict)
    bad_evals: int = 0
    tokens: int = 0
    chars: int = 0  # characters the model read while training (`estimate.example_chars`): the speed record's unit
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LoopState:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Setup:
    """Everything the loop needs; the worker prepares it."""

    run: Run
    config: TuneConfig
    model: object  # a PeftModel
    tokenizer: object
    train: list  # Examples (labelled)
    val: list  # Examples of the fixed validation subset
    mode: str  # "rank" | "generate"
    accelerator: object
    total_steps: int
    model_name: str = "model"
    state: LoopState = field(default_factory=LoopState)
    finish_adapter: Callable[[Path, dict], None] | None = None  # (adapter folder, best line): card, portable config
    record_speed: Callable[[float, float], None] | None = None  # (train, eval characters per second) on this machine


def train(s: Setup) -> str:
    """Train to `total_steps` (or an early stop); return "done" or "early_stopped". Raises Cancelled on STOP."""
    config, run, accelerator = s.config, s.run, s.accelerator
    params = [p for p in s.model.parameters() if p.requires_grad]
    raw_optimizer = make_optimizer(config, params)
    scheduler = torch.optim.lr_scheduler.LambdaLR(raw_optimizer, lr_schedule(config, s.total_steps))
    optimizer = accelerator.prepare_optimizer(raw_optimizer)  # fp16: loss scaling; otherwise a thin wrapper
    step, initial = _start_or_resume(s, optimizer, scheduler)
    next_batch = batch_source(s)
    session_start, session_steps = time.perf_counter(), 0
    last_checkpoint = step

    while step < s.total_steps:
        if run.stop_requested():  # between steps everything is consistent: keep the progress, then stop
            if step > last_checkpoint:
                _checkpoint(s, step, optimizer, scheduler, initial)
            raise Cancelled()
        t0 = time.perf_counter()
        s.model.train()
        loss, tokens, chars = 0.0, 0, 0
        objective = config.objective_for(s.mode)
        for micro in range(config.grad_accum):
            examples = next_batch(step * config.grad_accum + micro)
            part_loss, part_tokens = micro_batch(s, examples, objective, scale=1.0 / config.grad_accum)
            loss, tokens = loss + part_loss, tokens + part_tokens
            chars += sum(example_chars(e, objective) for e in examples)
        loss = _mean_over_processes(accelerator, loss)
        if not math.isfinite(loss):
            raise TrainingError("tuning.loss_not_finite", step=step + 1, loss=loss, lr=config.lr,
                                checkpoint=last_checkpoint)
        grad_norm = _sync_and_clip(accelerator, params, config.max_grad_norm)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step, session_steps = step + 1, session_steps + 1
        s.state.chars += chars * accelerator.num_processes
        _log_step(s, step, loss, lr, grad_norm, tokens * accelerator.num_processes, time.perf_counter() - t0)

        last = step == s.total_steps
        stop_early = False
        if last or (config.eval_every and step % config.eval_every == 0):
            tracked = evaluate_and_track(s, step) if accelerator.is_main_process else False
            stop_early = _broadcast(accelerator, tracked)
        if last or stop_early or (config.checkpoint_every and step % config.checkpoint_every == 0):
            _checkpoint(s, step, optimizer, scheduler, initial)
            last_checkpoint = step
        eta = (s.total_steps - step) * (time.perf_counter() - session_start) / session_steps
        run.status(step=step, eta_seconds=round(eta, 1), best=s.state.best)
        if stop_early:
            run.log(f"early stop at step {step}: no better {_stop_metric(s)} in "
                    f"{config.early_stopping_patience} evaluations")
            return "early_stopped"
    return "done"


def batch_source(s: Setup):
    """A function: micro-batch number -> this process's examples (each process takes its slice of a batch)."""
    config, accelerator = s.config, s.accelerator
    per_step = config.batch_size * accelerator.num_processes
    per_epoch = len(s.train) // per_step
    if per_epoch == 0:
        raise TrainingError("tuning.batch_too_big", n=len(s.train), per_step=per_step, batch=config.batch_size,
                            processes=accelerator.num_processes)
    lengths = [len(e.prompt) for e in s.train]
    cache: dict[int, list[list[int]]] = {}

    def examples(number: int) -> list:
        epoch, index = divmod(number, per_epoch)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = epoch_batches(lengths, per_step, config.seed, epoch)
        first = accelerator.process_index * config.batch_size
        mine = slice(first, first + config.batch_size)
        return [s.train[i] for i in cache[epoch][index][mine]]

    return examples


def _log_step(s: Setup, step: int, loss: float, lr: float, grad_norm: float, tokens: int, seconds: float) -> None:
    s.state.tokens += tokens
    s.state.seconds += seconds
    config, accelerator = s.config, s.accelerator
    examples = config.batch_size * config.grad_accum * accelerator.num_processes
    per_epoch = len(s.train) // (config.batch_size * accelerator.num_processes)
    s.run.metric(step=step, epoch=round(step * config.grad_accum / per_epoch, 4), loss=loss, lr=lr,
                 grad_norm=grad_norm, tokens_per_s=round(tokens / seconds, 1),
                 examples_per_s=round(examples / seconds, 2))
    s.run.log(f"step {step}/{s.total_steps} loss {loss:.4f} lr {lr:.3g} {tokens / seconds:.0f} tok/s")


# ---- start / resume ---------------------------------------------------------------------------------------------


def _start_or_resume(s: Setup, optimizer, scheduler) -> tuple[int, torch.Tensor | None]:
    """Load the newest checkpoint (exact resume) or start fresh with the step-0 evaluation."""
    run = s.run
    found = ckpt.list_checkpoints(run.checkpoints)
    init_path = run.path / "init_vectors.pt"
    if found:
        saved = ckpt.load_checkpoint(found[-1], s.model, optimizer, scheduler)
        step = saved.pop("step")
        s.state = LoopState.from_dict(saved)
        run.keep_metrics_through(step)
        run.log(f"resumed from checkpoint {found[-1].name}")
        initial = torch.load(init_path, weights_only=True) if init_path.exists() else None
        return step, initial
    run.keep_metrics_through(-1)  # a run killed before its first checkpoint starts over
    if run.read_status().get("resumed_from") == 0:
        run.log("resumed with no checkpoint (the run stopped before writing one): training starts over at step 0")
    initial = virtual_token_vectors(s.model)
    if initial is not None and s.accelerator.is_main_process:
        torch.save(initial, init_path)
    if s.accelerator.is_main_process:
        evaluate_and_track(s, 0)
        _probe(s, 0, initial)
    s.accelerator.wait_for_everyone()
    return 0, initial


def _checkpoint(s: Setup, step: int, optimizer, scheduler, initial) -> None:
    if s.accelerator.is_main_process:
        _probe(s, step, initial)
        ckpt.save_checkpoint(s.run.checkpoints, step, s.model, optimizer, scheduler, s.state.to_dict(),
                             s.config.keep_checkpoints)
    s.accelerator.wait_for_everyone()


def _probe(s: Setup, step: int, initial) -> None:
    """Nearest vocabulary tokens (cosine) of each virtual token, and how far each moved from its init."""
    vectors = virtual_token_vectors(s.model)
    if vectors is None or initial is None:
        return
    s.run.metric(step=step, kind="nearest_tokens", tokens=nearest_tokens(s.model, s.tokenizer),
                 drift=[round(d, 5) for d in drift(vectors, initial)])


# ---- data order -------------------------------------------------------------------------------------------------


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Full batches of example indices for one epoch: shuffled, grouped by length, order a function of the seed.

    Within windows of 64 batches examples are sorted by length, so a batch's rows pad little; the batches are
    then shuffled, so lengths do not drift over the epoch. Leftover examples (< one batch) wait for the next epoch.
    """
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    usable = len(order) - len(order) % batch_size
    window = batch_size * 64
    batches = []
    for start in range(0, usable, window):
        chunk = sorted(order[start:min(start + window, usable)], key=lambda i: lengths[i])
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


# ---- loss -------------------------------------------------------------------------------------------------------


def objective_requests(examples, objective: str) -> tuple[list[Request], list[tuple[int, int]]]:
    """The requests a loss needs and, per request, (example index, choice index or -1)."""
    requests, owners = [], []
    for j, e in enumerate(examples):
        if objective == "choices":
            for c, choice in enumerate(e.choices):
                requests.append(Request(e.prompt, e.delimiter + choice))
                owners.append((j, c))
        else:
            gold = e.choices[e.gold] if e.choices else e.target
            requests.append(Request(e.prompt, e.delimiter + gold))
            owners.append((j, -1))
    return requests, owners


def micro_batch(s: Setup, examples, objective: str, scale: float) -> tuple[float, int]:
    """Forward + backward over `examples` (in token-budget sub-batches); return (scaled loss, tokens seen)."""
    requests, owners = objective_requests(examples, objective)
    scorer = scorer_for(s.model)
    encoded = scorer.encode(s.tokenizer, requests, min(s.config.max_length, max_length(s.model, s.tokenizer)))
    if objective == "choices":
        denominator = len(examples)
    else:
        denominator = sum(n_scored(e) for e in encoded)
    total, tokens = 0.0, 0
    for indices in scorer.batches(encoded, s.config.max_tokens):
        sums, _ = scorer.logprobs(s.model, encoded, indices)
        if objective == "choices":
            loss = choice_cross_entropy(sums, [owners[i] for i in indices], examples)
        else:
            loss = -sums.sum()
        loss = loss * (scale / denominator)
        s.accelerator.backward(loss)
        total += loss.item()
        tokens += scorer.tokens_read(encoded, indices)
    return total, tokens


def choice_cross_entropy(sums: torch.Tensor, owners: list[tuple[int, int]], examples) -> torch.Tensor:
    """Summed over examples: -log softmax(choice log-likelihoods)[gold]."""
    by_example: dict[int, list[tuple[int, int]]] = {}
    for position, (j, c) in enumerate(owners):
        by_example.setdefault(j, []).append((c, position))
    losses = []
    for j, pairs in by_example.items():
        pairs.sort()
        scores = sums[torch.tensor([p for _, p in pairs], device=sums.device)]
        losses.append(-torch.log_softmax(scores, dim=0)[examples[j].gold])
    return torch.stack(losses).sum()


def is_labelled(example) -> bool:
    """Has a gold answer to learn from: a gold choice (classification) or a non-empty target (generation)."""
    return example.gold is not None if example.choices else bool(example.target.strip())


# ---- optimizer ----------------------------------------------------------------------------------------------------


def make_optimizer(config: TuneConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def lr_schedule(config: TuneConfig, total_steps: int):
    """Multiplier of the base lr at each step: linear warmup, then linear/cosine decay or constant.

    Warmup is clipped to a tenth of the run, so a short run still spends most steps at full rate.
    """
    warmup = min(config.warmup_steps, total_steps // 10)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        return 1.0

    return factor


def _sync_and_clip(accelerator, params, max_norm: float) -> float:
    """Average gradients over processes (by hand: they are few), then clip; return the gradient norm."""
    if accelerator.num_processes > 1:
        for p in params:
            if p.grad is not None:
                p.grad = accelerator.reduce(p.grad, reduction="mean")
    if max_norm:
        return float(accelerator.clip_grad_norm_(params, max_norm))
    return float(torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None])))


def _mean_over_processes(accelerator, value: float) -> float:
    if accelerator.num_processes == 1:
        return value
    return float(accelerator.reduce(torch.tensor(value, device=accelerator.device), reduction="mean"))


def _broadcast(accelerator, value):
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]


# ---- evaluation ----------------------------------------------------------------------------------------------------


def evaluate(s: Setup, step: int) -> dict:
    """Score the validation subset with the engine's scorer; add the validation loss of the training objective."""
    s.model.eval()
    lm = LM.from_model(s.model, s.tokenizer, s.model_name)
    result = scoring.evaluate(lm, s.val, progress=s.run.check_stop)
    line = {"step": step, "split": "val", **{k: v for k, v in result.metrics.items() if k != "majority"}}
    objective = s.config.objective_for(s.mode)
    labelled = [i for i, e in enumerate(s.val) if is_labelled(e)]
    if not labelled:  # nothing to measure a loss on (the scorer's metrics say so too)
        return line
    if objective == "choices":  # the same softmax the loss takes, from the scorer's own probabilities
        nll = [-math.log(max(result.probs[i][s.val[i].gold], 1e-30)) for i in labelled]
        line["val_loss"] = sum(nll) / len(nll)
    else:
        requests, _ = objective_requests([s.val[i] for i in labelled], "lm")
        scores = lm.loglikelihood(requests, progress=s.run.check_stop)
        line["val_loss"] = -sum(r.logprob for r in scores) / max(1, sum(r.n_tokens for r in scores))
    return line


def _stop_metric(s: Setup) -> str:
    return s.config.stopping_metric_for(s.mode)


def evaluate_and_track(s: Setup, step: int) -> bool:
    """Evaluate, log, keep the best adapter; return True when early stopping says stop."""
    t0 = time.perf_counter()
    line = evaluate(s, step)
    seconds = time.perf_counter() - t0
    line["eval_seconds"] = round(seconds, 2)
    s.run.metric(**line)
    if s.record_speed is not None and s.state.seconds > 0 and seconds > 0:
        s.record_speed(s.state.chars / s.state.seconds, sum(example_chars(e) for e in s.val) / seconds)
    metric = _stop_metric(s)
    s.run.log(f"eval step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in line.items()
                                                 if isinstance(v, float) and k != "eval_seconds"))
    best = s.state.best
    value, previous = line.get(metric), best.get(metric)
    better = value is not None and (previous is None or is_better(metric, value, previous))
    better = better or not best  # the first evaluation is the best so far, even without the metric
    if better:
        s.state.best = line
        s.state.bad_evals = 0
        finish = s.finish_adapter
        ckpt.save_adapter(s.model, s.run.adapter, finish=(lambda folder: finish(folder, line)) if finish else None)
        return False
    s.state.bad_evals += 1
    patience = s.config.early_stopping_patience
    return bool(patience) and s.state.bad_evals >= patience
