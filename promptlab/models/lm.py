"""Language models: the registry, loading (bundled GGUF, local dirs, hub ids, PEFT adapters) and the `LM` class.

`LM` is the small interface the scorer uses:

    lm = load_lm()                                   # bundled SmolLM2-135M-Instruct, offline
    lm.loglikelihood([Request("Review: great\\nSentiment:", " positive")])
    lm.generate(["Q: What is 2+2?\\nA:"], max_new_tokens=5)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from promptlab.models import packing
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
            raise ValueError(f"Unknown dtype {dtype!r}. Use one of: auto, fp32, bf16, fp16.")
        return names[dtype]
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_lm(model_id: str = DEFAULT_MODEL, *, adapter: str | os.PathLike | None = None, device: str = "auto",
            dtype: str = "auto") -> LM:
    """Load a model by registry name, local directory or hub id, optionally with a PEFT adapter on top.

    >>> lm = load_lm("smollm2-135m-instruct")            # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model_id)
    refuse_remote_code(path, model_id)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # sdpa takes our boolean tree masks directly; trust_remote_code stays off: hub code never runs here.
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, attn_implementation="sdpa")
    if adapter is not None:
        model = _with_adapter(model, Path(adapter), model_id)
    model.to(dev).eval()
    return LM(model, tokenizer, name=model_id if adapter is None else f"{model_id} + {Path(adapter).name}")


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
        raise ValueError(
            f"Model {model_id!r} needs its own Python code to load (config.json has auto_map and model type "
            f"{model_type!r}, which transformers does not know). PromptLab never runs code shipped with a model "
            "(trust_remote_code stays off). Use a model that transformers supports natively, e.g. "
            f"{DEFAULT_MODEL}, or a local folder of one.")


def _with_adapter(model, adapter: Path, model_id: str):
    """Wrap `model` with the PEFT adapter in `adapter`, or explain why that adapter does not fit."""
    import json

    from peft import PeftModel

    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise ValueError(f"No PEFT adapter at {adapter}: adapter_config.json is missing. Pass a run's adapter/ folder.")
    config = json.loads(config_file.read_text())
    base = config.get("base_model_name_or_path")
    mismatch = _shape_mismatch(config, model.config.get_text_config())
    try:
        if mismatch:  # prompt-learning weights of the wrong width load silently and fail later: check first
            raise ValueError(mismatch)
        return PeftModel.from_pretrained(model, adapter)
    except (RuntimeError, ValueError, KeyError) as err:
        raise ValueError(
            f"The adapter at {adapter} does not fit model {model_id!r}: it was trained on "
            f"{repr(base) if base else 'another base model (adapter_config.json does not name it)'}. "
            f"Load it with that base model (--model). Details: {str(err).splitlines()[0][:300]}"
        ) from None


def _shape_mismatch(adapter_config: dict, model_config) -> str:
    """A description of how a prompt-learning adapter's sizes differ from the model's, or ""."""
    # Prompt and P-tuning embeddings are as wide as the model; a prefix's width is the key/value width instead
    # (narrower under grouped-query attention), and its layer count already tells a different base apart.
    checks = [("token_dim", "hidden_size")] if adapter_config.get("peft_type") in ("PROMPT_TUNING", "P_TUNING") else []
    checks.append(("num_layers", "num_hidden_layers"))
    for ours, theirs in checks:
        want, have = adapter_config.get(ours), getattr(model_config, theirs, None)
        if want is not None and have is not None and want != have:
            return f"the adapter's {ours} is {want} but the model's {theirs} is {have}"
    return ""


class LM:
    """A causal language model with the two calls the scorer needs. Thread-safe: one call at a time."""

    def __init__(self, model, tokenizer, name: str = "model", max_batch_tokens: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        # Padded tokens per forward: large enough for efficient matmuls, small enough for a laptop.
        self.max_batch_tokens = max_batch_tokens or (16384 if self.device.type == "cuda" else 2048)
        self.max_length = _max_length(model)
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model, tokenizer, name: str = "model") -> LM:
        """Wrap an in-memory model (tests, the tuning loop's evaluation)."""
        return cls(model, tokenizer, name)

    def loglikelihood(self, requests: Sequence[Request], progress: Progress | None = None) -> list[LogLikelihood]:
        """Sum log-probability, token count and greediness of each request's continuation."""
        encoded = packing.encode(self.tokenizer, requests, self.max_length)
        out: list[LogLikelihood | None] = [None] * len(requests)
        done = 0
        with self._lock, torch.inference_mode():
            for indices in packing.batches(encoded, self.max_batch_tokens):
                sums, greedy = packing.logprobs(self.model, encoded, indices)
                for i, lp, g in zip(indices, sums.tolist(), greedy.tolist()):
                    out[i] = LogLikelihood(lp, len(encoded[i].continuation), bool(g))
                done += len(indices)
                if progress:
                    progress(done, len(requests))
        return out  # type: ignore[return-value]

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 32, stop: Sequence[str] = ("\n",),
                 progress: Progress | None = None, batch_size: int = 8) -> list[str]:
        """Greedy continuations of `prompts`, cut at the first stop string."""
        tok = self.tokenizer
        tok.padding_side = "left"  # generation appends on the right, so pad on the left
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out = [""] * len(prompts)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                enc = tok([prompts[i] for i in chunk], return_tensors="pt", padding=True).to(self.device)
                gen = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                          pad_token_id=pad_id)
                new = gen[:, enc["input_ids"].shape[1]:]
                for i, ids in zip(chunk, new):
                    out[i] = _cut(tok.decode(ids, skip_special_tokens=True), stop)
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
        return out

    def wrap_chat(self, prompt: str) -> str:
        """The prompt as a user turn in the model's chat template (for instruct models), ready for the answer."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"Model {self.name} has no chat template. Turn off 'chat' in the template.")
        return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                  add_generation_prompt=True)


def _cut(text: str, stop: Sequence[str]) -> str:
    """Text up to the first stop string; leading blank lines are skipped (instruct models often start with one)."""
    text = text.lstrip()
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
    return text.strip()


def _max_length(model) -> int:
    config = packing.peft_parts(model)[0].config.get_text_config()
    return int(getattr(config, "max_position_embeddings", 2048) or 2048)
