"""The encoder-decoder family (T5, flan-t5, mT5, BART): scoring a continuation as the decoder's labels, and generation.

A request (context, continuation) is scored as the log-likelihood of the continuation's tokens as decoder labels,
with the context as the encoder's input: the context is encoded with the tokenizer's special tokens (T5 appends
`</s>`), and so is the continuation, so its score includes the end-of-sequence token (what T5 was trained to emit
after an answer, and what lm-evaluation-harness scores for seq2seq models). Whitespace around the continuation is
dropped: the decoder starts a fresh text, so a template's target delimiter means nothing there.

Exactly as a direct forward per request, and faster:

* **One encoder pass per context.** The answer choices of a prompt share its encoder states (the encoder never sees
  the decoder, so this is exact); the decoder then runs once per choice, batched.
* **Little padding.** Contexts are batched by length under a token budget; decoder inputs are padded on the right,
  which a causal decoder never looks at.

PEFT methods are applied the way PEFT's own `PeftModelForSeq2SeqLM.forward` does: prompt tuning and P-tuning put
their virtual tokens before the encoder's input (the encoder states then include them); prefix tuning gives the
decoder's self-attention its keys/values (PEFT empties the cross-attention part); LoRA changes weights in place.
tests/test_seq2seq.py checks every method against `peft_model(input_ids=..., labels=...)` on each request alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from promptlab.messages import UserError
from promptlab.models import peft_methods
from promptlab.models.requests import Request


@dataclass(frozen=True)
class Encoded:
    """One request as token ids: the encoder's input and the decoder's labels."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


def encode(tokenizer, requests: Sequence[Request], max_length: int | None = None) -> list[Encoded]:
    """Token ids of each request; long contexts lose tokens on the left (the end of a prompt matters most)."""
    cache: dict[str, tuple[int, ...]] = {}
    out = []
    for req in requests:
        if req.context not in cache:
            cache[req.context] = tuple(tokenizer.encode(req.context, add_special_tokens=True))
        answer = req.continuation.strip()
        if not answer:
            raise UserError("model.empty_answer", continuation=repr(req.continuation))
        labels = tuple(tokenizer.encode(answer, add_special_tokens=True))
        context = cache[req.context]
        if max_length and len(context) > max_length:
            context = context[-max_length:]
        if max_length and len(labels) > max_length:
            labels = labels[:max_length]
        out.append(Encoded(context, labels))
    return out


def batches(encoded: Sequence[Encoded], max_tokens: int = 4096) -> Iterator[list[int]]:
    """Request indices in batches of whole contexts (a context's choices stay together), longest first; each batch's
    padded size (contexts x longest context, plus requests x longest continuation) stays within `max_tokens`."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, e in enumerate(encoded):
        groups.setdefault(e.context, []).append(i)
    ordered = sorted(groups.values(), key=lambda g: -len(encoded[g[0]].context))
    batch: list[list[int]] = []
    for group in ordered:
        if batch and _padded_size(encoded, [*batch, group]) > max_tokens:
            yield [i for g in batch for i in g]
            batch = []
        batch.append(group)
    if batch:
        yield [i for g in batch for i in g]


def _padded_size(encoded: Sequence[Encoded], groups: list[list[int]]) -> int:
    contexts = len(groups) * max(len(encoded[g[0]].context) for g in groups)
    requests = [i for g in groups for i in g]
    return contexts + len(requests) * max(len(encoded[i].continuation) for i in requests)


def tokens_read(encoded: Sequence[Encoded], indices: Sequence[int]) -> int:
    """Real tokens the model read for these requests: each context once, each continuation."""
    contexts = {encoded[i].context for i in indices}
    return sum(len(c) for c in contexts) + sum(len(encoded[i].continuation) for i in indices)


def logprobs(model, encoded: Sequence[Encoded], indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed continuation log-probabilities and greedy flags for `indices`, in that order. Differentiable."""
    hf, peft_config, peft_model = peft_methods.peft_parts(model)
    device = next(hf.parameters()).device
    contexts = list(dict.fromkeys(encoded[i].context for i in indices))
    row_of = {c: r for r, c in enumerate(contexts)}
    states, mask = _encoder_states(hf, peft_config, peft_model, contexts, device)
    owner = torch.tensor([row_of[encoded[i].context] for i in indices], device=device)
    labels = _pad([encoded[i].continuation for i in indices], -100, device)
    start = hf.config.decoder_start_token_id
    start = hf.config.pad_token_id if start is None else start
    decoder_ids = torch.cat([torch.full((len(indices), 1), start, device=device), labels[:, :-1]], dim=1)
    decoder_ids = decoder_ids.masked_fill(decoder_ids == -100, hf.config.pad_token_id)
    cache = None
    if peft_methods.adds(peft_config) == "key_values":
        cache = peft_model.get_prompt(len(indices))
    from transformers.modeling_outputs import BaseModelOutput

    out = hf(encoder_outputs=BaseModelOutput(last_hidden_state=states[owner]), attention_mask=mask[owner],
             decoder_input_ids=decoder_ids, past_key_values=cache, use_cache=False)
    logits = out.logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    scored = labels != -100
    token_lp = logp.gather(2, labels.clamp_min(0)[..., None]).squeeze(2) * scored
    misses = ((logits.argmax(-1) != labels) & scored).sum(1)
    return token_lp.sum(1), misses == 0


