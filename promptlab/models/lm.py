"""Language models: loading (bundled GGUF, local dirs, hub ids, PEFT adapters) and the `LM` class.

`LM` is the small interface the scorer uses, the same for the three model families (promptlab.models.families):

    lm = load_lm()                                   # bundled SmolLM2-135M-Instruct, offline
    lm.family                                        # "causal" | "seq2seq" | "masked"
    lm.loglikelihood([Request("Review: great\\nSentiment:", " positive")])
    lm.generate(["Q: What is 2+2?\\nA:"], max_new_tokens=5)   # causal and seq2seq
    lm.mask_token                                    # "[MASK]" / "<mask>" for masked LMs, else None

Each family has one scoring module with the same four functions (`encode`, `batches`, `logprobs`,
`tokens_read`): `packing` (causal), `seq2seq` and `masked`. `LM.loglikelihood` runs its family's module under
`torch.inference_mode`; the tuning loop runs the same module with gradients (`scorer_for`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from promptlab.messages import Message, UserError
from promptlab.models import masked, packing, peft_methods, seq2seq
from promptlab.models.families import CAUSAL, FAMILIES, MASKED, SEQ2SEQ, family_of_model, read_family
from promptlab.models.registry import DEFAULT_MODEL, resolve_model
from promptlab.models.requests import LogLikelihood, Request

Progress = Callable[[int, int], None]


def pick_device(device: str = "auto") -> torch.device:
    """CUDA > MPS > CPU for "auto"; otherwise the device named."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: str = "auto") -> torch.dtype:
    """bf16 on GPUs that support it, fp32 elsewhere (CPU bf16 is slower for small models and less exact)."""
    if dtype != "auto":
        names = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
                 "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
        if dtype not in names:
            raise UserError("model.unknown_dtype", dtype=repr(dtype))
        return names[dtype]
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_lm(model_id: str = DEFAULT_MODEL, *, adapter: str | os.PathLike | None = None, device: str = "auto",
            dtype: str = "auto") -> LM:
    """Load a model by registry name, local directory or hub id, optionally with a PEFT adapter on top. The family
    (causal, seq2seq, masked) comes from the model's config: `load_lm("smollm2-135m-instruct")` (bundled),
    `load_lm("google/flan-t5-base")` (the Hub), `load_lm(model_dir, adapter="runs/<run id>/adapter")`.
    """
    import transformers

    path = resolve_model(model_id)
    refuse_remote_code(path, model_id)
    family = read_family(path, model_id)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    auto_class = getattr(transformers, FAMILIES[family].auto_class)
    if family == CAUSAL:
        # sdpa takes our boolean tree masks directly; trust_remote_code stays off: hub code never runs here.
        model = auto_class.from_pretrained(path, dtype=torch_dtype, attn_implementation="sdpa")
    else:
        model, info = auto_class.from_pretrained(path, dtype=torch_dtype, output_loading_info=True)
        _refuse_missing_weights(info, model_id, family)
    if adapter is not None:
        model = _with_adapter(model, Path(adapter), model_id, family)
    model.to(dev).eval()
    return LM(model, tokenizer, name=model_id if adapter is None else f"{model_id} + {Path(adapter).name}")


def _refuse_missing_weights(info: dict, model_id: str, family: str) -> None:
    """A checkpoint without the weights its family needs (a bare BERT encoder has no MLM head) would load with
    random ones and score noise: refuse it instead."""
    missing = list(info.get("missing_keys") or ())
    if missing:
        raise UserError("model.no_lm_head", model=model_id, family=Message(f"family.{family}"),
                        missing=", ".join(missing[:3]) + (", ..." if len(missing) > 3 else ""),
                        example=FAMILIES[family].examples[0])


def refuse_remote_code(path: str | os.PathLike, model_id: str) -> None:
    """Refuse, with a readable message, a model whose architecture exists only as Python code shipped with it
    (config.json `auto_map` and a model type transformers does not know). PromptLab never runs such code
    (trust_remote_code stays off); without this check transformers would ask on stdin or advise turning it on."""
    import json

    from transformers import CONFIG_MAPPING

    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # transformers reports a missing or broken config itself
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if isinstance(config, dict) and config.get("auto_map") and model_type not in CONFIG_MAPPING:
        raise UserError("model.remote_code", model=repr(model_id), model_type=repr(model_type), default=DEFAULT_MODEL)


def _with_adapter(model, adapter: Path, model_id: str, family: str = CAUSAL):
    """Wrap `model` with the PEFT adapter in `adapter`, or explain why that adapter does not fit."""
    import json

    from peft import PeftModel

    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise UserError("model.no_adapter", adapter=adapter)
    config = json.loads(config_file.read_text())
    base = config.get("base_model_name_or_path")
    mismatch = _shape_mismatch(config, model.config.get_text_config())
    task_type = config.get("task_type")
    if not mismatch and task_type and task_type != FAMILIES[family].peft_task_type:
        mismatch = f"it is a {task_type} adapter and the model is {FAMILIES[family].title}"
    try:
        if mismatch:  # prompt-learning weights of the wrong width load silently and fail later: check first
            raise ValueError(mismatch)
        return PeftModel.from_pretrained(model, adapter)
    except (RuntimeError, ValueError, KeyError) as err:
        raise UserError("model.adapter_misfit", adapter=adapter, model=repr(model_id),
                        base=repr(base) if base else Message("model.another_base"),
                        detail=str(err).splitlines()[0][:300]) from None


