"""TuneConfig: every knob of a soft-prompt tuning run, validated on construction.

Torch-free on purpose: the run store, the CLI and the web app validate a config before anything is launched.
A config is saved inside the run's `spec.json` (and the export bundle), so a run explains itself.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from promptlab.messages import Message, UserError, message_of
from promptlab.models.peft_methods import METHODS as PEFT_METHODS

METHODS = tuple(PEFT_METHODS)  # the facts of each method: promptlab.models.peft_methods
PROMPT_METHODS = tuple(name for name, method in PEFT_METHODS.items() if method.virtual_tokens)
INITS = ("template", "class_labels", "sample_vocab", "random")
ENCODERS = ("mlp", "lstm")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
OBJECTIVES = ("auto", "choices", "lm")
DEVICES = ("auto", "cpu", "cuda", "mps")
EARLY_STOPPING_METRICS = ("auto", "acc", "acc_norm", "macro_f1", "exact_match", "rouge_l", "val_loss")

# Learning rates that work for each method on small models (prompt tuning needs a far larger one than LoRA:
# its few parameters live in embedding space, where one step of 1e-4 moves nothing). Tried on SST-2 with the
# bundled SmolLM2-135M (batches of 16, full dev set): prefix tuning at 5e-3 and 1.5e-2 both reach 89-90% in
# 250-500 steps; prompt tuning at 0.1 reaches 87-88% in 300. P-tuning's MLP encoder at 3e-3 is unstable (88% in
# one run, 74% in a rerun with other thread and eval settings: gradient norms of 30-40 early on), hence 1e-3.
DEFAULT_LR = {"prompt_tuning": 0.1, "p_tuning": 1e-3, "prefix_tuning": 1e-2, "lora": 5e-4}

# The largest value each count may take. A job holds the one device slot until it ends, so a run must end in a
# sane time: 100,000 steps is more than a day on a CPU. The others bound memory (batch_size, max_tokens,
# num_virtual_tokens...) or work (eval_size, baseline_seeds...) far above any useful setting.
MAXIMA = {
    "max_steps": 100_000, "epochs": 1_000, "warmup_steps": 100_000, "eval_every": 100_000,
    "checkpoint_every": 100_000, "keep_checkpoints": 100, "early_stopping_patience": 10_000,
    "batch_size": 65_536, "grad_accum": 1_024, "eval_size": 100_000, "train_size": 10_000_000,
    "num_virtual_tokens": 1_000, "encoder_hidden_size": 16_384, "lora_r": 1_024, "lora_alpha": 65_536,
    "max_length": 131_072, "max_tokens": 1_048_576, "num_processes": 64, "num_threads": 1_024,
    "baseline_shots": 64, "baseline_seeds": 100, "seed": 2**32 - 1, "weight_decay": 10.0, "max_grad_norm": 1e6,
}


@dataclass(frozen=True)
class TuneConfig:
    """One soft-prompt tuning run's settings. Construction validates; errors are ValueErrors listing every problem."""

    method: str = "prompt_tuning"  # one of METHODS; "lora" is there as a reference point
    num_virtual_tokens: int = 20
    init: str = "template"  # template | class_labels | sample_vocab | random (ignored by lora)
    init_text: str = ""  # overrides the template's instruction/prompt text for init="template"
    encoder: str = "mlp"  # p_tuning reparameterisation: mlp | lstm
    encoder_hidden_size: int = 256  # p_tuning encoder / prefix projection width
    prefix_projection: bool = False  # prefix_tuning: train an MLP that maps embeddings to key/values
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    objective: str = "auto"  # choices = cross-entropy over answer choices; lm = target-token LM loss
    lr: float = 0.03
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    warmup_steps: int = 10  # clipped to a tenth of the run when the run is short
    schedule: str = "linear"  # decay after warmup: linear | cosine | constant
    batch_size: int = 16  # examples per optimizer step and process, before accumulation
    grad_accum: int = 1
    max_steps: int = 200  # optimizer steps; 0 = use epochs
    epochs: float = 0.0
    max_grad_norm: float = 1.0  # 0 = no clipping
    eval_every: int = 50  # steps between evaluations (0 = only at the start and the end)
    eval_size: int = 200  # fixed validation subset (rows); clipped to the split's size
    checkpoint_every: int = 50  # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 2
    seed: int = 0
    max_length: int = 512  # training examples longer than this (tokens) are skipped
    max_tokens: int = 4096  # tokens per packed micro-batch: bounds activation memory
    precision: str = "auto"  # auto = bf16 on GPUs that have it, else fp32
    device: str = "auto"
    num_processes: int = 1  # >1 launches the worker through `accelerate launch`
    num_threads: int = 0  # torch CPU threads for the worker (0 = all cores / number of processes)
    gradient_checkpointing: bool = False
    early_stopping_patience: int = 0  # evaluations without improvement before stopping (0 = off)
    early_stopping_metric: str = "auto"  # auto = acc (rank) / exact_match (generate)
    train_size: int = 0  # train on a seeded sample of this many rows (0 = all rows)
    baseline_shots: int = 4  # demonstrations for the few-shot baseline (0 = skip it)
    baseline_seeds: int = 5  # few-shot baseline seeds (mean ± std)

    def __post_init__(self):
        problems = _coerce(self)  # "200", 200.0 -> 200; nan, inf, "many" -> a problem naming the setting
        problems = problems or _problems(self)
        if problems:
            raise UserError("config.invalid", problems=_items(problems))

    # ---- conversions -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["lora_target_modules"] = list(self.lora_target_modules)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TuneConfig:
        """Build from a dict such as `to_dict()` wrote; unknown keys are an error (a typo must not pass silently)."""
        if not isinstance(data, dict):
            raise UserError("config.not_a_mapping", kind=type(data).__name__)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError("config.unknown_settings", names=", ".join(unknown), known=", ".join(sorted(known)))
        data = dict(data)
        if "lora_target_modules" in data:
            modules = data["lora_target_modules"]
            data["lora_target_modules"] = tuple([modules] if isinstance(modules, str) else modules)
        return cls(**data)

    def replace(self, **changes) -> TuneConfig:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- derived values ------------------------------------------------------------------------------------------

    @property
    def uses_virtual_tokens(self) -> bool:
        return PEFT_METHODS[self.method].virtual_tokens

    def objective_for(self, mode: str) -> str:
        """The loss for a template mode ("rank" or "generate"): "choices" or "lm"."""
        if mode == "generate":
            return "lm"
        return "choices" if self.objective == "auto" else self.objective

    def stopping_metric_for(self, mode: str) -> str:
        if self.early_stopping_metric != "auto":
            return self.early_stopping_metric
        return "acc" if mode == "rank" else "exact_match"

    def total_steps(self, n_train: int, num_processes: int = 1) -> int:
        """Optimizer steps the run will take given `n_train` training examples."""
        if self.max_steps:
            return self.max_steps
        per_step = self.batch_size * self.grad_accum * max(num_processes, 1)
        return max(1, int(self.epochs * n_train / per_step + 0.999999))

    def check_data(self, *, n_train: int, mode: str) -> None:
        """Checks that need the data: raise ValueError when the config cannot train on `n_train` examples."""
        problems = []
        if n_train == 0:
            problems.append(Message("config.no_training_rows"))
        elif self.batch_size > n_train:
            problems.append(Message("config.batch_over_rows", batch=self.batch_size, n=n_train))
        elif self.total_steps(n_train, self.num_processes) > MAXIMA["max_steps"]:
            problems.append(Message("config.epochs_too_many_steps", epochs=f"{self.epochs:g}", n=n_train,
                                    steps=_count(self.total_steps(n_train, self.num_processes)),
                                    limit=MAXIMA["max_steps"]))
        if mode == "generate" and self.objective == "choices":
            problems.append(Message("config.choices_objective"))
        if mode == "generate" and self.init == "class_labels":
            problems.append(Message("config.class_labels_init"))
        if mode == "generate" and self.early_stopping_metric in ("acc", "acc_norm", "macro_f1"):
            problems.append(Message("config.stopping_metric_needs_choices", metric=self.early_stopping_metric))
        if problems:
            raise UserError("config.invalid_for_data", problems=_items(problems))


