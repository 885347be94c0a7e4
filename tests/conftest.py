"""Shared fixtures: a tiny random Llama (fast, no downloads) and, for slow tests, the bundled SmolLM2."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from helpers import tiny_tokenizer, write_task

from promptlab.settings import shared_datasets_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random LlamaForCausalLM + tokenizer: loads in well under a second."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(autouse=True, scope="session")
def _own_templates_folder(tmp_path_factory):
    """Templates saved during the tests go to a folder of the session's own, never into ~/.cache/promptlab."""
    import os

    saved = os.environ.get("PROMPTLAB_USER_TEMPLATES")
    os.environ["PROMPTLAB_USER_TEMPLATES"] = str(tmp_path_factory.mktemp("user-templates"))
    yield
    if saved is None:
        os.environ.pop("PROMPTLAB_USER_TEMPLATES", None)
    else:
        os.environ["PROMPTLAB_USER_TEMPLATES"] = saved


@pytest.fixture()
def task(tmp_path) -> Path:
    """The toy sentiment task of the tuning and jobs tests (a folder of JSONL splits); some modules override it."""

    return write_task(tmp_path / "data")


@pytest.fixture()
def runs_dir(tmp_path) -> Path:
    """A runs folder of the test's own."""
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = shared_datasets_dir()
    if path is None:
        pytest.skip("../shared/datasets is not present beside the checkout (real-data tests need it)")
    return path


# ---- tiny models of the other two families: an encoder-decoder (T5) and masked LMs (BERT, RoBERTa) ----------------

_CORPUS = ["Review: a great movie\nSentiment: positive", "Review: a terrible plot\nSentiment: negative",
           "a great movie. It was great. a terrible plot. It was terrible. good bad fun acting",
           "The answer is yes. The answer is no. Question: what is it? Answer: it is good",
           "Story: the team won the game. Headline: team wins",
           "这部电影很好看 正面 负面 评论 情感 总的来说 体验很好 差"] * 20
_ALPHABET = sorted(set("".join(_CORPUS)) | set(string.ascii_letters + string.digits + ".,:;!?'\"-()[]<>/ "))


def _t5_tokenizer():
    """A small Unigram tokenizer with T5's special tokens (<pad> 0, </s> 1, <unk> 2) and its "$A </s>" post-processor;
    no sentencepiece model file, trained in memory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                      initial_alphabet=_ALPHABET)
    tok.train_from_iterator(_CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def _wordpiece_tokenizer():
    """A small uncased WordPiece tokenizer with BERT's special tokens and [CLS] ... [SEP] post-processor."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(_CORPUS, trainers.WordPieceTrainer(vocab_size=300, special_tokens=special,
                                                               initial_alphabet=[c.lower() for c in _ALPHABET]))
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]")


def _roberta_tokenizer():
    """A small byte-level BPE with RoBERTa's special tokens (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 4)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>",
                                                                                         "<unk>", "<mask>"],
                                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")


def _save(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory) -> Path:
    """A saved tiny random T5ForConditionalGeneration (flan-t5 layout: gated FF, untied head) + tokenizer. Its
    key/value width (heads x d_kv = 48) differs from d_model (64), as in flan-t5-small."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = _t5_tokenizer()
    config = T5Config(vocab_size=len(tokenizer), d_model=64, d_kv=12, d_ff=128, num_layers=2, num_decoder_layers=2,
                      num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=32,
                      feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
                      decoder_start_token_id=0, dropout_rate=0.0)
    return _save(T5ForConditionalGeneration(config), tokenizer, tmp_path_factory.mktemp("tiny-t5"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A saved tiny random BertForMaskedLM + WordPiece tokenizer (English and Chinese characters)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    tokenizer = _wordpiece_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return _save(BertForMaskedLM(config), tokenizer, tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    """A saved tiny random RobertaForMaskedLM + byte-level BPE tokenizer (label words carry their leading space)."""
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    tokenizer = _roberta_tokenizer()
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=258, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return _save(RobertaForMaskedLM(config), tokenizer, tmp_path_factory.mktemp("tiny-roberta"))
