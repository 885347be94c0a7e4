"""What the tests share: the toy sentiment task (one template, one set of rows), job specs for the tiny random
models, waiting for runs, JSON Lines files, and the tiny tokenizer. Test modules and conftest files import it as
`helpers` (pytest's `pythonpath` puts tests/ on the path; no test inserts paths itself)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from promptlab.runs import queue, store
from promptlab.tuning.config import preset

TEMPLATE = """\
name: toy-sentiment
instruction: Classify the review.
prompt: "Review: {{ sentence }}\\nSentiment:"
target: "{{ label }}"
answer_choices: [negative, positive]
"""

GOOD = ["a great movie", "a good plot", "great fun", "good acting", "a great plot", "good fun"]
BAD = ["a terrible plot", "a bad movie", "terrible acting", "bad fun", "a bad plot", "terrible fun"]


def toy_rows(n: int, offset: int = 0) -> list[dict]:
    """Alternating labels, words from GOOD/BAD (all in the tiny tokenizer's vocabulary)."""
    rows = []
    for i in range(offset, offset + n):
        positive = i % 2 == 0
        words = GOOD if positive else BAD
        label = "positive" if positive else "negative"
        rows.append({"sentence": f"{words[(i // 2) % len(words)]} {i}", "label": label})
    return rows


def write_task(folder: Path, n_train: int = 64, n_val: int = 16, extra_train: list[dict] = ()) -> Path:
    """A train/validation JSONL folder of toy rows; returns the folder."""
    write_jsonl(folder / "train.jsonl", toy_rows(n_train) + list(extra_train))
    write_jsonl(folder / "validation.jsonl", toy_rows(n_val, offset=1000))
    return folder


def make_spec(data: Path, model: Path, method: str = "prompt_tuning", **config) -> dict:
    """A job spec on the toy task with the tiny model, from the "test" preset plus `config` overrides."""
    return {"template": TEMPLATE, "data": str(data), "model": str(model),
            "config": preset("test", method, **config).to_dict()}


def wait_until(predicate, timeout: float = 120.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_end(run_id: str, runs_dir: Path, timeout: float = 180.0) -> store.RunInfo:
    """Wait until the run leaves queued/running; return its info (the log is in the message on timeout)."""
    try:
        wait_until(lambda: store.get_run(run_id, runs_dir).status not in queue.ACTIVE, timeout,
                   interval=0.2, what=f"run {run_id} to end")
    except AssertionError as err:
        raise AssertionError(f"{err}\nlog:\n{store.read_log(run_id, runs_dir)}") from None
    return store.get_run(run_id, runs_dir)


def last_step(run_id: str, runs_dir: Path) -> int:
    steps = [m["step"] for m in store.read_metrics(run_id, runs_dir) if "loss" in m]
    return max(steps, default=0)


def write_jsonl(path: Path, items) -> Path:
    """`items` as a JSON Lines file (UTF-8, non-ASCII kept), its folder made; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    return path


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def tiny_tokenizer():
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


def hub_cache(root: Path, model_dir: Path, repo: str) -> Path:
    """A Hugging Face cache holding `model_dir` as the hub model `repo` (the layout huggingface_hub writes)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, folder / "snapshots" / commit)
    return root