_shape_mismatch = peft_methods.shape_mismatch  # adapter loading checks sizes by the method facts


SCORERS = {CAUSAL: packing, SEQ2SEQ: seq2seq, MASKED: masked}


def scorer_for(model):
    """The scoring module of `model`'s family: encode(tokenizer, requests, max_length), batches(encoded,
    max_tokens), logprobs(model, encoded, indices) (differentiable) and tokens_read(encoded, indices)."""
    return SCORERS[family_of_model(model)]


class LM:
    """A language model of any family with the calls the scorer needs. Thread-safe: one call at a time."""

    def __init__(self, model, tokenizer, name: str = "model", max_batch_tokens: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.family = family_of_model(model)
        self.device = next(model.parameters()).device
        # Padded tokens per forward: large enough for efficient matmuls, small enough for a laptop.
        self.max_batch_tokens = max_batch_tokens or (16384 if self.device.type == "cuda" else 2048)
        self.max_length = max_length(model, tokenizer)
        self._scorer = SCORERS[self.family]
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model, tokenizer, name: str = "model") -> LM:
        """Wrap an in-memory model of any family (tests, the tuning loop's evaluation)."""
        return cls(model, tokenizer, name)

    @property
    def mask_token(self) -> str | None:
        """The text of the mask token a cloze template's {{ mask }} renders as (masked LMs), else None."""
        return self.tokenizer.mask_token if self.family == MASKED else None

    def loglikelihood(self, requests: Sequence[Request], progress: Progress | None = None) -> list[LogLikelihood]:
        """Sum log-probability, token count and greediness of each request's continuation (masked LMs: of the
        label word at the context's mask slot)."""
        scorer = self._scorer
        encoded = scorer.encode(self.tokenizer, requests, self.max_length)
        out: list[LogLikelihood | None] = [None] * len(requests)
        done = 0
        with self._lock, torch.inference_mode():
            for indices in scorer.batches(encoded, self.max_batch_tokens):
                sums, greedy = scorer.logprobs(self.model, encoded, indices)
                for i, lp, g in zip(indices, sums.tolist(), greedy.tolist()):
                    out[i] = LogLikelihood(lp, n_scored(encoded[i]), bool(g))
                done += len(indices)
                if progress:
                    progress(done, len(requests))
        return out  # type: ignore[return-value]

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 32, stop: Sequence[str] = ("\n",),
                 progress: Progress | None = None, batch_size: int = 8) -> list[str]:
        """Greedy continuations of `prompts`, cut at the first stop string."""
        if not FAMILIES[self.family].generates:
            raise UserError("model.masked_cannot_generate", model=self.name)
        with self._lock, torch.inference_mode():
            if self.family == SEQ2SEQ:
                texts = seq2seq.generate(self.model, self.tokenizer, prompts, max_new_tokens=max_new_tokens,
                                         batch_size=batch_size, max_length=self.max_length, on_batch=progress)
            else:
                texts = self._generate_causal(prompts, max_new_tokens, progress, batch_size)
        return [_cut(text, stop) for text in texts]

    def _generate_causal(self, prompts, max_new_tokens, progress, batch_size) -> list[str]:
        tok = self.tokenizer
        tok.padding_side = "left"  # generation appends on the right, so pad on the left
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out = [""] * len(prompts)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            enc = tok([prompts[i] for i in chunk], return_tensors="pt", padding=True).to(self.device)
            gen = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
            new = gen[:, enc["input_ids"].shape[1]:]
            for i, ids in zip(chunk, new):
                out[i] = tok.decode(ids, skip_special_tokens=True)
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
        return out

    def wrap_chat(self, prompt: str) -> str:
        """The prompt as a user turn in the model's chat template (for instruct models), ready for the answer."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise UserError("model.no_chat_template", model=self.name)
        return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                  add_generation_prompt=True)


def n_scored(encoded) -> int:
    """Tokens scored for one encoded request: the continuation's, or the label word's at the mask slot."""
    return len(encoded.word if isinstance(encoded, masked.Encoded) else encoded.continuation)


def _cut(text: str, stop: Sequence[str]) -> str:
    """Text up to the first stop string; leading blank lines are skipped (instruct models often start with one)."""
    text = text.lstrip()
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
    return text.strip()


def max_length(model, tokenizer) -> int:
    """Tokens one request may take: the model's positions (for masked LMs less the virtual tokens an adapter puts
    before the input, and RoBERTa's padding offset), capped by what the tokenizer says the model was trained on."""
    hf, peft_config, _ = peft_methods.peft_parts(model)
    config = hf.config.get_text_config()
    family = family_of_model(model)
    if family == CAUSAL:  # as it always was: the causal path's numbers stay the same
        return int(getattr(config, "max_position_embeddings", 2048) or 2048)
    trained = getattr(tokenizer, "model_max_length", None)
    trained = trained if isinstance(trained, int) and 0 < trained < 1_000_000 else None
    if family == SEQ2SEQ:  # relative positions: no hard limit, but T5 was trained on 512 tokens
        return trained or int(getattr(config, "n_positions", 512) or 512)
    positions = int(getattr(config, "max_position_embeddings", 512) or 512)
    padding_idx = getattr(getattr(hf.base_model, "embeddings", None), "padding_idx", None)
    if padding_idx is not None:  # RoBERTa-likes number positions from padding_idx + 1
        positions -= padding_idx + 1
    used = peft_methods.used_positions(peft_config) if peft_config is not None else 0
    return min(positions, trained or positions) - used
