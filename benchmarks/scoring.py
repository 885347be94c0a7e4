"""Scoring speed: PromptLab's packed scorer vs lm-evaluation-harness vs a naive scorer, on the same requests.

Run from the repository root with the project's venv (lm-eval comes with `pip install -e .[bench]`):

    python benchmarks/scoring.py            # 200 SST-2 + 100 AG News dev rows; ~7 min of CPU, one core
    python benchmarks/scoring.py --json     # the same; the last stdout line is one JSON object
    python benchmarks/scoring.py --rows 100 --repeats 3
    python benchmarks/scoring.py --explore  # also: where our time goes, and engine variants (monkeypatched)
    python benchmarks/scoring.py --ours-variant "bin-pack rows to 256"   # time ours with an engine variant
    python benchmarks/scoring.py --threads 2                             # all cores, wall clock (quiet machine)
    python benchmarks/scoring.py --families-only  # only the seq2seq and masked-LM rows (~1 min)

What it does, in one process with one loaded model (the bundled SmolLM2-135M-Instruct, fp32 on CPU):

* Requests are built once with the engine: `experiment.build_examples(template, rows)` then
  `evaluate.requests_for(examples)`: one `Request(prompt, " " + choice)` per (row, answer choice). SST-2
  (`sst2-review-sentiment`, 2 one-token choices) uses the first `--rows` rows of `../shared/datasets/sst2`
  validation; AG News (`ag-news-article-answer`: instruction + article `text`, 4 one-token choices) the first
  `--rows // 2` rows of `ag_news` validation (its prompts are ~3x longer).
* Three scorers get exactly these requests and return one summed log-probability per request:
  - **ours**: `LM.loglikelihood(requests)` (shared-context rows, tree mask, output head only where scored);
  - **lm-eval**: lm-evaluation-harness's real Hugging Face backend, `HFLM(pretrained=<our model>,
    tokenizer=<our tokenizer>, batch_size=B, add_bos_token=<what our encoder does: False for SmolLM2>)`,
    called with `Instance(request_type="loglikelihood", doc={}, arguments=(context, continuation), idx=i)`.
    Its default one-token-continuation logits cache stays on: one forward per context, as it normally runs.
    B is its fastest of `--lm-eval-batch-sizes` on the first quarter of each dataset (printed);
  - **naive**: per request one `model(context + continuation).logits` forward (full vocabulary at every
    position), `log_softmax`, sum over the continuation tokens (same token ids as ours).
  Every scorer's time includes its own tokenisation, from the request strings to the numbers.
* Timing. The machine is shared, and with 2 torch threads a competing process makes every op wait for a
  descheduled thread (a forward measured 4x-10x slower than on one thread). So by default everything runs on
  ONE torch thread and is timed in this process's CPU seconds (`time.process_time`): what the work takes with a
  core to itself, stable to a few percent however busy the others keep the machine. `--threads N` (N > 1) times
  wall clock instead; `--threads auto` takes 1 or all threads, whichever runs a probe forward faster right now.
  The three scorers run interleaved (rotating order), ours and lm-eval `--repeats` times, naive
  `--naive-repeats` times; each keeps its best.
* Agreement: per example, the argmax over its choices must match between ours and each other scorer (asserted
  >= 99%), and every request's log-probability must agree within 1e-3 (the max difference is printed).

Numbers printed:

* `examples/s`: dataset rows scored per second (a row = all of its choices), best of the repeats.
* `ratio vs naive`, `ratio vs lm-eval`: our examples/s over theirs, on both datasets together (total rows / total
  seconds) and per dataset. Targets: >= 3x and >= 1.3x.
* `peak_fraction`: our *useful* forward FLOP/s over a fp32 matmul peak measured in the same run on the same
  threads (best of ~1 s of 2048^3 `torch.matmul`, at the start and the end; the model's own GEMM shapes at a
  2048-token batch are printed too). Useful FLOPs count only real tokens (padding excluded), read from what
  actually reaches the model through hooks: 2 x non-embedding parameters per token, attention
  4 x layers x (heads x head_dim) x (keys the token attends to under the mask), and the output head
  2 x hidden x vocab only at scored positions. Masked-out attention and padding are not counted, so it is a
  lower bound on what the hardware executes. Target: >= 50%.
* `--explore` adds: a breakdown of our time by engine step, operator shares from torch.profiler, and engine
  variants (token budget, rows packed side by side) timed on the first quarter of each dataset, with padding.

The other two model families get one row each (benchmarks/scoring_families.py): a seq2seq (T5) and a masked-LM
(BERT, cloze) row, ours vs a naive per-choice forward on the same `--rows` SST-2 rows, random weights of real small
models' shapes, timed on the same clock. `--no-families` skips them, `--families-only` runs only them.

With `--json` the last stdout line is one JSON object with `ratio_vs_naive`, `ratio_vs_lm_eval`,
`peak_fraction` (both datasets together), per-dataset details and `families`; the exit status is 1 if predictions
or log-probabilities disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptlab.models import packing
from promptlab.models.lm import LM, load_lm
from promptlab.models.requests import Request
from promptlab.prompts.files import load_template
from promptlab.prompts.values import Example
from promptlab.scoring import evaluate, experiment
from promptlab.settings import shared_datasets_dir, templates_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring_families import run_families  # noqa: E402 - beside this file

DATASETS = (  # (name, template, rows as a fraction of --rows)
    ("sst2", "sst2-review-sentiment", 1.0),
    ("ag_news", "ag-news-article-answer", 0.5),
)
PEAK_SHAPES = (  # (m, k, n): the square "peak" first, then the model's biggest GEMMs at a 2048-token batch
    ("square 2048^3", 2048, 2048, 2048),
    ("mlp up/gate 2048x576 @ 576x1536", 2048, 576, 1536),
    ("mlp down 2048x1536 @ 1536x576", 2048, 1536, 576),
    ("q/o proj 2048x576 @ 576x576", 2048, 576, 576),
)
LOGPROB_TOLERANCE = 1e-3
MIN_AGREEMENT = 0.99


# --------------------------------------------------------------------------------------------------- scorers


def score_ours(lm: LM, requests: Sequence[Request]) -> list[float]:
    return [r.logprob for r in lm.loglikelihood(requests)]


def make_lm_eval(lm: LM, batch_size: int):
    """lm-evaluation-harness's HF backend on our loaded model and tokenizer, with our BOS choice."""
    from lm_eval.models.huggingface import HFLM

    add_bos = bool(packing._bos_prefix(lm.tokenizer))  # SmolLM2: False (its tokenizer adds no BOS)
    with _quiet():
        return HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=batch_size, add_bos_token=add_bos,
                    max_length=lm.max_length)


