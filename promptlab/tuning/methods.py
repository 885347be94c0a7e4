"""PEFT wrapping and soft-prompt initialisation for each model family, plus the nearest-token probe of virtual
tokens. What each method is (virtual positions or key/values, gradient checkpointing, ...) lives in
`promptlab.models.peft_methods`; how it is configured for each family lives here, in `peft_config_for`.

PEFT's own inits are not enough: there is no class-label init (the best one for small models in Lester et al.
2021), SAMPLE_VOCAB samples the whole vocabulary instead of frequent tokens, TEXT needs a tokenizer path, and
prefix tuning has no text init at all. So every prompt method is created with PEFT's RANDOM init and its weights
are then set here, from token ids chosen by `init_token_ids`.
"""

from __future__ import annotations

import dataclasses
import re

import torch

from promptlab.messages import Message, UserError
from promptlab.models.families import CAUSAL, FAMILIES, MASKED, SEQ2SEQ, family_of_model
from promptlab.models.peft_methods import method_for_peft_type, peft_parts
from promptlab.tuning.config import TuneConfig

FREQUENT_TOKENS = 5000
_DEFAULT_LORA_TARGETS = next(f.default for f in dataclasses.fields(TuneConfig) if f.name == "lora_target_modules")


def peft_config_for(config: TuneConfig, family: str = CAUSAL, model_config=None):
    """The PEFT config of a TuneConfig for a model of `family` (its PEFT task type: CAUSAL_LM, SEQ_2_SEQ_LM, or
    FEATURE_EXTRACTION for masked LMs). `model_config`: the model's config, which seq2seq prefixes need."""
    from peft import LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig

    task, n = FAMILIES[family].peft_task_type, config.num_virtual_tokens
    # PEFT's seq2seq forward puts prompt/P-tuning vectors before the encoder only; its default of two submodules
    # would train n more vectors that nothing reads.
    submodules = {"num_transformer_submodules": 1} if family == SEQ2SEQ else {}
    if config.method == "prompt_tuning":
        return PromptTuningConfig(task_type=task, num_virtual_tokens=n, prompt_tuning_init="RANDOM", **submodules)
    if config.method == "p_tuning":
        return PromptEncoderConfig(task_type=task, num_virtual_tokens=n, **submodules,
                                   encoder_reparameterization_type=config.encoder.upper(),
                                   encoder_hidden_size=config.encoder_hidden_size)
    if config.method == "prefix_tuning":
        return PrefixTuningConfig(task_type=task, num_virtual_tokens=n, prefix_projection=config.prefix_projection,
                                  encoder_hidden_size=config.encoder_hidden_size,
                                  **(_decoder_prefix_shape(model_config) if family == SEQ2SEQ else {}))
    return LoraConfig(task_type=task, r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=list(config.lora_target_modules))


def _decoder_prefix_shape(model_config) -> dict:
    """A seq2seq prefix lives in the decoder's self-attention: its layer count, and a key/value width of heads x
    d_kv, which PEFT would take from d_model (wrong for T5s whose d_kv x heads differs, e.g. flan-t5-small)."""
    if model_config is None:
        return {}
    heads = getattr(model_config, "num_heads", None) or getattr(model_config, "num_attention_heads", None)
    d_kv = getattr(model_config, "d_kv", None)
    layers = getattr(model_config, "num_decoder_layers", None) or getattr(model_config, "num_hidden_layers", None)
    shape = {"num_attention_heads": heads, "num_layers": layers}
    if d_kv and heads:
        shape["token_dim"] = d_kv * heads
    return {k: v for k, v in shape.items() if v}