def _items(problems: list) -> list[Message]:
    """Problems as the lines of a list ("\n- problem")."""
    return [Message("config.item", problem=problem) for problem in problems]


def _one_of(problems, name, value, allowed):
    if value not in allowed:
        problems.append(Message("config.not_one_of", name=name, value=value, allowed=", ".join(allowed)))


def _coerce(c: TuneConfig) -> list[Message]:
    """Give every setting its field's type in place (a JSON 200.0 or a typed "200" is the whole number 200);
    return a problem for each value that is not of that type: text, NaN or infinity where a number belongs."""
    problems = []
    for f in dataclasses.fields(c):
        value, kind = getattr(c, f.name), type(f.default)
        try:
            new = _as(kind, value)
        except ValueError as err:
            problems.append(Message("config.bad_value", name=f.name, reason=message_of(err), value=_shown(value)))
            continue
        object.__setattr__(c, f.name, new)  # frozen: construction is the one place a value may change
    return problems


def _as(kind: type, value):
    """`value` as a `kind` (bool, int, float, str or tuple of str); ValueError("must be ...") when it is not one."""
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError("config.must_be_bool")
        return value
    if kind in (int, float):
        number = _parse_number(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise UserError("config.must_be_number")
        if kind is int and isinstance(number, float):  # (a float setting's NaN is for _problems to name)
            if not math.isfinite(number):
                raise UserError("config.must_be_finite_whole")
            if not number.is_integer():
                raise UserError("config.must_be_whole")
            number = int(number)
        if kind is int and abs(number) >= 10**18:  # (nothing sane is this large; a huge int breaks formatting)
            raise UserError("config.far_too_large")
        if kind is float and isinstance(number, int):
            if abs(number) > 1e300:
                raise UserError("config.must_be_finite")
            return float(number)
        return number
    if kind is tuple:
        items = (value,) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
            raise UserError("config.must_be_names")
        return tuple(items)
    if not isinstance(value, str):
        raise UserError("config.must_be_text")
    return value


def _parse_number(text: str) -> int | float:
    try:
        return int(text.strip())
    except ValueError:
        pass
    try:
        return float(text.strip())
    except ValueError:
        raise UserError("config.must_be_number") from None


def _count(value) -> Message | str:
    """A limit-breaking value as a person reads it: 1,000,000,000,000 or 1e+300."""
    return f"{value:,}" if abs(value) < 10**15 else Message("config.about", power=int(math.log10(abs(value))))


def _shown(value) -> Message | str:
    if isinstance(value, int) and abs(value) >= 10**18:
        return Message("config.about", power=int(math.log10(abs(value))))
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _problems(c: TuneConfig) -> list[Message]:
    """Every problem with the config, as readable sentences (empty when valid)."""
    p: list[Message] = []
    _one_of(p, "method", c.method, METHODS)
    _one_of(p, "init", c.init, INITS)
    _one_of(p, "encoder", c.encoder, ENCODERS)
    _one_of(p, "optimizer", c.optimizer, OPTIMIZERS)
    _one_of(p, "schedule", c.schedule, SCHEDULES)
    _one_of(p, "precision", c.precision, PRECISIONS)
    _one_of(p, "objective", c.objective, OBJECTIVES)
    _one_of(p, "device", c.device, DEVICES)
    _one_of(p, "early_stopping_metric", c.early_stopping_metric, EARLY_STOPPING_METRICS)
    if c.method in PROMPT_METHODS and c.num_virtual_tokens < 1:
        p.append(Message("config.tokens_at_least_1", method=c.method, value=c.num_virtual_tokens))
    if c.num_virtual_tokens > 1000:
        p.append(Message("config.tokens_too_many", value=c.num_virtual_tokens))
    for name in ("epochs", "weight_decay", "max_grad_norm", "lora_dropout"):  # lr: its own check below
        if not math.isfinite(getattr(c, name)):
            p.append(Message("config.not_finite", name=name, value=getattr(c, name)))
    for name, limit in MAXIMA.items():
        value = getattr(c, name)
        finite = not isinstance(value, float) or math.isfinite(value)  # (isfinite() overflows on a huge int)
        if name != "num_virtual_tokens" and finite and value > limit:
            p.append(Message("config.too_large_holds" if name in ("max_steps", "epochs") else "config.too_large",
                             name=name, value=_count(value), limit=limit))
    if not c.lr > 0 or c.lr != c.lr or c.lr > 10:
        p.append(Message("config.bad_lr", value=c.lr))
    for name in ("batch_size", "grad_accum", "max_length", "max_tokens", "num_processes", "encoder_hidden_size"):
        if getattr(c, name) < 1:
            p.append(Message("config.at_least_1", name=name, value=getattr(c, name)))
    for name in ("max_steps", "warmup_steps", "eval_every", "checkpoint_every", "train_size", "num_threads",
                 "early_stopping_patience", "baseline_shots", "seed"):
        if getattr(c, name) < 0:
            p.append(Message("config.negative", name=name, value=getattr(c, name)))
    if c.eval_size < 1:
        p.append(Message("config.at_least_1", name="eval_size", value=c.eval_size))
    if c.baseline_seeds < 1:
        p.append(Message("config.at_least_1", name="baseline_seeds", value=c.baseline_seeds))
    if c.keep_checkpoints < 1:
        p.append(Message("config.keep_checkpoints", value=c.keep_checkpoints))
    if c.epochs < 0:
        p.append(Message("config.negative", name="epochs", value=c.epochs))
    if c.max_steps == 0 and c.epochs == 0:
        p.append(Message("config.no_steps"))
    if c.weight_decay < 0 or c.max_grad_norm < 0:
        p.append(Message("config.decay_norm_negative"))
    if not 0 <= c.lora_dropout < 1:
        p.append(Message("config.lora_dropout", value=c.lora_dropout))
    if c.method == "lora" and (c.lora_r < 1 or c.lora_alpha <= 0 or not c.lora_target_modules):
        p.append(Message("config.lora_needs"))
    if c.method in PEFT_METHODS and c.gradient_checkpointing and not PEFT_METHODS[c.method].gradient_checkpointing:
        p.append(Message("config.no_gradient_checkpointing", method=c.method))
    if c.method == "prefix_tuning" and c.prefix_projection and c.init != "random":
        p.append(Message("config.prefix_projection_init", init=c.init))
    if c.precision == "fp16" and c.device == "cpu":
        p.append(Message("config.fp16_on_cpu"))
    return p


# Presets: a starting point per device. "cpu" takes about 7 minutes with the bundled 135M model on 2 CPU cores
# (about 1 s per step of 16 SST-2 examples, evaluations included) and reaches 87-89% on SST-2; "gpu" trains longer,
# on larger batches, and evaluates more rows.
PRESETS: dict[str, dict] = {
    "cpu": dict(max_steps=300, batch_size=16, eval_every=50, eval_size=200, checkpoint_every=50,
                baseline_seeds=3, precision="fp32", device="cpu"),
    "gpu": dict(max_steps=1000, batch_size=32, eval_every=100, eval_size=872, checkpoint_every=100,
                baseline_seeds=5, precision="auto", device="cuda", max_tokens=16384),
}
# Not offered in the UI: tiny settings for the test suite's tiny random models.
TEST_PRESET = dict(max_steps=4, batch_size=4, eval_every=2, eval_size=8, checkpoint_every=2, warmup_steps=1,
                   baseline_shots=1, baseline_seeds=2, num_virtual_tokens=4, precision="fp32", device="cpu",
                   num_threads=1)


def preset(name: str = "cpu", method: str = "prompt_tuning", **overrides) -> TuneConfig:
    """A TuneConfig from a device preset and a method (with its usual learning rate), then `overrides`.

    >>> preset("cpu", "lora", max_steps=50).lr
    0.0005
    """
    presets = {**PRESETS, "test": TEST_PRESET}
    if name not in presets:
        raise UserError("config.unknown_preset", name=name, presets=", ".join(PRESETS))
    values = {"method": method, "lr": DEFAULT_LR.get(method, 0.03), **presets[name]}
    if method not in PROMPT_METHODS:
        values.pop("num_virtual_tokens", None)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TuneConfig.from_dict(values)
