"""The masked-LM family (BERT, RoBERTa, XLM-R, ...): cloze scoring of label words at a mask slot (PET, LM-BFF, the
original P-tuning). Masked LMs cannot write free text, so there is no generation here.

A cloze template marks the answer slot with `{{ mask }}`, which renders as the model's own mask token (`[MASK]`,
`<mask>`). A request (context, continuation) is then: the context holds the slot exactly once, and the
continuation, stripped of whitespace, is the label word. The scoring rule:

* **Tokens of the label word, in place.** Whitespace before the slot belongs to the word (as a BPE tokenizer such
  as RoBERTa's writes " great" as one token `Ġgreat`; WordPiece ignores it). The word's tokens are what tokenizing
  (text before the slot + word) adds beyond the text before the slot's own tokens (lm-evaluation-harness's rule
  for continuations), or, where a BPE merge crosses the slot's edge (很 + 好 as one token 很好), the word's own
  tokens; the text after the slot is tokenized on its own.
* **k masks for a k-token word, all masked at once.** The model reads `[CLS] before [MASK]*k after [SEP]`, and the
  choice's score is the sum over i of log p(token_i at mask position i), each from that one forward. (Not the
  product of one-at-a-time fills: that would need k forwards per choice and depends on the order chosen.)
  Label words of different token counts therefore see inputs of different lengths; a sum over more tokens is
  lower, so prefer label words of one token each (or look at acc_norm, which divides by the word's length).
* **Text never becomes a special token.** Both sides of the slot are tokenized with special tokens split
  (`[SEP]` or `<mask>` typed in a review is plain text), and exactly one slot must be in the context: a
  second copy of the mask text is refused with a message, never guessed at.

Choices with the same number of tokens share one input, so a two-way classification with one-token label words
costs one forward per row. PEFT methods are applied as PEFT's own `PeftModelForFeatureExtraction.forward` does on
a `...ForMaskedLM` model (PEFT has no masked-LM task type; FEATURE_EXTRACTION passes the model's output, the MLM
logits, through unchanged): prompt tuning and P-tuning put virtual tokens before the input, prefix tuning passes
every layer's keys/values as the cache, LoRA changes weights in place. tests/test_masked_lm.py checks each against
`peft_model(input_ids=...)` on each request alone.
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
    """One request: the tokens before the slot (special tokens included), the label word's tokens, and after."""

    left: tuple[int, ...]
    word: tuple[int, ...]
    right: tuple[int, ...]
    mask: int  # the mask token's id

    @property
    def row(self) -> tuple[int, ...]:
        """What the model reads: the text before the slot, one mask per word token, the text after it."""
        return self.left + (self.mask,) * len(self.word) + self.right


def encode(tokenizer, requests: Sequence[Request], max_length: int | None = None) -> list[Encoded]:
    """Token ids of each cloze request by the rule in the module docstring. Long texts lose tokens at the start
    of the text before the slot first, then at the end of the text after it."""
    mask_text = tokenizer.mask_token
    if not mask_text:
        raise UserError("model.no_mask_token")
    prefix, suffix = _special_tokens(tokenizer)
    mask_id = tokenizer.mask_token_id
    cache: dict[str, tuple[list[int], str, str, list[int]]] = {}
    out = []
    for req in requests:
        if req.context not in cache:
            cache[req.context] = _split(tokenizer, req.context, mask_text)
        left, left_text, spaces, right = cache[req.context]
        word = req.continuation.strip()
        word_ids = _word_tokens(tokenizer, left, left_text, spaces, word) if word else []
        if not word_ids:
            raise UserError("model.empty_label_word", word=repr(req.continuation))
        room = (max_length or 10**9) - len(prefix) - len(suffix) - len(word_ids)
        if room < 0:
            raise UserError("model.long_label_word", word=repr(word), n=len(word_ids), limit=max_length)
        cut_left = max(0, len(left) + len(right) - room)
        kept_left = left[cut_left:]
        kept_right = right[:max(0, room - len(kept_left))]
        out.append(Encoded(tuple(prefix + kept_left), tuple(word_ids), tuple(kept_right + suffix), mask_id))
    return out


def _split(tokenizer, context: str, mask_text: str) -> tuple[list[int], str, str, list[int]]:
    """(tokens before the slot, the text before it without trailing whitespace, that whitespace, tokens after)."""
    slots = context.count(mask_text)
    if slots != 1:
        if slots == 0:
            raise UserError("model.no_mask_slot")
        raise UserError("model.mask_slots", n=slots, mask=repr(mask_text))
    before, after = context.split(mask_text)
    text = before.rstrip()
    return _tokens(tokenizer, text), text, before[len(text):], _tokens(tokenizer, after)


def _word_tokens(tokenizer, left: list[int], left_text: str, spaces: str, word: str) -> list[int]:
    """The label word's tokens in its slot: what (text before + whitespace + word) adds beyond the text before's
    own tokens; where a merge crosses the slot's edge (byte-level BPE writes 很好 as one token), the word's tokens
    on their own, whitespace included."""
    whole = _tokens(tokenizer, left_text + spaces + word)
    if whole[:len(left)] == left and len(whole) > len(left):
        return whole[len(left):]
    return _tokens(tokenizer, spaces + word)