def score_lm_eval(hflm, requests: Sequence[Request]) -> list[float]:
    from lm_eval.api.instance import Instance

    instances = [Instance(request_type="loglikelihood", doc={}, arguments=(r.context, r.continuation), idx=i)
                 for i, r in enumerate(requests)]
    return [lp for lp, _greedy in hflm.loglikelihood(instances, disable_tqdm=True)]


def score_naive(lm: LM, requests: Sequence[Request]) -> list[float]:
    """One full forward per request, full-vocabulary logits at every position, log_softmax, sum."""
    encoded = packing.encode(lm.tokenizer, requests, lm.max_length)  # the same tokens as the other two
    out = []
    with torch.inference_mode():
        for enc in encoded:
            ids = torch.tensor([enc.context + enc.continuation], device=lm.device)
            logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), dim=-1)
            n = len(enc.continuation)
            targets = torch.tensor(enc.continuation, device=lm.device)
            out.append(logp[-n - 1:-1].gather(1, targets[:, None]).sum().item())
    return out


# --------------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet():
    """lm-eval and transformers warn a lot about passing a loaded model; keep the table readable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loggers = [logging.getLogger(n) for n in ("lm_eval", "lm-eval", "transformers", "accelerate")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, lv in zip(loggers, levels):
                lg.setLevel(lv)


# The clock every timing uses. With one torch thread (the default) it is this process's CPU time: on a shared
# machine that is the time the work takes when it has a core to itself, however busy the others keep the machine.
# With more threads CPU time would add the threads up, so it is wall-clock time (best of the repeats) instead.
CLOCK: Callable[[], float] = time.process_time


def timed(fn: Callable, *args) -> tuple[float, list[float]]:
    gc.collect()
    start = CLOCK()
    out = fn(*args)
    return CLOCK() - start, out


def load_rows(dataset: str, n: int) -> list[dict]:
    root = shared_datasets_dir()
    if root is None:
        raise SystemExit("../shared/datasets not found beside the checkout (set PROMPTLAB_SHARED_DATASETS).")
    with open(root / dataset / "validation.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line, _ in zip(f, range(n))]
    return rows


def predictions(examples: Sequence[Example], logprobs: Sequence[float]) -> list[int]:
    out, i = [], 0
    for e in examples:
        scores = logprobs[i:i + len(e.choices)]
        out.append(max(range(len(scores)), key=scores.__getitem__))
        i += len(e.choices)
    return out


def matmul_flops(m: int, k: int, n: int, seconds: float = 1.0) -> float:
    """Best fp32 FLOP/s of `a @ b` (m x k @ k x n) over about `seconds` of repeats."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    c = torch.empty(m, n)
    torch.matmul(a, b, out=c)  # warm-up
    best, spent = float("inf"), 0.0
    while spent < seconds:
        start = CLOCK()
        torch.matmul(a, b, out=c)
        dt = CLOCK() - start
        best, spent = min(best, dt), spent + dt
    return 2 * m * k * n / best


