"""Packed, shared-context scoring equals a direct per-request forward, for plain and PEFT models."""

from __future__ import annotations

import pytest
import torch

from promptlab.models import packing
from promptlab.models.lm import LM
from promptlab.models.requests import Request

REQUESTS = [
    Request("Review: a great movie\nSentiment:", " positive"),
    Request("Review: a great movie\nSentiment:", " negative"),
    Request("Review: a great movie\nSentiment:", " it is good, the answer is yes"),  # multi-token
    Request("Review: a great movie\nSentiment:", " what a terrible plot"),  # a second one in the same row
    Request("Review: a terrible plot\nSentiment:", " positive"),
    Request("Review: a terrible plot\nSentiment:", " negative"),
    Request("Question: what is it?", " The answer is no."),
    Request("评论：这部电影很好看\n情感：", "正面"),
    Request("评论：这部电影很好看\n情感：", "负面"),
    Request("Review: trailing space ", "positive"),
    Request("", "The answer"),  # empty context: conditioned on the end-of-text token
]
# Few-shot prompts: the same demonstrations before different queries share one packed row.
DEMOS = "Review: a great movie\nSentiment: positive\n\nReview: a terrible plot\nSentiment: negative\n\n" * 2
FEW_SHOT = [Request(f"{DEMOS}Review: {query}\nSentiment:", choice)
            for query in ("a great plot", "what a terrible movie", "good")
            for choice in (" positive", " negative", " it is good")]
REQUESTS += FEW_SHOT


def direct_logprobs(model, tokenizer, requests):
    """The obvious computation: one forward per request on context+continuation, full-vocabulary logits."""
    encoded = packing.encode(tokenizer, requests)
    out = []
    with torch.no_grad():
        for enc in encoded:
            ids = torch.tensor([list(enc.context) + list(enc.continuation)])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
            logits = logits[-ids.shape[1]:]  # prompt/P-tuning prepend virtual positions: read from the end
            logp = torch.log_softmax(logits.float(), -1)
            n = len(enc.continuation)
            positions = range(ids.shape[1] - n - 1, ids.shape[1] - 1)
            out.append(sum(logp[p, t].item() for p, t in zip(positions, enc.continuation)))
    return out


def peft_variants():
    from peft import LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, TaskType

    causal = TaskType.CAUSAL_LM
    return {
        "plain": None,
        "prompt_tuning": PromptTuningConfig(task_type=causal, num_virtual_tokens=5),
        "p_tuning": PromptEncoderConfig(task_type=causal, num_virtual_tokens=4, encoder_hidden_size=32),
        "prefix_tuning": PrefixTuningConfig(task_type=causal, num_virtual_tokens=3),
        "lora": LoraConfig(task_type=causal, r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    }


@pytest.mark.parametrize("variant", list(peft_variants()))
def test_packed_scores_equal_direct_forward(tiny_model_dir, variant):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    config = peft_variants()[variant]
    if config is not None:
        model = get_peft_model(model, config).eval()
        with torch.no_grad():  # random (not zero) adapter weights, so the adapter really changes the numbers
            for p in model.parameters():
                if p.requires_grad:
                    p.normal_(0, 0.5)
    expected = direct_logprobs(model, tokenizer, REQUESTS)
    lm = LM(model, tokenizer, max_batch_tokens=64)  # a small budget forces several batches
    got = [r.logprob for r in lm.loglikelihood(REQUESTS)]
    assert got == pytest.approx(expected, abs=1e-4)


def test_shared_context_is_packed_once(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = packing.encode(tokenizer, REQUESTS)
    groups = packing._groups(encoded)
    assert [len(g) for g in groups][:3] == [4, 2, 1]
    row = packing._pack(encoded, [groups[0]])
    context_len = len(encoded[0].context)
    extra = sum(len(encoded[i].continuation) - 1 for i in groups[0])
    assert len(row.tokens) == context_len + extra


def test_few_shot_prompts_share_their_demonstrations(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = packing.encode(tokenizer, FEW_SHOT)
    rows = packing._plan_rows(encoded, range(len(encoded)))
    assert len(rows) == 1 and len(rows[0]) == 3  # three queries, one row
    row = packing._pack(encoded, rows[0])
    separate = sum(len(packing._pack(encoded, [g]).tokens) for g in rows[0])
    demo_tokens = len(tokenizer.encode(DEMOS))
    assert len(row.tokens) <= separate - 2 * (demo_tokens - 1)


def test_batches_respect_the_token_budget_and_keep_groups(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = packing.encode(tokenizer, REQUESTS * 3)
    seen = []
    for batch in packing.batches(encoded, max_tokens=40):
        rows = packing._plan_rows(encoded, batch)
        longest = max(packing._row_length(encoded, r) for r in rows)
        assert len(rows) == 1 or longest * len(rows) <= 40
        seen += batch
    assert sorted(seen) == list(range(len(encoded)))


def test_greedy_flag_matches_argmax(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    context = "Review: a great movie\nSentiment:"
    ids = torch.tensor([tokenizer.encode(context)])
    best = model(input_ids=ids).logits[0, -1].argmax().item()
    other = (best + 1) % len(tokenizer)
    lm = LM(model, tokenizer)
    greedy, not_greedy = lm.loglikelihood([Request(context, tokenizer.decode([best])),
                                           Request(context, tokenizer.decode([other]))])
    assert greedy.is_greedy and not not_greedy.is_greedy


def test_empty_continuation_is_refused(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="tokenizes to nothing"):
        packing.encode(tokenizer, [Request("Review: ok", "")])
