"""Masked-LM cloze scoring (tiny random BERT with WordPiece and RoBERTa with byte-level BPE, loaded through load_lm):
the label word's log-probability at the mask slot equals a direct per-request forward, plain and with every PEFT
method; the tokenization rule of the slot; one slot exactly; text never turns into special tokens."""

from __future__ import annotations

import pytest
import torch

from promptlab.models import masked
from promptlab.models.lm import LM, load_lm
from promptlab.models.requests import Request


def cloze_requests(mask: str) -> list[Request]:
    demos = "a great movie. It was great. a terrible plot. It was terrible. "
    return [
        Request(f"a great movie. It was {mask}.", " great"),
        Request(f"a great movie. It was {mask}.", " terrible"),
        Request(f"a great movie. It was {mask}.", " good fun acting"),  # a multi-token label word: 3+ masks
        Request(f"a terrible plot. It was {mask}.", "great"),
        Request(f"a terrible plot. It was {mask}.", "terrible"),
        Request(f"{mask} movie.", "great"),  # slot at the start
        Request(f"这部电影很好看。总的来说，体验很{mask}。", "好"),
        Request(f"这部电影很好看。总的来说，体验很{mask}。", "差"),
        Request(f"{demos}good fun. It was {mask}.", " great"),
        Request(f"{demos}good fun. It was {mask}.", " terrible"),
    ]


def direct_logprobs(model, tokenizer, requests):
    """One forward per request on [CLS] before [MASK]*k after [SEP], full-vocabulary logits at the masks."""
    out = []
    with torch.no_grad():
        for enc in masked.encode(tokenizer, requests):
            ids = list(enc.left) + [tokenizer.mask_token_id] * len(enc.word) + list(enc.right)
            ids = torch.tensor([ids])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
            logits = logits[-ids.shape[1]:]  # prompt/P-tuning prepend virtual positions: read from the end
            logp = torch.log_softmax(logits.float(), -1)
            out.append(sum(logp[len(enc.left) + j, t].item() for j, t in enumerate(enc.word)))
    return out


def peft_variants(lora_targets=("query", "value")):
    from peft import LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, TaskType

    task = TaskType.FEATURE_EXTRACTION  # PEFT has no masked-LM task type; this one passes the MLM logits through
    return {
        "plain": None,
        "prompt_tuning": PromptTuningConfig(task_type=task, num_virtual_tokens=5),
        "p_tuning": PromptEncoderConfig(task_type=task, num_virtual_tokens=4, encoder_hidden_size=32),
        "prefix_tuning": PrefixTuningConfig(task_type=task, num_virtual_tokens=3),
        "lora": LoraConfig(task_type=task, r=4, target_modules=list(lora_targets), init_lora_weights=False),
    }


def randomised(model, config):
    from peft import get_peft_model

    torch.manual_seed(1)
    if config is None:
        return model
    model = get_peft_model(model, config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.1)
    return model


@pytest.fixture(params=["bert", "roberta"])
def tiny_mlm_dir(request, tiny_bert_dir, tiny_roberta_dir):
    return {"bert": tiny_bert_dir, "roberta": tiny_roberta_dir}[request.param]


@pytest.mark.parametrize("variant", list(peft_variants()))
def test_scores_equal_a_direct_forward_per_request(tiny_mlm_dir, variant):
    plain = load_lm(str(tiny_mlm_dir))
    assert plain.family == "masked" and plain.mask_token in ("[MASK]", "<mask>")
    requests = cloze_requests(plain.mask_token)
    model = randomised(plain.model, peft_variants()[variant])
    expected = direct_logprobs(model, plain.tokenizer, requests)
    lm = LM(model, plain.tokenizer, max_batch_tokens=40)  # a small budget forces several batches
    results = lm.loglikelihood(requests)
    assert [r.logprob for r in results] == pytest.approx(expected, abs=1e-4)
    assert results[2].n_tokens >= 3 and results[0].n_tokens == 1
    if variant != "plain":  # the adapter reached the numbers
        base = [r.logprob for r in LM(load_lm(str(tiny_mlm_dir)).model, plain.tokenizer).loglikelihood(requests)]
        assert max(abs(a - b) for a, b in zip(expected, base)) > 1e-3


def test_prefix_tuning_reaches_the_attention_not_only_the_positions(tiny_bert_dir):
    """BERT in transformers 5 reads a prefix as its cache: its keys/values, not just the position shift, matter."""
    lm = load_lm(str(tiny_bert_dir))
    requests = cloze_requests(lm.mask_token)[:2]
    model = randomised(lm.model, peft_variants()["prefix_tuning"])
    first = [r.logprob for r in LM(model, lm.tokenizer).loglikelihood(requests)]
    with torch.no_grad():
        model.prompt_encoder["default"].embedding.weight.normal_(0, 1.0)  # other keys/values, same positions
    second = [r.logprob for r in LM(model, lm.tokenizer).loglikelihood(requests)]
    assert max(abs(a - b) for a, b in zip(first, second)) > 1e-3


def test_label_words_are_tokenized_in_their_slot(tiny_bert_dir, tiny_roberta_dir):
    bert, roberta = load_lm(str(tiny_bert_dir)), load_lm(str(tiny_roberta_dir))
    for lm, word_piece in ((bert, "great"), (roberta, "Ġgreat")):  # BPE: the space before the slot joins the word
        enc = masked.encode(lm.tokenizer, [Request(f"It was {lm.mask_token}.", "great")])[0]
        assert lm.tokenizer.convert_ids_to_tokens(list(enc.word)) == [word_piece]
        assert enc.left[0] == lm.tokenizer.cls_token_id and enc.right[-1] == lm.tokenizer.sep_token_id
    zh = masked.encode(bert.tokenizer, [Request("体验很[MASK]。", "好")])[0]
    assert bert.tokenizer.convert_ids_to_tokens(list(zh.word)) == ["好"]
    # choices with the same number of tokens share one input: a two-way task costs one forward per row
    pair = masked.encode(bert.tokenizer, [Request("It was [MASK].", "great"), Request("It was [MASK].", "terrible")])
    if len(pair[0].word) == len(pair[1].word):
        assert pair[0].row == pair[1].row


def test_one_slot_exactly_and_text_never_becomes_special_tokens(tiny_bert_dir):
    lm = load_lm(str(tiny_bert_dir))
    with pytest.raises(ValueError, match="has none: write \\{\\{ mask \\}\\}"):
        lm.loglikelihood([Request("It was great.", " great")])
    with pytest.raises(ValueError, match="'\\[MASK\\]' appears 2 times .* remove '\\[MASK\\]' from the data"):
        lm.loglikelihood([Request("a [MASK] review. It was [MASK].", " great")])
    enc = masked.encode(lm.tokenizer, [Request("a [SEP] or [CLS] review. It was [MASK].", "great")])[0]
    specials = {lm.tokenizer.sep_token_id, lm.tokenizer.cls_token_id, lm.tokenizer.mask_token_id}
    assert not specials & set(enc.left[1:] + enc.right[:-1])


def test_long_texts_lose_tokens_before_the_slot_first(tiny_bert_dir):
    lm = load_lm(str(tiny_bert_dir))
    long = "a great movie " * 200
    enc = masked.encode(lm.tokenizer, [Request(f"{long} It was [MASK]. good fun", "great")], max_length=64)[0]
    assert len(enc.left) + len(enc.word) + len(enc.right) == 64
    assert lm.tokenizer.decode(list(enc.right), skip_special_tokens=True) == ". good fun"
    result = lm.loglikelihood([Request(f"{long * 3} It was [MASK].", "great")])[0]  # over 256 positions: cut
    assert result.n_tokens == 1
    with pytest.raises(ValueError, match="more than the model's 64 positions hold. Use a shorter answer choice"):
        masked.encode(lm.tokenizer, [Request("It was [MASK].", "great " * 70)], max_length=64)


def test_masked_lms_do_not_generate(tiny_bert_dir):
    lm = load_lm(str(tiny_bert_dir))
    with pytest.raises(ValueError, match="masked LM: it fills a mask slot but cannot generate"):
        lm.generate(["It was"])


def test_a_bare_encoder_without_its_mlm_head_is_refused(tmp_path, tiny_bert_dir):
    from transformers import AutoTokenizer, BertConfig, BertModel

    config = BertConfig.from_pretrained(tiny_bert_dir)
    BertModel(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="lacks weights a masked LM \\(cloze\\) needs .* saved without its "
                                         "language-model head"):
        load_lm(str(tmp_path))