def pick_threads(lm: LM, wanted: str, log) -> int:
    """`--threads`: a number, or "auto": whichever of 1 and all threads runs a 1024-token forward faster now.

    On a shared machine, when another process competes for a core, every multi-threaded op waits for its
    descheduled thread and a forward can be 4-10x slower than on one thread (measured here: 8.4 s vs 2.2 s);
    when the machine is quiet, all threads win. All three scorers and the matmul peak run on the same count.
    """
    most = torch.get_num_threads()
    if wanted != "auto":
        torch.set_num_threads(int(wanted))
        return int(wanted)
    ids = torch.randint(0, 1000, (4, 256), device=lm.device)
    probe: dict[int, float] = {}
    with torch.inference_mode():
        for _ in range(3):
            for n in sorted({most, 1}, reverse=True):
                torch.set_num_threads(n)
                start = time.perf_counter()
                packing.peft_parts(lm.model)[0].base_model(ids)
                dt = time.perf_counter() - start
                probe[n] = min(probe.get(n, dt), dt)
    chosen = 1 if probe[1] < 0.9 * probe[most] else most  # all threads unless one is clearly faster now
    torch.set_num_threads(chosen)
    log("threads: auto probe (best of 3 forwards of 4x256 tokens): "
        + ", ".join(f"{n} thread(s) {t * 1e3:.0f} ms" for n, t in probe.items()) + f" -> using {chosen}")
    return chosen


def measure_peaks(seconds: float = 1.0) -> dict[str, float]:
    return {name: matmul_flops(m, k, n, seconds) for name, m, k, n in PEAK_SHAPES}


@dataclass
class ModelShape:
    layers: int
    hidden: int
    attn_width: int  # heads x head_dim (the width of q and of the attention output)
    vocab: int
    non_embedding: int  # decoder parameters, excluding token embeddings and the output head

    @classmethod
    def of(cls, model) -> ModelShape:
        hf = packing.peft_parts(model)[0]
        cfg = hf.config.get_text_config()
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        embed = hf.get_input_embeddings().weight
        out = hf.get_output_embeddings().weight
        seen = {embed.data_ptr(), out.data_ptr()}
        non_embedding = sum(p.numel() for p in hf.parameters() if p.data_ptr() not in seen)
        return cls(cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads * head_dim, cfg.vocab_size,
                   non_embedding)