def _tokens(tokenizer, text: str) -> list[int]:
    """Token ids of plain text: no special tokens added, and none recognised inside the text."""
    return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True) if text else []


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text ([CLS] / [SEP], <s> / </s>)."""
    bare = tokenizer.encode("a", add_special_tokens=False)
    full = tokenizer.encode("a", add_special_tokens=True)
    at = next((i for i in range(len(full) - len(bare) + 1) if full[i:i + len(bare)] == bare), 0)
    return full[:at], full[at + len(bare):]


def batches(encoded: Sequence[Encoded], max_tokens: int = 4096) -> Iterator[list[int]]:
    """Request indices in batches of whole inputs (requests sharing an input stay together), longest first; each
    batch's padded size (inputs x longest input) stays within `max_tokens`."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(encoded):
        groups.setdefault(e.row, []).append(i)
    ordered = sorted(groups.values(), key=lambda g: -_length(encoded[g[0]]))
    batch: list[list[int]] = []
    longest = 0
    for group in ordered:
        length = _length(encoded[group[0]])
        if batch and max(longest, length) * (len(batch) + 1) > max_tokens:
            yield [i for g in batch for i in g]
            batch, longest = [], 0
        batch.append(group)
        longest = max(longest, length)
    if batch:
        yield [i for g in batch for i in g]


def _length(e: Encoded) -> int:
    return len(e.left) + len(e.word) + len(e.right)


def tokens_read(encoded: Sequence[Encoded], indices: Sequence[int]) -> int:
    """Real tokens the model read for these requests (each shared input once)."""
    return sum(len(row) for row in {encoded[i].row for i in indices})


def logprobs(model, encoded: Sequence[Encoded], indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed label-word log-probabilities at the mask slot and greedy flags for `indices`, in that order.
    Differentiable (the tuning loss is built from it)."""
    hf, peft_config, peft_model = peft_methods.peft_parts(model)
    device = next(hf.parameters()).device
    rows = list(dict.fromkeys(encoded[i].row for i in indices))
    row_of = {r: b for b, r in enumerate(rows)}
    batch_ix, pos_ix, targets, owner = [], [], [], []
    for n, i in enumerate(indices):
        e = encoded[i]
        batch_ix += [row_of[e.row]] * len(e.word)
        pos_ix += range(len(e.left), len(e.left) + len(e.word))
        targets += e.word
        owner += [n] * len(e.word)
    logits = _slot_logits(hf, peft_config, peft_model, rows, torch.tensor(batch_ix, device=device),
                          torch.tensor(pos_ix, device=device)).float()
    logp = torch.log_softmax(logits, dim=-1)
    target_t = torch.tensor(targets, device=device)
    token_lp = logp.gather(1, target_t[:, None]).squeeze(1)
    owner_t = torch.tensor(owner, device=device)
    sums = torch.zeros(len(indices), device=device, dtype=token_lp.dtype).index_add(0, owner_t, token_lp)
    misses = torch.zeros(len(indices), device=device).index_add(0, owner_t, (logits.argmax(-1) != target_t).float())
    return sums, misses == 0


def _slot_logits(hf, peft_config, peft_model, inputs, batch_ix, pos_ix) -> torch.Tensor:
    """Vocabulary logits at (batch_ix, pos_ix) of the padded inputs, with the adapter applied as PEFT does."""
    device = batch_ix.device
    pad = hf.config.pad_token_id if hf.config.pad_token_id is not None else 0
    length = max(len(r) for r in inputs)
    ids = torch.full((len(inputs), length), pad, dtype=torch.long, device=device)
    mask = torch.zeros((len(inputs), length), dtype=torch.long, device=device)
    for b, row in enumerate(inputs):
        ids[b, : len(row)] = torch.tensor(row, device=device)
        mask[b, : len(row)] = 1
    kind, offset = peft_methods.adds(peft_config), 0
    if kind in (peft_methods.POSITIONS, peft_methods.KEY_VALUES):
        n = peft_config.num_virtual_tokens
        mask = torch.cat([torch.ones(len(inputs), n, dtype=mask.dtype, device=device), mask], dim=1)
    if kind == peft_methods.POSITIONS:
        embeds = hf.get_input_embeddings()(ids)
        prompts = peft_model.get_prompt(batch_size=len(inputs)).to(embeds.dtype)
        kwargs = dict(inputs_embeds=torch.cat([prompts, embeds], dim=1), attention_mask=mask)
        offset = peft_config.num_virtual_tokens
    elif kind == peft_methods.KEY_VALUES:
        kwargs = dict(input_ids=ids, attention_mask=mask, past_key_values=peft_model.get_prompt(len(inputs)))
    else:
        kwargs = dict(input_ids=ids, attention_mask=mask)
    head = mlm_head(hf)
    if head is None:  # a head of several parts (DistilBERT, ModernBERT): the model's own forward, every position
        return hf(**kwargs).logits[batch_ix, offset + pos_ix]
    hidden = hf.base_model(**kwargs).last_hidden_state
    return head(hidden[batch_ix, offset + pos_ix])  # the vocabulary projection only where a label word is scored


def mlm_head(hf):
    """The masked-LM head as one module (BERT's `cls`, RoBERTa's `lm_head`), or None when the model's forward does
    more than `head(encoder(...))`. Its output at the slot is all we need; computing it for every position is a
    quarter of a BERT-base forward."""
    base = hf.base_model
    if base is hf:
        return None
    others = [m for m in hf.children() if m is not base and any(True for _ in m.parameters())]
    return others[0] if len(others) == 1 else None
