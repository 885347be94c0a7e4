"""Turn (context, continuation) requests into packed token batches and score them.

This is the scoring path of the causal (decoder-only) family (`seq2seq` and `masked` are the other two, with the
same four functions: encode, batches, logprobs, tokens_read): `LM.loglikelihood` runs it under
`torch.inference_mode`, the tuning loop runs it with gradients. Three things make it fast without changing any
number:

* **Shared contexts.** Requests with the same context (the answer choices of one example) become one packed row:
  the context once, then every choice's tokens after it. Contexts that share a long prefix (few-shot prompts with
  the same demonstrations) share a row too: the prefix once, then each context's remainder and its choices. A
  tree-shaped attention mask lets each token see only its own ancestors, and position ids continue from each
  token's own context, so every request is scored exactly as if it stood alone.
* **Head only where needed.** The decoder runs without its output layer; the vocabulary projection is applied to
  the few hidden states that predict continuation tokens (a 49k vocabulary is a fifth of a small model's compute).
* **Little padding.** Short unrelated contexts share a row side by side (the mask keeps them apart), and rows
  are batched by length under a token budget.

PEFT prompt tuning and P-tuning prepend `num_virtual_tokens` embeddings; prefix tuning injects key/values and adds
no positions. Both are handled here by building the virtual part ourselves, with the same positions PEFT's own
forward uses, so results match a plain `peft_model(input_ids)` call on each request (see tests/test_packing.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from promptlab.messages import UserError
from promptlab.models import peft_methods
from promptlab.models.peft_methods import peft_parts
from promptlab.models.requests import Request


@dataclass(frozen=True)
class Encoded:
    """One request as token ids: the context and the continuation tokens that follow it."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


@dataclass(frozen=True)
class _Row:
    """One packed row: a token prefix shared by several contexts, each context's remainder, their continuations."""

    tokens: list[int]
    positions: list[int]
    group: list[int]  # -1 for the shared prefix, g for tokens of the row's g-th context (and its continuations)
    choice: list[int]  # -1 for context tokens, j for tokens of the j-th continuation of their context
    requests: list[int]  # request indices in this row
    score_at: list[list[int]]  # per request: row positions whose next-token prediction is scored


# A context joins the row before it when they share at least this many leading tokens and at least half of the
# context: few-shot prompts (same demonstrations, different query) qualify, unrelated zero-shot rows do not.
MIN_SHARED_TOKENS = 16
MAX_ROW_TOKENS = 1024  # attention grows with the square of a row: keep packed rows moderate
# Short unrelated contexts are laid side by side in rows of up to this many tokens (the tree mask keeps them
# apart), so batches of rows of very different lengths waste little on padding.
SIDE_BY_SIDE_TOKENS = 256


def encode(tokenizer, requests: Sequence[Request], max_length: int | None = None) -> list[Encoded]:
    """Tokenise requests the way lm-evaluation-harness does, so both score the same tokens.

    Trailing whitespace of the context moves to the continuation, the pair is tokenised whole, and the continuation
    is what the whole adds beyond the context's own tokens. Long contexts lose tokens on the left.
    """
    bos = _bos_prefix(tokenizer)
    cache: dict[str, list[int]] = {}
    out = []
    for req in requests:
        context, continuation = req.context, req.continuation
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        if context not in cache:
            cache[context] = tokenizer.encode(context, add_special_tokens=False) if context else []
        ctx = cache[context]
        whole = tokenizer.encode(context + continuation, add_special_tokens=False)
        cont = whole[len(ctx):]
        if not cont:
            raise UserError("model.empty_continuation", continuation=repr(req.continuation))
        ctx = bos + ctx
        if not ctx:  # nothing to condition on: start from the end-of-text token, as lm-eval does
            ctx = [tokenizer.eos_token_id]
        if max_length and len(ctx) + len(cont) > max_length:
            ctx = ctx[-max(1, max_length - len(cont)):]
        out.append(Encoded(tuple(ctx), tuple(cont)))
    return out


def _bos_prefix(tokenizer) -> list[int]:
    """[bos] for tokenizers that add it by default (Gemma, Llama 2), [] for those that don't (SmolLM2, GPT-2)."""
    probe = tokenizer.encode("a", add_special_tokens=True)
    bos = tokenizer.bos_token_id
    return [bos] if bos is not None and probe and probe[0] == bos else []


def tokens_read(encoded: Sequence[Encoded], indices: Sequence[int]) -> int:
    """Real tokens the model read for these requests (each shared context once)."""
    contexts = {encoded[i].context for i in indices}
    return sum(len(c) for c in contexts) + sum(len(encoded[i].continuation) for i in indices)


def batches(encoded: Sequence[Encoded], max_tokens: int = 4096) -> Iterator[list[int]]:
    """Group request indices into batches of packed rows, longest rows first.

    Requests sharing a context, and contexts sharing a long prefix, stay in one batch. Each batch's padded size
    (rows x longest row) stays within `max_tokens` (a single longer row still forms a batch of its own). Longest
    first means the first batch is the biggest, so memory problems show up at once.
    """
    rows = _plan_rows(encoded, range(len(encoded)))
    rows.sort(key=lambda r: -_row_length(encoded, r))
    batch: list[list[list[int]]] = []
    longest = 0
    for row in rows:
        length = _row_length(encoded, row)
        if batch and max(longest, length) * (len(batch) + 1) > max_tokens:
            yield _flatten(batch)
            batch, longest = [], 0
        batch.append(row)
        longest = max(longest, length)
    if batch:
        yield _flatten(batch)


def _flatten(rows: Sequence[Sequence[Sequence[int]]]) -> list[int]:
    return [i for row in rows for group in row for i in group]


def _groups(encoded: Sequence[Encoded], indices: Sequence[int] | None = None) -> list[list[int]]:
    """Request indices grouped by identical context, in first-seen order."""
    by_context: dict[tuple[int, ...], list[int]] = {}
    for i in range(len(encoded)) if indices is None else indices:
        by_context.setdefault(encoded[i].context, []).append(i)
    return list(by_context.values())


def _plan_rows(encoded: Sequence[Encoded], indices: Sequence[int]) -> list[list[list[int]]]:
    """Rows of context groups: contexts sorted so shared prefixes are neighbours and merged greedily, then the
    remaining single-context rows laid side by side."""
    groups = sorted(_groups(encoded, indices), key=lambda g: encoded[g[0]].context)
    rows: list[list[list[int]]] = []
    shared = 0
    for group in groups:
        context = encoded[group[0]].context
        if rows:
            common = min(shared, _common_prefix(encoded[rows[-1][0][0]].context, context))
            fits = _row_length(encoded, rows[-1] + [group], common) <= MAX_ROW_TOKENS
            if common >= max(MIN_SHARED_TOKENS, len(context) // 2) and fits:
                rows[-1].append(group)
                shared = common
                continue
        rows.append([group])
        shared = len(context)
    return _side_by_side(encoded, rows)


def _side_by_side(encoded: Sequence[Encoded], rows: list[list[list[int]]]) -> list[list[list[int]]]:
    """Single-context rows packed into rows of up to SIDE_BY_SIDE_TOKENS tokens: best fit, longest first."""
    merged = [row for row in rows if len(row) > 1]
    singles = sorted((row for row in rows if len(row) == 1), key=lambda row: -_row_length(encoded, row))
    packed: list[list[list[int]]] = []
    free: list[tuple[int, int]] = []  # (tokens still free, index in packed), sorted
    for row in singles:
        n = _row_length(encoded, row)
        at = bisect.bisect_left(free, (n, -1))
        if at == len(free):
            packed.append(list(row))
            bisect.insort(free, (SIDE_BY_SIDE_TOKENS - n, len(packed) - 1))
            continue
        room, b = free.pop(at)
        packed[b].append(row[0])
        bisect.insort(free, (room - n, b))
    return merged + packed


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _shared_length(encoded: Sequence[Encoded], row: Sequence[Sequence[int]]) -> int:
    contexts = [encoded[g[0]].context for g in row]
    return min(_common_prefix(contexts[0], c) for c in contexts)


def _row_length(encoded: Sequence[Encoded], row: Sequence[Sequence[int]], shared: int | None = None) -> int:
    shared = _shared_length(encoded, row) if shared is None else shared
    return shared + sum(len(encoded[g[0]].context) - shared + sum(len(encoded[i].continuation) - 1 for i in g)
                        for g in row)


def _pack(encoded: Sequence[Encoded], row: Sequence[Sequence[int]]) -> _Row:
    """Lay out one row: shared prefix, then per context its remainder and its continuations' input tokens."""
    shared = _shared_length(encoded, row)
    packed = _Row([], [], [], [], [], [])

    def add(token: int, position: int, group: int, choice: int) -> None:
        packed.tokens.append(token)
        packed.positions.append(position)
        packed.group.append(group)
        packed.choice.append(choice)

    for p, token in enumerate(encoded[row[0][0]].context[:shared]):
        add(token, p, -1, -1)
    for g, members in enumerate(row):
        context = encoded[members[0]].context
        for p in range(shared, len(context)):
            add(context[p], p, g, -1)
        last = len(packed.tokens) - 1 if len(context) > shared else shared - 1
        for j, i in enumerate(members):
            cont = encoded[i].continuation
            # The first continuation token is predicted from the context's last position; each later one from
            # the previous continuation token, whose input we append here. The last token is never an input.
            where = [last]
            for k, token in enumerate(cont[:-1]):
                where.append(len(packed.tokens))
                add(token, len(context) + k, g, j)
            packed.requests.append(i)
            packed.score_at.append(where)
    return packed


def _tree_mask(rows: Sequence[_Row], length: int, prefix: int, device) -> torch.Tensor:
    """Boolean (batch, 1, prefix+length, prefix+length) mask: True where a query may attend to a key.

    Causal, and a token sees the shared prefix, earlier tokens of its own context, and earlier tokens of its own
    continuation: never another context or another answer choice. Virtual tokens (prefix) are seen by everyone.
    Padding attends to itself only, which keeps its (unused) outputs finite: an all-masked row would give NaNs
    that then leak through the value vectors.
    """
    total = prefix + length
    mask = torch.zeros(len(rows), 1, total, total, dtype=torch.bool, device=device)
    causal = torch.ones(total, total, dtype=torch.bool, device=device).tril()
    for b, row in enumerate(rows):
        group = torch.full((length,), -2, dtype=torch.long, device=device)
        choice = torch.full((length,), -1, dtype=torch.long, device=device)
        group[: len(row.tokens)] = torch.tensor(row.group, device=device)
        choice[: len(row.tokens)] = torch.tensor(row.choice, device=device)
        qg, kg, qc, kc = group[:, None], group[None, :], choice[:, None], choice[None, :]
        visible = (kg == -1) | ((kg == qg) & ((kc == -1) | (kc == qc)))
        visible &= (qg != -2) & (kg != -2)
        mask[b, 0, prefix:, prefix:] = visible & causal[prefix:, prefix:]
        mask[b, 0, :, :prefix] = causal[:, :prefix]
    idx = torch.arange(total, device=device)
    mask[:, 0, idx, idx] = True
    return mask


def logprobs(model, encoded: Sequence[Encoded], indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed continuation log-probabilities and greedy flags for `indices`, in that order.

    Differentiable (the tuning loss is built from it); wrap in `torch.inference_mode()` to score.
    """
    rows = [_pack(encoded, row) for row in _plan_rows(encoded, indices)]
    hidden, offset = _hidden_states(model, rows)
    batch_ix, pos_ix, targets, owner = [], [], [], []
    order = {i: n for n, i in enumerate(indices)}
    for b, row in enumerate(rows):
        for i, where in zip(row.requests, row.score_at):
            batch_ix += [b] * len(where)
            pos_ix += [offset + p for p in where]
            targets += encoded[i].continuation
            owner += [order[i]] * len(where)
    device = hidden.device
    selected = hidden[torch.tensor(batch_ix, device=device), torch.tensor(pos_ix, device=device)]
    logits = _head(model)(selected).float()
    logits = _softcap(model, logits)
    logp = torch.log_softmax(logits, dim=-1)
    target_t = torch.tensor(targets, device=device)
    token_lp = logp.gather(1, target_t[:, None]).squeeze(1)
    token_greedy = (logits.argmax(-1) == target_t).float()
    owner_t = torch.tensor(owner, device=device)
    sums = torch.zeros(len(indices), device=device, dtype=token_lp.dtype).index_add(0, owner_t, token_lp)
    misses = torch.zeros(len(indices), device=device).index_add(0, owner_t, 1 - token_greedy)
    return sums, misses == 0


def _hidden_states(model, rows: Sequence[_Row]) -> tuple[torch.Tensor, int]:
    """Last hidden states of the packed rows, and how many virtual positions precede the real tokens."""
    hf, peft_config, peft_model = peft_parts(model)
    device = next(hf.parameters()).device
    length = max(len(r.tokens) for r in rows)
    pad = hf.config.pad_token_id if hf.config.pad_token_id is not None else 0
    ids = torch.full((len(rows), length), pad, dtype=torch.long, device=device)
    pos = torch.zeros((len(rows), length), dtype=torch.long, device=device)
    for b, r in enumerate(rows):
        ids[b, : len(r.tokens)] = torch.tensor(r.tokens, device=device)
        pos[b, : len(r.positions)] = torch.tensor(r.positions, device=device)
    kind = peft_methods.adds(peft_config)
    n_virtual = peft_methods.used_positions(peft_config)
    decoder = hf.base_model
    if kind == peft_methods.KEY_VALUES:
        cache = peft_model.get_prompt(len(rows), max_cache_len=length + n_virtual)
        mask = _tree_mask(rows, length, n_virtual, device)[:, :, n_virtual:, :]
        out = decoder(input_ids=ids, attention_mask=_for_attention(hf, mask), position_ids=pos + n_virtual,
                      past_key_values=cache, use_cache=False)
        return out.last_hidden_state, 0
    if kind == peft_methods.POSITIONS:  # prompt tuning, P-tuning: virtual embeddings at 0..n-1, real tokens after
        embeds = hf.get_input_embeddings()(ids)
        prompts = peft_model.get_prompt(batch_size=len(rows)).to(embeds.dtype)
        embeds = torch.cat([prompts, embeds], dim=1)
        virtual_pos = torch.arange(n_virtual, device=device).expand(len(rows), -1)
        position_ids = torch.cat([virtual_pos, pos + n_virtual], dim=1)
        mask = _tree_mask(rows, length, n_virtual, device)
        out = decoder(inputs_embeds=embeds, attention_mask=_for_attention(hf, mask), position_ids=position_ids,
                      use_cache=False)
        return out.last_hidden_state, n_virtual
    mask = _tree_mask(rows, length, 0, device)
    out = decoder(input_ids=ids, attention_mask=_for_attention(hf, mask), position_ids=pos, use_cache=False)
    return out.last_hidden_state, 0


def _for_attention(hf, mask: torch.Tensor) -> torch.Tensor:
    """SDPA and flex take the boolean mask; eager attention adds the mask to its scores, so it needs 0 / -inf."""
    if hf.config._attn_implementation in ("sdpa", "flash_attention_2", "flex_attention", None):
        return mask
    dtype = next(hf.parameters()).dtype
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


def _head(model):
    return peft_parts(model)[0].get_output_embeddings()


def _softcap(model, logits: torch.Tensor) -> torch.Tensor:
    """Gemma-style final logit soft-capping, when the model's config asks for it."""
    config = peft_parts(model)[0].config
    cap = getattr(config.get_text_config(), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits
