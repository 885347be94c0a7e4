"""The seq2seq and masked-LM rows of the scoring benchmark (benchmarks/scoring.py): ours vs a naive per-choice
forward, on the same model and the same SST-2 rows.

No package installed here ships a small T5 or a BERT with its masked-LM head, so both models have random weights
and real shapes: flan-t5-small's (d_model 512, d_kv 64, 6 heads, 8 + 8 layers, gated-GELU, vocab 32128) and
bert-base-uncased's (768 wide, 12 layers, vocab 30522), with tokenizers trained on the rows themselves (a T5-style
Unigram with `</s>`, an uncased WordPiece). Weights do not change the work a forward does, and ours must equal
naive to 1e-3 on every request anyway.

* seq2seq, template `sst2-review-sentiment` (choices negative / positive): ours = `LM.loglikelihood` (one encoder
  pass per prompt shared by its choices, batched decoder); naive = `model(input_ids=prompt, labels=choice)` per
  request, log_softmax, sum.
* masked, template `sst2-cloze-it-was-mask` (label words terrible / great at the mask): ours = `LM.loglikelihood`
  (choices of one token count share an input, MLM head only at the slot); naive = one forward of
  `[CLS] before [MASK]*k after [SEP]` per request, full-vocabulary logits, log_softmax at the slot, sum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from promptlab.models import masked, seq2seq
from promptlab.models.lm import LM
from promptlab.models.requests import Request
from promptlab.prompts.files import find_template
from promptlab.prompts.values import Example
from promptlab.scoring import evaluate, experiment

FAMILY_ROWS = (("seq2seq", "sst2-review-sentiment"), ("masked", "sst2-cloze-it-was-mask"))


@dataclass
class FamilyResult:
    family: str
    template: str
    rows: int
    requests: int
    seconds: dict[str, float]
    agreement: float
    max_abs_diff: float

    def per_s(self, scorer: str) -> float:
        return self.rows / self.seconds[scorer]


def random_lm(family: str, texts: Sequence[str]) -> LM:
    """A random-weight model of a real small model's shape, with a tokenizer trained on `texts`."""
    from transformers import BertConfig, BertForMaskedLM, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    if family == "seq2seq":
        tokenizer = _unigram(texts)
        config = T5Config(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8,
                          num_heads=6, feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0,
                          eos_token_id=1, decoder_start_token_id=0)
        model = T5ForConditionalGeneration(config)
    else:
        tokenizer = _wordpiece(texts)
        model = BertForMaskedLM(BertConfig(pad_token_id=0))
    return LM(model.eval(), tokenizer, name=f"random {type(model).__name__}")


def _unigram(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=4000, unk_token="<unk>",
                                                           special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def _wordpiece(texts):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=4000, special_tokens=[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]")


def ours_scores(lm: LM, requests: Sequence[Request]) -> list[float]:
    return [r.logprob for r in lm.loglikelihood(requests)]


def naive(lm: LM, requests: Sequence[Request]) -> list[float]:
    """One forward per request with full-vocabulary logits (the same tokens as ours)."""
    out = []
    with torch.inference_mode():
        if lm.family == "seq2seq":
            for e in seq2seq.encode(lm.tokenizer, requests, lm.max_length):
                labels = torch.tensor([e.continuation])
                logits = lm.model(input_ids=torch.tensor([e.context]), labels=labels).logits[0]
                out.append(torch.log_softmax(logits.float(), -1).gather(1, labels.T).sum().item())
        else:
            for e in masked.encode(lm.tokenizer, requests, lm.max_length):
                logits = lm.model(input_ids=torch.tensor([e.row])).logits[0, len(e.left):len(e.left) + len(e.word)]
                logp = torch.log_softmax(logits.float(), -1)
                out.append(logp.gather(1, torch.tensor([e.word]).T).sum().item())
    return out


def run_families(rows: list[dict], repeats: int, timed: Callable, log) -> list[FamilyResult]:
    """Each family's row: ours (best of `repeats`) and naive (once), interleaved, on `rows`."""
    results = []
    texts = [r["sentence"] for r in rows] + ["Review: Sentiment: negative positive It was terrible great."] * 50
    for family, template_name in FAMILY_ROWS:
        lm = random_lm(family, texts)
        template = find_template(template_name)
        examples = experiment.build_examples(template, rows, **experiment.render_options(lm, template))
        requests = evaluate.requests_for(examples)
        lm.loglikelihood(requests[:8])  # warm-up
        naive(lm, requests[:4])
        best, ours, theirs = float("inf"), None, None
        seconds = {}
        for rep in range(repeats):
            dt, out = timed(ours_scores, lm, requests)
            best, ours = min(best, dt), ours or out
            if rep == 0:
                seconds["naive"], theirs = timed(naive, lm, requests)
        seconds["ours"] = best
        result = FamilyResult(family, template_name, len(examples), len(requests), seconds,
                              _agreement(examples, ours, theirs), max(abs(a - b) for a, b in zip(ours, theirs)))
        log(f"{family}: {lm.name}, {result.rows} rows, {result.requests} requests: ours {seconds['ours']:.2f}s, "
            f"naive {seconds['naive']:.2f}s")
        results.append(result)
    return results


def _agreement(examples: Sequence[Example], a: Sequence[float], b: Sequence[float]) -> float:
    same, i = 0, 0
    for e in examples:
        k = len(e.choices)
        same += max(range(k), key=lambda j: a[i + j]) == max(range(k), key=lambda j: b[i + j])
        i += k
    return same / len(examples)
