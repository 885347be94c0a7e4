"""Shared fixtures: a tiny random Llama (fast, no downloads) and, for slow tests, the bundled SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptlab.settings import shared_datasets_dir


def _tiny_tokenizer():
    """A small byte-level BPE trained in memory on a few sentences (no downloads), GPT-2 style."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<eos>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ["Review: a great movie\nSentiment: positive", "Review: a terrible plot\nSentiment: negative",
              "The answer is yes. The answer is no. Question: what is it? Answer: it is good",
              "这部电影很好看 正面 负面 评论 情感"] * 20
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random LlamaForCausalLM + tokenizer: loads in well under a second."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = _tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture()
def task(tmp_path) -> Path:
    """The toy sentiment task of the tuning and jobs tests (a folder of JSONL splits); some modules override it."""
    from test_tuning_fixtures import write_task

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


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows
