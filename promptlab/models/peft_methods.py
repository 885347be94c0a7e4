"""What each PEFT method is, in one place: the facts the scorers, adapter loading, the probes, the tuning code and
the config checks read. Torch-free (config validation runs where torch is not imported).

    prompt tuning   virtual token embeddings before the input (Lester et al. 2021)
    P-tuning        the same, produced by a small MLP/LSTM encoder (Liu et al. 2021)
    prefix tuning   keys/values before every layer's own (Li & Liang 2021; P-tuning v2 is the same "deep prompt")
    LoRA            low-rank updates of weight matrices (Hu et al. 2021): no virtual tokens at all

How a method reaches each family (what the scorers rebuild, following PEFT's own forward):
causal: virtual tokens take positions 0..n-1 and real tokens follow; a prefix is the layers' past keys/values and
real tokens' positions start at n. seq2seq: virtual tokens go before the encoder's input; a prefix goes into the
decoder's self-attention (PEFT empties its cross-attention part). masked: virtual tokens go before the input
(positions 0..n-1); a prefix is every layer's past keys/values and, as in a decoder, real tokens' positions start
at n (BERT reads its cache length for its position ids), so either way n positions of the model are used up.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptlab.messages import UserError

POSITIONS, KEY_VALUES, WEIGHTS = "positions", "key_values", "weights"


@dataclass(frozen=True)
class PeftMethod:
    name: str  # TuneConfig.method
    peft_type: str  # PEFT's PeftType value
    adds: str  # POSITIONS (virtual embeddings before the input), KEY_VALUES (per-layer keys/values), WEIGHTS
    embedding_vectors: bool  # its virtual vectors live in word-embedding space: nearest tokens mean something
    gradient_checkpointing: bool  # works with gradient checkpointing (PEFT refuses it for a prefix)
    title: str = ""

    @property
    def virtual_tokens(self) -> bool:
        """Trains virtual tokens (everything but LoRA): num_virtual_tokens and the soft-prompt inits apply."""
        return self.adds != WEIGHTS


METHODS: dict[str, PeftMethod] = {
    "prompt_tuning": PeftMethod("prompt_tuning", "PROMPT_TUNING", POSITIONS, True, True, "prompt tuning"),
    "p_tuning": PeftMethod("p_tuning", "P_TUNING", POSITIONS, True, True, "P-tuning"),
    "prefix_tuning": PeftMethod("prefix_tuning", "PREFIX_TUNING", KEY_VALUES, False, False,
                                "prefix tuning (deep prompts, P-tuning v2)"),
    "lora": PeftMethod("lora", "LORA", WEIGHTS, False, True, "LoRA"),
}


def method_for_peft_type(peft_type) -> PeftMethod | None:
    """The method of a PEFT type (enum or its string value), or None for a type PromptLab does not train."""
    value = getattr(peft_type, "value", peft_type)
    return next((m for m in METHODS.values() if m.peft_type == value), None)


def peft_parts(model):
    """(Hugging Face model, active PEFT config or None, PeftModel or None) of a plain or PEFT-wrapped model."""
    get_base = getattr(model, "get_base_model", None)
    config = getattr(model, "active_peft_config", None)
    if get_base is None or config is None:
        return model, None, None
    return get_base(), config, model


def adds(peft_config) -> str:
    """What the active adapter adds to a forward: POSITIONS, KEY_VALUES, WEIGHTS, or "" (no adapter)."""
    if peft_config is None:
        return ""
    method = method_for_peft_type(peft_config.peft_type)
    if method is None:  # another PEFT method: if it learns a prompt we cannot rebuild its forward
        if peft_config.is_prompt_learning:
            raise UserError("model.peft_method", method=getattr(peft_config.peft_type, "value", peft_config.peft_type),
                            methods=", ".join(m.title for m in METHODS.values()))
        return WEIGHTS
    return method.adds


def used_positions(peft_config) -> int:
    """Model positions the adapter takes before the real tokens (virtual tokens or a prefix's cache length)."""
    return peft_config.num_virtual_tokens if adds(peft_config) in (POSITIONS, KEY_VALUES) else 0


def shape_mismatch(adapter_config: dict, model_config) -> str:
    """How a prompt-learning adapter's sizes differ from the model's (a sentence), or "". Prompt-learning weights of
    the wrong width load silently and fail later, so adapter loading checks first."""
    method = method_for_peft_type(adapter_config.get("peft_type"))
    # Prompt and P-tuning vectors are word embeddings, as wide as the model; a prefix's width is the key/value
    # width instead (narrower under grouped-query attention), and its layer count already tells a base apart.
    checks = [("token_dim", "hidden_size")] if method is not None and method.embedding_vectors else []
    # A seq2seq prefix sits in the decoder, whose layer count T5 keeps apart from the encoder's.
    decoder = method is not None and method.adds == KEY_VALUES and hasattr(model_config, "num_decoder_layers")
    checks.append(("num_layers", "num_decoder_layers" if decoder else "num_hidden_layers"))
    for ours, theirs in checks:
        want, have = adapter_config.get(ours), getattr(model_config, theirs, None)
        if want is not None and have is not None and want != have:
            return f"the adapter's {ours} is {want} but the model's {theirs} is {have}"
    return ""
