"""Score rendered `Example`s with an `LM`: a per-row table and metrics.

Rank mode (examples with answer choices): each choice is scored as `delimiter + choice` after the prompt (a
masked LM scores the choice as the label word at the prompt's mask slot; an encoder-decoder as the decoder's answer).
* `acc`: argmax of the summed log-likelihood (lm-evaluation-harness `acc`).
* `acc_norm`: argmax of log-likelihood divided by the choice's length in characters (lm-eval's `acc_norm`).
* `acc_calibrated`: contextual calibration (Zhao et al. 2021): choice probabilities divided by those the model
  gives after content-free inputs ("N/A", "", "[MASK]"), then argmax.
* `macro_f1`, `confusion`, and `majority` (accuracy of always answering the most frequent gold label).
Generate mode: greedy generation up to a newline; `exact_match`, `contains` (case-insensitive) and `rouge_l`
(F-measure; Chinese and Japanese characters count as words, so CJK text is scored too).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from promptlab.messages import UserError
from promptlab.models.families import MASKED
from promptlab.models.requests import Request
from promptlab.prompts.values import Example
from promptlab.scoring.metrics import accuracy, macro_f1, rouge_l

if TYPE_CHECKING:  # lm imports torch; the web app reads `experiment.Report`s and must not need it
    from promptlab.models.lm import LM

Progress = Callable[[int, int], None]


@dataclass
class EvalResult:
    """What `evaluate` returns: one table row per example, metrics over the labelled rows."""

    table: pd.DataFrame
    metrics: dict[str, float]
    confusion: pd.DataFrame | None = None
    mode: str = "rank"
    probs: list[list[float]] = field(default_factory=list)  # per example, per choice (rank mode)


def requests_for(examples: Sequence[Example]) -> list[Request]:
    """One request per (example, choice): the prompt as context, `delimiter + choice` as continuation."""
    return [Request(e.prompt, e.delimiter + c) for e in examples for c in e.choices]


def evaluate(lm: LM, examples: Sequence[Example], *, content_free: Sequence[Example] = (),
             generate: bool = False, progress: Progress | None = None) -> EvalResult:
    """Score `examples` (all rank or all generate); `content_free` examples enable calibrated accuracy.

    `generate=True` also decodes a free answer for rank examples (the template studio shows it).
    """
    if not examples:
        raise UserError("scoring.no_rows")
    if all(e.choices for e in examples):
        _check_gold(examples)
        return _evaluate_rank(lm, examples, content_free, generate, progress)
    if any(e.choices for e in examples):
        raise UserError("scoring.mixed_choices")
    return _evaluate_generate(lm, examples, progress)


def _check_gold(examples) -> None:
    """A row whose target renders but is not one of its choices cannot be scored: say which, and how to fix it
    (rows without a target are unlabelled and just get predictions)."""
    for number, e in enumerate(examples, 1):
        if e.target and e.gold is None:
            raise UserError("scoring.gold_not_a_choice", row=number, target=repr(e.target),
                            choices=", ".join(e.choices))


def _evaluate_rank(lm, examples, content_free, generate, progress) -> EvalResult:
    scores = _choice_logprobs(lm, examples, progress)
    probs = [_softmax(s) for s in scores]
    calibrated = _calibrated_predictions(lm, examples, probs, content_free)
    predictions = [_argmax(s) for s in scores]
    norm = [_argmax([lp / max(1, len(c)) for lp, c in zip(s, e.choices)]) for s, e in zip(scores, examples)]
    table = pd.DataFrame({
        "prompt": [e.prompt for e in examples],
        "gold": [e.choices[e.gold] if e.gold is not None else "" for e in examples],
        "prediction": [e.choices[p] for e, p in zip(examples, predictions)],
        "correct": [e.gold == p if e.gold is not None else None for e, p in zip(examples, predictions)],
    })
    _add_probability_columns(table, examples, probs)
    if generate and getattr(lm, "family", None) != MASKED:  # a masked LM fills its slot: nothing to write
        table["generated"] = lm.generate([e.prompt for e in examples], max_new_tokens=16)
    labelled = [i for i, e in enumerate(examples) if e.gold is not None]
    gold = [examples[i].gold for i in labelled]
    metrics: dict[str, float] = {}
    if labelled:
        metrics["acc"] = accuracy(gold, [predictions[i] for i in labelled])
        metrics["acc_norm"] = accuracy(gold, [norm[i] for i in labelled])
        if calibrated is not None:
            metrics["acc_calibrated"] = accuracy(gold, [calibrated[i] for i in labelled])
        names = [examples[i].choices for i in labelled]
        gold_names = [c[g] for c, g in zip(names, gold)]
        pred_names = [c[predictions[i]] for c, i in zip(names, labelled)]
        metrics["macro_f1"] = macro_f1(gold_names, pred_names)
        metrics["majority"] = Counter(gold_names).most_common(1)[0][1] / len(gold_names)
    fixed = examples[0].choices if all(e.choices == examples[0].choices for e in examples) else None
    confusion = _confusion(table.loc[labelled, "gold"], table.loc[labelled, "prediction"], fixed) \
        if labelled else None
    return EvalResult(table, metrics, confusion, "rank", probs)


def _choice_logprobs(lm, examples, progress) -> list[list[float]]:
    results = lm.loglikelihood(requests_for(examples), progress=progress)
    out, i = [], 0
    for e in examples:
        out.append([r.logprob for r in results[i:i + len(e.choices)]])
        i += len(e.choices)
    return out


def _calibrated_predictions(lm, examples, probs, content_free) -> list[int] | None:
    """Zhao et al. 2021: divide each choice's probability by its mean probability on content-free inputs."""
    if not content_free:
        return None
    choices = examples[0].choices
    if any(e.choices != choices for e in examples) or any(e.choices != choices for e in content_free):
        return None  # calibration needs one fixed set of choices
    baseline = [_softmax(s) for s in _choice_logprobs(lm, content_free, None)]
    mean = [sum(p[j] for p in baseline) / len(baseline) for j in range(len(choices))]
    return [_argmax([pj / max(mj, 1e-12) for pj, mj in zip(p, mean)]) for p in probs]