def wrap(model, tokenizer, config: TuneConfig, *, init_text: str = "", choices=()):
    """`model` (of any family) wrapped for training with PEFT, its virtual tokens initialised per `config.init`.

    `init_text` is the template's text (for init="template"); `choices` the answer choices (init="class_labels").
    The same seed gives the same initial weights.
    """
    from peft import get_peft_model

    family = family_of_model(model)
    torch.manual_seed(config.seed)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    peft_config = peft_config_for(config, family, model.config)
    if config.method == "lora" and config.lora_target_modules == _DEFAULT_LORA_TARGETS and \
            not _has_modules(model, _DEFAULT_LORA_TARGETS):
        peft_config.target_modules = None  # the default names Llama's projections; elsewhere PEFT's own choice
    try:
        peft_model = get_peft_model(model, peft_config)
    except ValueError as err:
        raise UserError("tuning.cannot_apply", method=Message(f"method.{config.method}"),
                        family=Message(f"family.{family}"), model=type(model).__name__,
                        detail=str(err).splitlines()[0][:300]) from None
    if config.uses_virtual_tokens:
        ids = init_token_ids(tokenizer, config, init_text=init_text, choices=choices)
        _set_virtual_tokens(peft_model, config, ids)
    return peft_model


def _has_modules(model, names) -> bool:
    return any(name.rsplit(".", 1)[-1] in names for name, _ in model.named_modules())


# ---- choosing init tokens ----------------------------------------------------------------------------------------


def init_token_ids(tokenizer, config: TuneConfig, *, init_text: str = "", choices=()) -> list[int] | None:
    """The token ids whose embeddings start the virtual tokens, or None for init="random".

    template: the init text's tokens, cycled or cut to the prompt length (as PEFT's TEXT init does);
    class_labels: every answer choice's tokens, then frequent tokens to fill (Lester et al. 2021);
    sample_vocab: frequent tokens drawn at random (seeded).
    """
    n = config.num_virtual_tokens
    gen = torch.Generator().manual_seed(config.seed)
    if config.init == "random":
        return None
    if config.init == "template":
        text = config.init_text or init_text
        ids = tokenizer.encode(text, add_special_tokens=False) if text.strip() else []
        if not ids:
            raise UserError("tuning.template_init_needs_text")
        return (ids * (n // len(ids) + 1))[:n]
    frequent = frequent_token_ids(tokenizer)
    fill = [frequent[i] for i in torch.randperm(len(frequent), generator=gen)[:n].tolist()]
    if config.init == "sample_vocab":
        return fill
    label_ids: list[int] = []
    for choice in choices:
        for tok in tokenizer.encode(" " + choice.strip(), add_special_tokens=False):
            if tok not in label_ids:
                label_ids.append(tok)
    if not label_ids:
        raise UserError("tuning.class_labels_init")
    return (label_ids + [t for t in fill if t not in label_ids])[:n]


def frequent_token_ids(tokenizer, count: int = FREQUENT_TOKENS) -> list[int]:
    """Approximately the `count` most frequent tokens: the first `count` non-special, multi-character token ids.

    No frequency table ships with a tokenizer, but BPE assigns ids in merge order, and merges are learned most
    frequent first, so low ids are frequent tokens. Special tokens and the single-byte alphabet (which also sits
    at the start of the vocabulary) are skipped: single bytes are rarely whole words. WordPiece vocabularies (BERT)
    also hold unused placeholders ([unused12]) and word continuations (##ing), skipped too; a single Chinese
    character is a whole word there (bert-base-chinese is mostly those).
    """
    special = set(tokenizer.all_special_ids)
    word_piece = type(getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)).__name__ == "WordPiece"
    out = []
    for i in range(len(tokenizer)):
        if i in special:
            continue
        piece = tokenizer.convert_ids_to_tokens(i)
        if piece is None or _PLACEHOLDER.fullmatch(piece) or (word_piece and piece.startswith("##")):
            continue
        if len(piece) > 1 or _CJK.fullmatch(piece):
            out.append(i)
            if len(out) == count:
                break
    return out


_PLACEHOLDER = re.compile(r"\[unused\d+\]|<extra_id_\d+>")  # BERT's and T5's reserved vocabulary entries
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def template_init_text(template) -> str:
    """A template's natural soft-prompt init text: its instruction, else its prompt with Jinja parts removed."""
    if template.instruction.strip():
        return template.instruction.strip()
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", template.prompt, flags=re.S)
    return " ".join(text.split())


# ---- setting the weights ------------------------------------------------------------------------------------------


def _set_virtual_tokens(peft_model, config: TuneConfig, ids: list[int] | None) -> None:
    encoder = peft_model.prompt_encoder[peft_model.active_adapter]
    word_embeddings = peft_model.get_base_model().get_input_embeddings().weight
    weight = encoder.embedding.weight
    with torch.no_grad():
        if config.method == "prefix_tuning" and not config.prefix_projection:
            if ids is not None:  # the prefix is raw key/values: use those the base model computes for the text
                weight.copy_(_prefix_key_values(peft_model, ids).to(weight.dtype))
            return
        if ids is None:  # random, at the scale of real token embeddings (PEFT's N(0, 1) is far off that scale)
            weight.normal_(0.0, float(word_embeddings.float().std()))
        else:
            rows = torch.tensor(ids, device=word_embeddings.device)
            rows = rows.repeat(weight.shape[0] // len(ids))  # PEFT's seq2seq default keeps a copy per submodule
            weight.copy_(word_embeddings[rows].to(weight.dtype))


def _prefix_key_values(peft_model, ids: list[int]) -> torch.Tensor:
    """(n, layers*2*kv_dim) keys and values of `ids` at positions 0..n-1, laid out as PEFT's prefix expects.

    A prefix initialised so behaves like the init text written in front of the prompt (Li & Liang 2021 found
    activations of real words the best prefix init). Causal LMs: exactly so. Masked LMs: the keys/values the
    encoder computes for the text on its own (which, unlike written text, does not see the input after it).
    Seq2seq: the decoder self-attention's keys/values of the text as decoder input, with the text as the encoder's.
    """
    from transformers import DynamicCache, EncoderDecoderCache

    base = peft_model.get_base_model()
    family = family_of_model(base)
    tokens = torch.tensor([ids], device=base.get_input_embeddings().weight.device)
    with torch.no_grad():
        if family == MASKED:  # an encoder keeps no cache unless handed one; its layers fill the one they are given
            cache = DynamicCache()
            base.base_model(input_ids=tokens, past_key_values=cache)
        elif family == SEQ2SEQ:
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            base(input_ids=tokens, decoder_input_ids=tokens, past_key_values=cache, use_cache=True)
            cache = cache.self_attention_cache
        else:
            cache = base(input_ids=tokens, use_cache=True).past_key_values
    layers = []
    for layer in range(len(cache.layers)):
        keys, values = cache.layers[layer].keys, cache.layers[layer].values  # (1, kv_heads, n, head_dim)
        for t in (keys, values):
            layers.append(t[0].permute(1, 0, 2).reshape(len(ids), -1))
    return torch.cat(layers, dim=1).float()


# ---- probes -------------------------------------------------------------------------------------------------------


def _method(peft_model):
    return method_for_peft_type(getattr(peft_parts(peft_model)[1], "peft_type", None))


def virtual_token_vectors(peft_model) -> torch.Tensor | None:
    """The (n, dim) vectors the model sees as virtual tokens (prompt encoder output), or None for LoRA."""
    method = _method(peft_model)
    if method is None or not method.virtual_tokens:
        return None
    with torch.no_grad():
        return peft_model.get_prompt_embedding_to_save(peft_model.active_adapter).float()


def nearest_tokens(peft_model, tokenizer, k: int = 3) -> list[list[str]] | None:
    """For each virtual token, the `k` vocabulary tokens closest by cosine; None where that means nothing.

    Prefix tuning's virtual tokens are key/values, not embeddings, so they have no nearest words.
    """
    method = _method(peft_model)
    vectors = virtual_token_vectors(peft_model)
    embeddings = peft_model.get_base_model().get_input_embeddings().weight.detach().float()
    if vectors is None or not method.embedding_vectors or vectors.shape[1] != embeddings.shape[1]:
        return None
    sims = torch.nn.functional.normalize(vectors.to(embeddings.device), dim=1) @ \
        torch.nn.functional.normalize(embeddings, dim=1).T
    top = sims.topk(k, dim=1).indices.tolist()
    return [[tokenizer.decode([i]) for i in row] for row in top]


def drift(vectors: torch.Tensor, initial: torch.Tensor) -> list[float]:
    """Per virtual token, how far it moved from its initial vector, relative to that vector's norm."""
    return ((vectors - initial).norm(dim=1) / initial.norm(dim=1).clamp_min(1e-8)).tolist()
