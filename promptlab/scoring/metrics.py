"""The metrics: one table saying what each metric is (its task mode, whether higher is better, where it is drawn),
read by scoring, tuning's early stopping, the plots, the CLI and the UI; and the functions that compute them.

>>> primary("rank"), primary("generate")
('acc', 'exact_match')
>>> is_better("val_loss", 0.2, 0.3), is_better("acc", 0.2, 0.3)
(True, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric: `mode` is the template mode that reports it ("rank", "generate") or "loss" (training);
    `bar`: drawn as a bar when prompts are compared; `majority_line`: the majority-class accuracy is its floor."""

    name: str
    mode: str
    higher_is_better: bool = True
    bar: bool = True
    majority_line: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("acc", "rank", majority_line=True),
    Metric("acc_norm", "rank", majority_line=True),
    Metric("acc_calibrated", "rank", majority_line=True),
    Metric("macro_f1", "rank"),
    Metric("majority", "rank", bar=False),  # accuracy of always answering the most frequent gold label
    Metric("exact_match", "generate"),
    Metric("contains", "generate"),
    Metric("rouge_l", "generate"),
    Metric("val_loss", "loss", higher_is_better=False, bar=False),
)
BY_NAME = {m.name: m for m in METRICS}
SPREAD_SUFFIXES = ("_std", "_min", "_max")  # few-shot runs report each metric's spread over seeds


def names(mode: str) -> tuple[str, ...]:
    """The metrics a template mode reports, in reading order."""
    return tuple(m.name for m in METRICS if m.mode == mode)


def primary(mode: str) -> str:
    """The headline metric of a mode: accuracy for classification, exact match for generation."""
    return "acc" if mode == "rank" else "exact_match"


def bars(mode: str) -> tuple[str, ...]:
    """The metrics drawn as bars when prompts of this mode are compared."""
    return tuple(m.name for m in METRICS if m.mode == mode and m.bar)


def is_better(name: str, value: float, than: float) -> bool:
    """Is `value` a better score of metric `name` than `than`?"""
    return value < than if not BY_NAME[name].higher_is_better else value > than


def headline(metrics: dict) -> list[str]:
    """The metric names present in `metrics`, in table order, without their spread companions (`acc_std`, ...);
    names unknown to the table come last."""
    known = [m.name for m in METRICS if m.name in metrics]
    extra = [k for k, v in metrics.items() if k not in BY_NAME and not k.endswith(SPREAD_SUFFIXES)
             and isinstance(v, (int, float))]
    return known + extra


def accuracy(gold: Sequence[int], predicted: Sequence[int]) -> float:
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold)


class _CJKTokenizer:
    """Words for rouge-score: Latin words and digits lower-cased, every CJK character a word of its own."""

    pattern = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)

    def tokenize(self, text: str) -> list[str]:
        return self.pattern.findall(text.lower())


_ROUGE = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure from the `rouge-score` package, with a tokenizer that handles Chinese.

    >>> round(rouge_l("the cat sat", "the cat sat down"), 3)
    0.857
    """
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_CJKTokenizer())
    return _ROUGE.score(reference, prediction)["rougeL"].fmeasure


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over the gold labels (a label never predicted scores 0)."""
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def aggregate(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean over seeds plus `<metric>_std` (population), `_min` and `_max` for every metric.

    >>> aggregate([{"acc": 0.5}, {"acc": 0.7}])["acc_std"]
    0.1
    """
    out: dict[str, float] = {}
    for key in per_seed[0]:
        values = [m[key] for m in per_seed if key in m]
        mean = sum(values) / len(values)
        out[key] = mean
        out[f"{key}_std"] = round(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), 12)
        out[f"{key}_min"] = min(values)
        out[f"{key}_max"] = max(values)
    return out