class FlopCounter:
    """Counts our scorer's useful forward FLOPs from what really reaches the model (hooks; engine untouched).

    The decoder's inputs give the real (non-padding) tokens and, from the boolean attention mask, how many keys each
    real token attends to; the output head's input gives the number of scored positions. Padding is the tail of a
    row whose tokens sit at position 0 and see only themselves (that is how the engine pads).
    """

    def __init__(self, model, shape: ModelShape):
        self.hf = packing.peft_parts(model)[0]
        self.shape = shape
        self.real = self.padded = self.keys = self.scored = 0

    def _decoder(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs["inputs_embeds"][..., 0]
        batch, length = ids.shape[:2]
        pos = kwargs.get("position_ids")
        mask = kwargs.get("attention_mask")
        self.padded += batch * length
        if isinstance(mask, torch.Tensor) and mask.dim() == 4 and mask.dtype == torch.bool:
            seen = mask[:, 0, -length:, :].sum(-1)  # (batch, length): keys each query sees
            alive = seen > 1
            if pos is not None:
                alive |= pos > 0
            alive[:, 0] = True
            idx = torch.arange(length).expand(batch, -1)
            real_len = torch.where(alive, idx + 1, 0).max(-1).values  # padding is a row's tail
            real = idx < real_len[:, None]
            self.real += int(real.sum())
            self.keys += int(seen[real].sum())
        else:  # no tree mask: causal (and 2-D padding mask if given)
            keep = mask.bool() if isinstance(mask, torch.Tensor) and mask.dim() == 2 else torch.ones(batch, length,
                                                                                                     dtype=torch.bool)
            self.real += int(keep.sum())
            self.keys += int((keep.cumsum(-1) * keep).sum())

    def _head(self, module, args, output):
        self.scored += args[0].shape[:-1].numel()

    @contextlib.contextmanager
    def counting(self):
        hooks = [self.hf.base_model.register_forward_pre_hook(self._decoder, with_kwargs=True),
                 self.hf.get_output_embeddings().register_forward_hook(self._head)]
        try:
            yield self
        finally:
            for h in hooks:
                h.remove()

    def summary(self) -> dict[str, float]:
        s = self.shape
        linear = 2 * s.non_embedding * self.real
        attention = 4 * s.layers * s.attn_width * self.keys
        head = 2 * s.hidden * s.vocab * self.scored
        return {"flops": linear + attention + head, "linear": linear, "attention": attention, "head": head,
                "real_tokens": self.real, "padded_tokens": self.padded, "scored_positions": self.scored}


def count_flops(lm: LM, requests: Sequence[Request], shape: ModelShape) -> dict[str, float]:
    """One untimed run of our scorer with the counting hooks on (it doubles as the warm-up)."""
    counter = FlopCounter(lm.model, shape)
    with counter.counting():
        score_ours(lm, requests)
    return counter.summary()


# --------------------------------------------------------------------------------------------------- benchmark

SCORERS = ("ours", "lm-eval", "naive")


@dataclass
class Workload:
    name: str
    template: str
    examples: list[Example]
    slices: list[list[Request]]  # the requests of consecutive example slices (each timed on its own)

    @property
    def requests(self) -> list[Request]:
        return [r for s in self.slices for r in s]


def build_workload(name: str, template_name: str, n_rows: int, n_slices: int) -> Workload:
    template = load_template(templates_dir() / f"{template_name}.yaml")
    examples = experiment.build_examples(template, load_rows(name, n_rows))
    n_slices = max(1, min(n_slices, len(examples)))
    bounds = [round(k * len(examples) / n_slices) for k in range(n_slices + 1)]
    slices = [evaluate.requests_for(examples[a:b]) for a, b in itertools.pairwise(bounds)]
    return Workload(name, template_name, examples, slices)


@dataclass
class DatasetResult:
    name: str
    template: str
    rows: int
    requests: int
    lm_eval_batch: int
    lm_eval_sweep: dict[int, float]
    seconds: dict[str, float] = field(default_factory=dict)  # sum over slices of each slice's best time
    per_repeat: dict[str, list[float]] = field(default_factory=dict)  # whole-dataset time of each repeat
    agreement: dict[str, float] = field(default_factory=dict)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    flops: dict[str, float] = field(default_factory=dict)

    def per_s(self, scorer: str) -> float:
        return self.rows / self.seconds[scorer]


def pick_lm_eval_batch(lm: LM, requests: Sequence[Request], sizes: Sequence[int], log) -> tuple[int, dict]:
    """lm-eval's best batch size here: every candidate scores the same requests once, the fastest wins."""
    if len(sizes) == 1:
        return sizes[0], {}
    sweep: dict[int, float] = {}
    for bs in sizes:
        sweep[bs] = timed(score_lm_eval, make_lm_eval(lm, bs), requests)[0]
    log(f"    lm-eval batch_size sweep ({len(requests)} requests, the first quarter): "
        + ", ".join(f"{bs}: {t:.2f}s" for bs, t in sweep.items()))
    return min(sweep, key=sweep.get), sweep


def run_dataset(lm: LM, work: Workload, args, shape: ModelShape, log) -> DatasetResult:
    log(f"\n{work.name}: {len(work.examples)} rows, {len(work.requests)} requests, template {work.template}, "
        f"{len(work.slices)} slices")
    with engine_variant(lm, args.ours_variant):
        score_ours(lm, work.slices[0][:8])  # warm-up
    quarter = evaluate.requests_for(work.examples[: max(len(work.examples) // 4, 1)])
    batch, sweep = pick_lm_eval_batch(lm, quarter, args.lm_eval_batch_sizes, log)
    hflm = make_lm_eval(lm, batch)
    score_naive(lm, work.slices[0][:8])  # warm-up (lm-eval is warm from the sweep)

    counter = FlopCounter(lm.model, shape)  # counts what our scorer runs in its first repeat (hooks, ~free)

    def ours(requests):
        with engine_variant(lm, args.ours_variant):
            return score_ours(lm, requests)

    scorers = {"ours": ours, "lm-eval": lambda r: score_lm_eval(hflm, r), "naive": lambda r: score_naive(lm, r)}
    best: dict[tuple[str, int], float] = {}
    per_repeat: dict[str, list[float]] = {s: [] for s in SCORERS}
    outputs: dict[str, list[list[float]]] = {s: [] for s in SCORERS}
    for rep in range(args.repeats):
        spent = dict.fromkeys(SCORERS, 0.0)
        for k, requests in enumerate(work.slices):
            shift = (rep + k) % len(SCORERS)  # rotate, so no scorer always runs first after another one
            for s in SCORERS[shift:] + SCORERS[:shift]:
                if s == "naive" and rep >= args.naive_repeats:
                    continue
                with counter.counting() if s == "ours" and rep == 0 else contextlib.nullcontext():
                    dt, out = timed(scorers[s], requests)
                best[s, k] = min(best.get((s, k), dt), dt)
                spent[s] += dt
                if rep == 0:
                    outputs[s].append(out)
        for s in SCORERS:
            if s != "naive" or rep < args.naive_repeats:
                per_repeat[s].append(spent[s])
        log(f"    repeat {rep + 1}: " + ", ".join(f"{s} {per_repeat[s][-1]:.2f}s" for s in SCORERS
                                                   if len(per_repeat[s]) > rep))

    seconds = {s: sum(best[s, k] for k in range(len(work.slices))) for s in SCORERS}
    res = DatasetResult(work.name, work.template, len(work.examples), len(work.requests), batch, sweep,
                        seconds=seconds, per_repeat=per_repeat, flops=counter.summary())
    logprobs = {s: [x for out in outputs[s] for x in out] for s in SCORERS}
    preds = {s: predictions(work.examples, logprobs[s]) for s in SCORERS}
    gold = [e.gold for e in work.examples]
    for s in SCORERS:
        res.accuracy[s] = sum(p == g for p, g in zip(preds[s], gold)) / len(gold)
        if s != "ours":
            res.agreement[s] = sum(a == b for a, b in zip(preds["ours"], preds[s])) / len(work.examples)
            res.max_abs_diff[s] = max(abs(a - b) for a, b in zip(logprobs["ours"], logprobs[s]))
    return res


# --------------------------------------------------------------------------------------------------- explore


def binpacked_plan(original: Callable, target: int) -> Callable:
    """Engine variant: first-fit-decreasing packing of single-context rows into rows of up to `target` tokens.

    Unrelated contexts share a row (the engine's tree mask keeps them apart: a token sees only its own context,
    and any common prefix, which the packer then stores once). Rows the engine already merged are kept as they are.
    """

    def plan(encoded, indices):
        rows = original(encoded, indices)
        merged = [r for r in rows if len(r) > 1]
        singles = sorted((r for r in rows if len(r) == 1), key=lambda r: -packing._row_length(encoded, r))
        cap = max([target] + [packing._row_length(encoded, r) for r in singles])
        bins: list[list[list[int]]] = []
        sizes: list[int] = []
        for row in singles:
            n = packing._row_length(encoded, row)
            for b, size in enumerate(sizes):
                if size + n <= cap:
                    bins[b].append(row[0])
                    sizes[b] += n
                    break
            else:
                bins.append([row[0]])
                sizes.append(n)
        return merged + bins

    return plan


@contextlib.contextmanager
def patched(obj, attr: str, value):
    original = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, original)


@contextlib.contextmanager
def engine_variant(lm: LM, name: str):
    """Apply one engine variant for the duration (monkeypatching or LM attributes; no engine file is edited)."""
    with contextlib.ExitStack() as stack:
        for part in name.split(" + "):
            if part.startswith("max_batch_tokens="):
                stack.enter_context(patched(lm, "max_batch_tokens", int(part.split("=")[1])))
            elif part.startswith("threads="):
                n = int(part.split("=")[1])
                old = torch.get_num_threads()
                torch.set_num_threads(n)
                stack.callback(torch.set_num_threads, old)
            elif part.startswith("bin-pack rows to "):
                target = int(part.split()[-1])
                stack.enter_context(patched(packing, "_plan_rows", binpacked_plan(packing._plan_rows, target)))
            elif part != "engine as is":
                raise ValueError(part)
        yield


def breakdown(lm: LM, requests: Sequence[Request]) -> dict[str, float]:
    """Seconds spent in each engine step during one run of our scorer (wrapped with timers, not edited)."""
    spent: dict[str, float] = {}
    inside = [False]  # within packing.logprobs (it plans its rows again: count that part there)

    def timer(key, fn):
        def run(*a, **k):
            name = key + ("@logprobs" if inside[0] and key == "_plan_rows" else "")
            outer = key == "logprobs"
            inside[0] |= outer
            start = CLOCK()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + CLOCK() - start
                if outer:
                    inside[0] = False
        return run

    hf = packing.peft_parts(lm.model)[0]
    head = hf.get_output_embeddings()
    with contextlib.ExitStack() as stack:
        for attr in ("encode", "_plan_rows", "_pack", "_tree_mask", "logprobs"):
            if hasattr(packing, attr):
                stack.enter_context(patched(packing, attr, timer(attr, getattr(packing, attr))))
        for obj, key in ((hf.base_model, "decoder"), (head, "head")):
            obj.forward = timer(key, obj.forward)  # an instance attribute over the class's method
            stack.callback(obj.__dict__.pop, "forward", None)
        total = timed(score_ours, lm, requests)[0]

    def g(key: str) -> float:
        return spent.get(key, 0.0)

    parts = {
        "tokenise (packing.encode)": g("encode"),
        "plan + lay out rows (python)": g("_plan_rows") + g("_plan_rows@logprobs") + g("_pack"),
        "tree mask": g("_tree_mask"),
        "decoder forward": g("decoder"),
        "output head (scored positions)": g("head"),
        "log_softmax, gather, ids/pos tensors": g("logprobs") - g("decoder") - g("head") - g("_tree_mask")
        - g("_pack") - g("_plan_rows@logprobs"),
    }
    parts["batching, results (python)"] = total - sum(parts.values())
    return {"total": total, **parts}


def operator_shares(lm: LM, requests: Sequence[Request]) -> dict[str, float]:
    """Self-CPU share of operator families during one run of our scorer (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        score_ours(lm, requests)
    families = {"GEMM (mm/addmm/bmm)": ("aten::mm", "aten::addmm", "aten::bmm"),
                "attention (sdpa kernel)": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                                            "aten::_scaled_dot_product_attention_math"),
                "RoPE/GQA copies (cat, copy_, neg, slice)": ("aten::cat", "aten::copy_", "aten::neg"),
                "RMSNorm (pow, mean, rsqrt)": ("aten::pow", "aten::mean", "aten::rsqrt", "aten::sum"),
                "MLP act + residual (silu, mul, add)": ("aten::silu", "aten::mul", "aten::add")}
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1
    out = {}
    for fam, ops in families.items():
        out[fam] = sum(e.self_cpu_time_total for e in events if e.key in ops) / total
    out["everything else"] = 1 - sum(out.values())
    return out


def explore(lm: LM, works: Sequence[Workload], args, peak: float, log) -> dict:
    """Where our time goes, and engine variants measured by monkeypatching (the engine itself is not edited)."""
    shape = ModelShape.of(lm.model)
    findings: dict = {}
    sample = {w.name: evaluate.requests_for(w.examples[: max(len(w.examples) // 4, 1)]) for w in works}

    log("\n## Explore: where our time goes (first quarter of each dataset, seconds, one run)")
    findings["breakdown_s"] = {}
    for name, requests in sample.items():
        parts = breakdown(lm, requests)
        findings["breakdown_s"][name] = parts
        log(f"  {name}: " + ", ".join(f"{k} {v:.2f}" + ("" if k == "total" else f" ({v / parts['total']:.0%})")
                                       for k, v in parts.items()))
    findings["operator_share"] = {}
    for name, requests in sample.items():
        shares = operator_shares(lm, requests)
        findings["operator_share"][name] = shares
        log(f"  {name} operators (self CPU): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))

    variants = ["engine as is", "max_batch_tokens=512", "max_batch_tokens=1024", "max_batch_tokens=4096",
                "bin-pack rows to 128", "bin-pack rows to 256", "bin-pack rows to 256 + max_batch_tokens=4096"]
    reference = {name: score_ours(lm, requests) for name, requests in sample.items()}
    flops = {}
    for name, requests in sample.items():
        for v in variants:
            with engine_variant(lm, v):
                flops[v, name] = count_flops(lm, requests, shape)  # also the variant's warm-up
    times: dict[tuple[str, str], float] = {}
    diffs: dict[tuple[str, str], float] = {}
    for rep in range(args.repeats):
        for v in variants[rep % len(variants):] + variants[:rep % len(variants)]:
            for name, requests in sample.items():
                with engine_variant(lm, v):
                    dt, out = timed(score_ours, lm, requests)
                times[v, name] = min(times.get((v, name), dt), dt)
                diffs[v, name] = max(abs(a - b) for a, b in zip(out, reference[name]))
    log(f"\n## Explore: engine variants (best of {args.repeats}, interleaved; first quarter of each dataset; "
        f"peak = the {torch.get_num_threads()}-thread square matmul)")
    log("| variant | " + " | ".join(f"{n} s | {n} vs as-is | {n} peak | {n} padded/real" for n in sample)
        + " | max Δ logprob |")
    log("|---|" + "---:|---:|---:|---:|" * len(sample) + "---:|")
    findings["variants"] = {}
    for v in variants:
        cells = []
        entry = {}
        for name in sample:
            t, f = times[v, name], flops[v, name]
            speed = times["engine as is", name] / t
            cells += [f"{t:.2f}", f"{speed:.2f}x", f"{f['flops'] / t / peak:.0%}",
                      f"{f['padded_tokens']}/{f['real_tokens']}"]
            entry[name] = {"seconds": t, "speedup": speed, "peak_fraction": f["flops"] / t / peak,
                           "padded_tokens": f["padded_tokens"], "real_tokens": f["real_tokens"]}
        diff = max(diffs[v, n] for n in sample)
        entry["max_abs_logprob_diff"] = diff
        findings["variants"][v] = entry
        log(f"| {v} | " + " | ".join(cells) + f" | {diff:.1e} |")

    bf16 = None
    with contextlib.suppress(Exception):
        a, b = torch.randn(2048, 2048, dtype=torch.bfloat16), torch.randn(2048, 2048, dtype=torch.bfloat16)
        torch.matmul(a, b)
        bf16 = min(timed(torch.matmul, a, b)[0] for _ in range(5))
        bf16 = 2 * 2048 ** 3 / bf16
        log(f"\n  (for reference) bf16 2048^3 matmul: {bf16 / 1e9:.0f} GFLOP/s vs fp32 peak {peak / 1e9:.0f}")
    findings["bf16_matmul_flops"] = bf16
    return findings


# --------------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    parser.add_argument("--rows", type=int, default=200, help="SST-2 dev rows (AG News uses half as many)")
    parser.add_argument("--slices", type=int, default=1,
                        help="time each dataset in this many consecutive example slices (best per slice, summed)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved timed runs per scorer; best is kept")
    parser.add_argument("--naive-repeats", type=int, default=1, help="timed runs of the (slow) naive scorer")
    parser.add_argument("--lm-eval-batch-sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[4, 8, 16], help="candidates for lm-eval's batch_size (its fastest is used)")
    parser.add_argument("--ours-variant", default="engine as is",
                        help='time our scorer with an engine variant, e.g. "bin-pack rows to 256" (see explore)')
    parser.add_argument("--threads", default="1",
                        help='torch threads for everything: 1 (default; timed in CPU seconds), N (wall clock), '
                             'or "auto" (1 or all, whichever is faster right now)')
    parser.add_argument("--explore", action="store_true", help="also profile ours and time engine variants")
    parser.add_argument("--no-assert", action="store_true", help="report disagreement instead of failing")
    parser.add_argument("--no-families", action="store_true", help="skip the seq2seq and masked-LM rows")
    parser.add_argument("--families-only", action="store_true", help="only the seq2seq and masked-LM rows")
    args = parser.parse_args(argv)
    if args.families_only:
        return families_main(args)

    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    started = time.perf_counter()
    lm = load_lm()
    shape = ModelShape.of(lm.model)
    threads = pick_threads(lm, args.threads, log)
    global CLOCK
    CLOCK = time.process_time if threads == 1 else time.perf_counter
    log(f"model {lm.name} on {lm.device}, {next(lm.model.parameters()).dtype}, torch {torch.__version__}, "
        f"{threads} of {os.cpu_count()} CPU threads, our max_batch_tokens={lm.max_batch_tokens}, "
        f"{shape.non_embedding / 1e6:.1f}M non-embedding parameters; ours: {args.ours_variant}")

    peaks = measure_peaks()
    works = [build_workload(name, tpl, max(int(args.rows * frac), 1), args.slices) for name, tpl, frac in DATASETS]
    results = [run_dataset(lm, w, args, shape, log) for w in works]
    later = measure_peaks()  # the machine is shared: keep the best of the two measurements
    peaks = {k: max(v, later[k]) for k, v in peaks.items()}
    peak = peaks[PEAK_SHAPES[0][0]]

    # ---- table
    log("\n| dataset | scorer | rows | requests | seconds | examples/s | ours is | agreement | max abs Δ logprob "
        "| accuracy |")
    log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for s in SCORERS:
            label = s + (f" (batch_size={r.lm_eval_batch})" if s == "lm-eval" else "")
            speed = "" if s == "ours" else f"{r.per_s('ours') / r.per_s(s):.2f}x faster"
            agree = "" if s == "ours" else f"{100 * r.agreement[s]:.1f}%"
            diff = "" if s == "ours" else f"{r.max_abs_diff[s]:.1e}"
            log(f"| {r.name} | {label} | {r.rows} | {r.requests} | {r.seconds[s]:.2f} | {r.per_s(s):.1f} | "
                f"{speed} | {agree} | {diff} | {r.accuracy[s]:.3f} |")

    def combined(s):
        return sum(r.rows for r in results) / sum(r.seconds[s] for r in results)

    ratio_naive = combined("ours") / combined("naive")
    ratio_lm_eval = combined("ours") / combined("lm-eval")
    total_flops = sum(r.flops["flops"] for r in results)
    achieved = total_flops / sum(r.seconds["ours"] for r in results)
    log(f"\nratio vs naive:   {ratio_naive:.2f}x (target >= 3x)   per dataset: "
        + ", ".join(f"{r.name} {r.per_s('ours') / r.per_s('naive'):.2f}x" for r in results))
    log(f"ratio vs lm-eval: {ratio_lm_eval:.2f}x (target >= 1.3x) per dataset: "
        + ", ".join(f"{r.name} {r.per_s('ours') / r.per_s('lm-eval'):.2f}x" for r in results))
    log("\nfp32 matmul, best of ~1 s each at the start and at the end of the run: "
        + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()))
    for r in results:
        f = r.flops
        log(f"ours on {r.name}: {f['flops'] / 1e9:.0f} GFLOP useful (linear {f['linear'] / f['flops']:.0%}, "
            f"attention {f['attention'] / f['flops']:.0%}, head {f['head'] / f['flops']:.0%}); "
            f"{f['real_tokens']} real tokens in {f['padded_tokens']} padded; "
            f"{f['flops'] / r.seconds['ours'] / 1e9:.0f} GFLOP/s = {f['flops'] / r.seconds['ours'] / peak:.0%} of peak")
    log(f"ours overall: {achieved / 1e9:.0f} GFLOP/s = {achieved / peak:.0%} of the {peak / 1e9:.0f} GFLOP/s "
        f"square-matmul peak (target >= 50%)")

    findings = explore(lm, works, args, peak, log) if args.explore else None
    families = [] if args.no_families else family_table(args, log)
    elapsed = time.perf_counter() - started
    log(f"\ntotal wall time {elapsed:.0f} s")

    failures = []
    for r in results:
        for s in ("lm-eval", "naive"):
            if r.agreement[s] < MIN_AGREEMENT:
                failures.append(f"{r.name}: predictions agree with {s} on only {r.agreement[s]:.1%}")
            if r.max_abs_diff[s] > LOGPROB_TOLERANCE:
                failures.append(f"{r.name}: log-probabilities differ from {s} by up to {r.max_abs_diff[s]:.2e}")
    failures += family_failures(families)

    if args.json:
        payload = {
            "ratio_vs_naive": round(ratio_naive, 3),
            "ratio_vs_lm_eval": round(ratio_lm_eval, 3),
            "peak_fraction": round(achieved / peak, 4),
            "achieved_flops": achieved,
            "peak_flops": peak,
            "matmul_flops": peaks,
            "examples_per_s": {s: combined(s) for s in SCORERS},
            "threads": torch.get_num_threads(),
            "max_batch_tokens": lm.max_batch_tokens,
            "ours_variant": args.ours_variant,
            "clock": "process CPU time" if CLOCK is time.process_time else "wall clock",
            "datasets": {r.name: {
                "template": r.template, "rows": r.rows, "requests": r.requests,
                "lm_eval_batch_size": r.lm_eval_batch, "lm_eval_batch_sweep_s": r.lm_eval_sweep,
                "seconds": r.seconds, "seconds_per_repeat": r.per_repeat,
                "examples_per_s": {s: r.per_s(s) for s in SCORERS},
                "ratio_vs_naive": r.per_s("ours") / r.per_s("naive"),
                "ratio_vs_lm_eval": r.per_s("ours") / r.per_s("lm-eval"),
                "agreement": r.agreement, "max_abs_logprob_diff": r.max_abs_diff, "accuracy": r.accuracy,
                "flops": r.flops, "peak_fraction": r.flops["flops"] / r.seconds["ours"] / peak,
            } for r in results},
            "explore": findings,
            "families": family_json(families),
            "failures": failures,
            "wall_s": elapsed,
        }
        print(json.dumps(payload))
    if failures:
        for f in failures:
            print("FAIL: " + f, file=sys.stderr)
        return 0 if args.no_assert else 1
    return 0


# --------------------------------------------------------------------------------------------------- families


def family_table(args, log) -> list:
    """The seq2seq and masked-LM rows on the first `--rows` SST-2 rows, on the clock the causal rows use."""
    log("\n## Other model families: ours vs a naive per-choice forward (random weights, real shapes)")
    results = run_families(load_rows("sst2", args.rows), args.repeats, timed, log)
    log("\n| family | template | rows | requests | ours s | naive s | ours examples/s | naive examples/s | ours is | "
        "agreement | max abs Δ logprob |")
    log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        log(f"| {r.family} | {r.template} | {r.rows} | {r.requests} | {r.seconds['ours']:.2f} | "
            f"{r.seconds['naive']:.2f} | {r.per_s('ours'):.1f} | {r.per_s('naive'):.1f} | "
            f"{r.per_s('ours') / r.per_s('naive'):.2f}x faster | {100 * r.agreement:.1f}% | {r.max_abs_diff:.1e} |")
    return results


def family_failures(results) -> list[str]:
    failures = []
    for r in results:
        if r.agreement < MIN_AGREEMENT:
            failures.append(f"{r.family}: predictions agree with naive on only {r.agreement:.1%}")
        if r.max_abs_diff > LOGPROB_TOLERANCE:
            failures.append(f"{r.family}: log-probabilities differ from naive by up to {r.max_abs_diff:.2e}")
    return failures


def family_json(results) -> dict:
    return {r.family: {"template": r.template, "rows": r.rows, "requests": r.requests, "seconds": r.seconds,
                       "examples_per_s": {s: r.per_s(s) for s in r.seconds},
                       "ratio_vs_naive": r.per_s("ours") / r.per_s("naive"), "agreement": r.agreement,
                       "max_abs_logprob_diff": r.max_abs_diff} for r in results}


def families_main(args) -> int:
    """`--families-only`: the two family rows on one torch thread (CPU seconds) or `--threads N` (wall clock)."""
    global CLOCK
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    threads = int(args.threads) if args.threads != "auto" else 1
    torch.set_num_threads(threads)
    CLOCK = time.process_time if threads == 1 else time.perf_counter
    results = family_table(args, log)
    failures = family_failures(results)
    if args.json:
        print(json.dumps({"families": family_json(results), "threads": threads, "failures": failures}))
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures and not args.no_assert else 0


if __name__ == "__main__":
    sys.exit(main())
