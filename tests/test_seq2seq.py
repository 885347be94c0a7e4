"""Encoder-decoder scoring (tiny random T5 loaded through load_lm): each choice's log-likelihood equals a direct
per-request forward of the (PEFT) model with the continuation as labels, plain and with every PEFT method."""

from __future__ import annotations

import pytest
import torch

from promptlab.models import seq2seq
from promptlab.models.lm import LM, load_lm
from promptlab.models.requests import Request

DEMOS = "Review: a great movie\nSentiment: positive\n\nReview: a terrible plot\nSentiment: negative\n\n"
REQUESTS = [
    Request("Review: a great movie\nSentiment:", " positive"),
    Request("Review: a great movie\nSentiment:", " negative"),
    Request("Review: a great movie\nSentiment:", " it is good, the answer is yes"),  # multi-token
    Request("Review: a terrible plot\nSentiment:", " positive"),
    Request("Review: a terrible plot\nSentiment:", " negative"),
    Request("Question: what is it?", " The answer is no."),
    Request("评论：这部电影很好看\n情感：", "正面"),
    Request("评论：这部电影很好看\n情感：", "负面"),
    *[Request(f"{DEMOS}Review: {q}\nSentiment:", c) for q in ("a great plot", "good fun") for c in (" positive",
                                                                                              " negative")],
]


def direct_logprobs(model, tokenizer, requests):
    """The obvious computation: one forward per request, the continuation as labels, full-vocabulary logits."""
    out = []
    with torch.no_grad():
        for enc in seq2seq.encode(tokenizer, requests):
            ids = torch.tensor([enc.context])
            labels = torch.tensor([enc.continuation])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            out.append(sum(logp[p, t].item() for p, t in enumerate(enc.continuation)))
    return out


def peft_variants():
    from peft import LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, TaskType

    s2s = TaskType.SEQ_2_SEQ_LM
    return {
        "plain": None,
        "prompt_tuning": PromptTuningConfig(task_type=s2s, num_virtual_tokens=5),  # PEFT's default: 2 x 5 vectors
        "prompt_tuning_one_submodule": PromptTuningConfig(task_type=s2s, num_virtual_tokens=5,
                                                          num_transformer_submodules=1),
        "p_tuning": PromptEncoderConfig(task_type=s2s, num_virtual_tokens=4, encoder_hidden_size=32),
        # the tiny T5's key/value width (4 heads x 12) is not its d_model (64), as in flan-t5-small
        "prefix_tuning": PrefixTuningConfig(task_type=s2s, num_virtual_tokens=3, token_dim=48, num_attention_heads=4),
        "lora": LoraConfig(task_type=s2s, r=4, target_modules=["q", "v"], init_lora_weights=False),
    }


def randomised(model, config):
    from peft import get_peft_model

    torch.manual_seed(1)
    if config is None:
        return model
    model = get_peft_model(model, config).eval()
    with torch.no_grad():  # random (not zero) adapter weights, so the adapter really changes the numbers
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.1)
    return model


@pytest.mark.parametrize("variant", list(peft_variants()))
def test_scores_equal_a_direct_forward_per_request(tiny_t5_dir, variant):
    plain = load_lm(str(tiny_t5_dir))
    assert plain.family == "seq2seq" and plain.mask_token is None
    model = randomised(plain.model, peft_variants()[variant])
    expected = direct_logprobs(model, plain.tokenizer, REQUESTS)
    lm = LM(model, plain.tokenizer, max_batch_tokens=48)  # a small budget forces several batches
    got = [r.logprob for r in lm.loglikelihood(REQUESTS)]
    assert got == pytest.approx(expected, abs=1e-4)
    if variant != "plain":  # the adapter reached the numbers
        base = [r.logprob for r in LM(load_lm(str(tiny_t5_dir)).model, plain.tokenizer).loglikelihood(REQUESTS)]
        assert max(abs(a - b) for a, b in zip(got, base)) > 1e-3


def test_choices_share_one_encoder_pass(tiny_t5_dir):
    lm = load_lm(str(tiny_t5_dir))
    encoded = seq2seq.encode(lm.tokenizer, REQUESTS[:5])
    calls = []
    encoder = lm.model.get_encoder()
    hook = encoder.register_forward_hook(lambda module, args, kwargs_or_out: calls.append(1))
    try:
        lm.loglikelihood(REQUESTS[:5])
    finally:
        hook.remove()
    assert len(calls) == 1  # two contexts, five choices: one batched encoder pass
    assert encoded[0].continuation[-1] == lm.tokenizer.eos_token_id  # the answer ends with </s>
    assert seq2seq.tokens_read(encoded, range(5)) == len(encoded[0].context) + len(encoded[3].context) + sum(
        len(e.continuation) for e in encoded)


def test_greedy_flag_and_generation(tiny_t5_dir):
    lm = load_lm(str(tiny_t5_dir))
    prompt = "Review: a great movie\nSentiment:"
    context = tuple(lm.tokenizer.encode(prompt))
    with torch.no_grad():
        generated = lm.model.generate(input_ids=torch.tensor([context]), max_new_tokens=3, do_sample=False)[0]
    greedy = tuple(int(t) for t in generated[1:])  # after the decoder start token
    other = greedy[:-1] + ((greedy[-1] + 1) % len(lm.tokenizer),)
    encoded = [seq2seq.Encoded(context, greedy), seq2seq.Encoded(context, other)]
    with torch.no_grad():
        _, is_greedy = seq2seq.logprobs(lm.model, encoded, [0, 1])
    assert is_greedy.tolist() == [True, False]
    out = lm.generate([prompt, "Q"], max_new_tokens=3)
    assert len(out) == 2 and out[0] == lm.tokenizer.decode(generated, skip_special_tokens=True).strip()


@pytest.mark.parametrize("variant", list(peft_variants()))
def test_generation_is_the_scorers_argmax_with_every_method(tiny_t5_dir, variant):
    """Greedy generation decodes with the scorer's own forward: every generated token is the argmax the scorer
    sees (with transformers' generate, a prefix adapter never reached T5's decoder), and where transformers'
    generate does apply the adapter it writes the same tokens."""
    lm = load_lm(str(tiny_t5_dir))
    model = randomised(lm.model, peft_variants()[variant])
    contexts = [tuple(lm.tokenizer.encode(p)) for p in ("Review: a great movie\nSentiment:", "Question: what?")]
    with torch.no_grad():
        generated = seq2seq.greedy_ids(model, contexts, 5, lm.device)
        encoded = [seq2seq.Encoded(c, tuple(g)) for c, g in zip(contexts, generated)]
        assert seq2seq.logprobs(model, encoded, [0, 1])[1].tolist() == [True, True]
        if variant != "prefix_tuning":
            theirs = model.generate(input_ids=torch.tensor([contexts[0]]), max_new_tokens=5, do_sample=False)[0]
            assert [int(t) for t in theirs[1:]][:len(generated[0])] == generated[0]


def test_empty_continuation_is_refused(tiny_t5_dir):
    lm = load_lm(str(tiny_t5_dir))
    with pytest.raises(ValueError, match="continuation '  ' is empty"):
        lm.loglikelihood([Request("Review: ok", "  ")])