def _add_probability_columns(table: pd.DataFrame, examples, probs) -> None:
    choices = examples[0].choices
    if all(e.choices == choices for e in examples):
        for j, c in enumerate(choices):
            table[f"p({c})"] = [round(p[j], 4) for p in probs]
    else:  # choices vary by row: one readable column instead of a sparse grid
        table["probabilities"] = [", ".join(f"{c}: {pj:.3f}" for c, pj in zip(e.choices, p))
                                  for e, p in zip(examples, probs)]


def _evaluate_generate(lm, examples, progress) -> EvalResult:
    outputs = lm.generate([e.prompt for e in examples], max_new_tokens=32, progress=progress)
    targets = [e.target for e in examples]
    em = [_normalise(o) == _normalise(t) for o, t in zip(outputs, targets)]
    contains = [bool(t.strip()) and _normalise(t) in _normalise(o) for o, t in zip(outputs, targets)]
    rouge = [rouge_l(o, t) for o, t in zip(outputs, targets)]
    table = pd.DataFrame({"prompt": [e.prompt for e in examples], "gold": targets, "generated": outputs,
                          "exact_match": em, "rouge_l": [round(r, 4) for r in rouge]})
    labelled = [i for i, t in enumerate(targets) if t.strip()]
    metrics = {}
    if labelled:
        metrics = {"exact_match": sum(em[i] for i in labelled) / len(labelled),
                   "contains": sum(contains[i] for i in labelled) / len(labelled),
                   "rouge_l": sum(rouge[i] for i in labelled) / len(labelled)}
    return EvalResult(table, metrics, None, "generate")


def _confusion(gold: pd.Series, predicted: pd.Series, choices=None) -> pd.DataFrame:
    """Counts with gold labels as rows and predictions as columns; with fixed `choices`, every choice is a row and a
    column (a prompt that always answers the same still shows the whole square)."""
    counts = pd.crosstab(gold.rename("gold"), predicted.rename("predicted"))
    if choices:
        counts = counts.reindex(index=list(choices), columns=list(choices), fill_value=0)
        counts.index.name, counts.columns.name = "gold", "predicted"
    return counts


def _softmax(xs: Sequence[float]) -> list[float]:
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])


def _normalise(text: str) -> str:
    return " ".join(text.strip().casefold().split())
