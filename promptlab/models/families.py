"""The three model families PromptLab scores and tunes, what each supports, and how a model's family is found.
Torch-free: the web app and the CLI describe a model from its config.json without loading it.

    causal    decoder-only LMs (Llama, SmolLM2, Gemma, GPT-2, Qwen): rank answer choices as continuations, generate
    seq2seq   encoder-decoder LMs (T5, flan-t5, mT5, BART): the prompt is the encoder's input, the answer the
              decoder's labels; rank and generate
    masked    masked LMs (BERT, RoBERTa, XLM-R): cloze templates only, the label word scored at a {{ mask }} slot
              (PET / LM-BFF style); no generation

A family is found from the model's config: an encoder-decoder config is seq2seq; otherwise the architecture it was
saved as (`...ForMaskedLM`, `...ForCausalLM`), else whether its model type has a masked-LM or a causal-LM class in
transformers (BERT-likes have both: masked unless the config says it is a decoder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from promptlab.messages import Message, UserError

CAUSAL, SEQ2SEQ, MASKED = "causal", "seq2seq", "masked"


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    auto_class: str  # the transformers Auto class that loads it (and that an exported adapter is loaded on)
    peft_task_type: str  # PEFT's task type for its adapters
    generates: bool  # can write free text (generation templates)
    cloze: bool  # scores label words at a {{ mask }} slot instead of continuations after the prompt
    examples: tuple[str, ...]

    @property
    def supports(self) -> str:
        """What the family does, in words (the model picker shows it)."""
        if self.cloze:
            return "cloze templates ({{ mask }} + answer choices); soft prompts; no generation"
        return "answer choices and generation; soft prompts"


FAMILIES: dict[str, Family] = {
    CAUSAL: Family(CAUSAL, "decoder-only (causal LM)", "AutoModelForCausalLM", "CAUSAL_LM", True, False,
                   ("smollm2-135m-instruct", "gemma-3-270m")),
    SEQ2SEQ: Family(SEQ2SEQ, "encoder-decoder (seq2seq LM)", "AutoModelForSeq2SeqLM", "SEQ_2_SEQ_LM", True, False,
                    ("google/flan-t5-base", "google/flan-t5-small")),
    # PEFT has no masked-LM task type; FEATURE_EXTRACTION wraps a ...ForMaskedLM model and returns its MLM logits.
    MASKED: Family(MASKED, "masked LM (cloze)", "AutoModelForMaskedLM", "FEATURE_EXTRACTION", False, True,
                   ("bert-base-uncased", "bert-base-chinese", "roberta-base")),
}


def detect_family(config: dict, model_id: str = "the model") -> str:
    """The family of a model from its config.json contents; ValueError when it is none of the three."""
    if config.get("is_encoder_decoder"):
        return SEQ2SEQ
    for arch in config.get("architectures") or ():
        if arch.endswith("ForMaskedLM"):
            return MASKED
        if arch.endswith(("ForCausalLM", "LMHeadModel")):
            return CAUSAL
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = config.get("model_type")
    masked, causal = model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES, model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if masked and not (causal and config.get("is_decoder")):
        return MASKED
    if causal:
        return CAUSAL
    raise UserError("model.not_a_language_model", model=model_id, model_type=repr(model_type))


def family_of_model(model) -> str:
    """The family of an in-memory (maybe PEFT-wrapped) transformers model."""
    get_base = getattr(model, "get_base_model", None)
    hf = get_base() if get_base is not None and getattr(model, "active_peft_config", None) is not None else model
    config = hf.config
    if getattr(config, "is_encoder_decoder", False):
        return SEQ2SEQ
    name = type(hf).__name__
    if name.endswith("ForMaskedLM"):
        return MASKED
    if name.endswith(("ForCausalLM", "LMHeadModel")):
        return CAUSAL
    return detect_family({"model_type": config.model_type, "is_decoder": getattr(config, "is_decoder", False)},
                         name)


def read_family(folder: str | Path, model_id: str = "the model") -> str:
    """The family of a local model folder (reads config.json only)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError("model.config_unreadable", model=model_id, detail=err) from None
    if not isinstance(config, dict):
        raise UserError("model.config_not_object", model=model_id)
    return detect_family(config, model_id)


def read_mask_token(folder: str | Path) -> str | None:
    """The mask token a local model folder's tokenizer files name (special_tokens_map.json, else
    tokenizer_config.json), or None: what a cloze template's {{ mask }} renders as, known without loading the model.

    >>> import json, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "special_tokens_map.json").write_text(json.dumps({"mask_token": {"content": "<mask>"}}))
    >>> read_mask_token(folder)
    '<mask>'
    """
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        try:
            token = json.loads((Path(folder) / name).read_text(encoding="utf-8")).get("mask_token")
        except (OSError, ValueError, AttributeError):
            continue
        token = token.get("content") if isinstance(token, dict) else token
        if isinstance(token, str) and token:
            return token
    return None


def family_for_task_type(task_type: str | None) -> Family:
    """The family whose adapters PEFT saves with `task_type` (causal for unknown ones, PEFT's default)."""
    return next((f for f in FAMILIES.values() if f.peft_task_type == task_type), FAMILIES[CAUSAL])


def template_problem(family: str, *, mode: str, cloze: bool, model: str) -> Message | str:
    """Why a template cannot be scored by `model`, of `family` (a sentence saying what to do instead), or "".
    `mode`: "rank" or "generate"; `cloze`: the template's prompt has a {{ mask }} slot."""
    f = FAMILIES[family]
    if f.cloze and mode == "generate":
        return Message("model.masked_needs_choices", model=model, example=f.examples[0])
    if f.cloze and not cloze:
        return Message("model.masked_needs_slot", model=model)
    if cloze and not f.cloze:
        return Message("model.cloze_needs_masked", model=model, family=Message(f"family.{family}"))
    return ""