def _encoder_states(hf, peft_config, peft_model, contexts, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder states of the padded contexts and their attention mask (virtual tokens first, when the method adds
    them to the encoder's input)."""
    ids = _pad(contexts, hf.config.pad_token_id, device)
    mask = _pad([[1] * len(c) for c in contexts], 0, device)
    encoder = hf.get_encoder()
    if peft_methods.adds(peft_config) == "positions":
        embeds = hf.get_input_embeddings()(ids)
        n = peft_config.num_virtual_tokens
        prompts = peft_model.get_prompt(batch_size=len(contexts))[:, :n].to(embeds.dtype)
        embeds = torch.cat([prompts, embeds], dim=1)
        mask = torch.cat([torch.ones(len(contexts), n, dtype=mask.dtype, device=device), mask], dim=1)
        return encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state, mask
    return encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask


def _pad(rows: Sequence[Sequence[int]], value: int, device) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), value, dtype=torch.long, device=device)
    for b, row in enumerate(rows):
        out[b, : len(row)] = torch.tensor(row, dtype=torch.long, device=device)
    return out


def generate(model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int, max_length: int,
             on_batch=None) -> list[str]:
    """Greedy decoder outputs for `prompts` (the decoder writes only the answer: no prompt to cut off), in order.
    `on_batch(done, total)` after each batch."""
    device = next(peft_methods.peft_parts(model)[0].parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        contexts = [tuple(tokenizer.encode(prompts[i], add_special_tokens=True)[-max_length:]) for i in chunk]
        for i, row in zip(chunk, greedy_ids(model, contexts, max_new_tokens, device)):
            out[i] = tokenizer.decode(row, skip_special_tokens=True)
        if on_batch:
            on_batch(min(start + batch_size, len(order)), len(order))
    return out


def greedy_ids(model, contexts: Sequence[Sequence[int]], max_new_tokens: int, device) -> list[list[int]]:
    """Greedy decoding with the very forward `logprobs` scores with (encoder states and adapter included), one
    token at a time on a key/value cache; each row's ids end at its end-of-sequence token. Not `model.generate`:
    with transformers 5 and peft 0.21 a prefix adapter's keys/values never reach the decoder there."""
    from transformers import DynamicCache, EncoderDecoderCache
    from transformers.modeling_outputs import BaseModelOutput

    hf, peft_config, peft_model = peft_methods.peft_parts(model)
    states, mask = _encoder_states(hf, peft_config, peft_model, list(contexts), device)
    encoder_outputs = BaseModelOutput(last_hidden_state=states)
    if peft_methods.adds(peft_config) == "key_values":
        cache = peft_model.get_prompt(len(contexts))
    else:
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    start = hf.config.decoder_start_token_id
    token = torch.full((len(contexts), 1), hf.config.pad_token_id if start is None else start, device=device)
    eos, done, out = hf.config.eos_token_id, torch.zeros(len(contexts), dtype=torch.bool, device=device), []
    for _ in range(max_new_tokens):
        logits = hf(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=token,
                    past_key_values=cache, use_cache=True).logits[:, -1]
        token = logits.argmax(-1, keepdim=True)
        out.append(token.squeeze(1).masked_fill(done, -1))
        done |= token.squeeze(1) == eos
        if bool(done.all()):
            break
    rows = torch.stack(out, dim=1).tolist() if out else [[] for _ in contexts]
    return [[t for t in row if t != -1] for row in rows]
