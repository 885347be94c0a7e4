"""The manual-prompt baselines of a run, measured once on the run's validation subset with the base model.

Stored as `baselines.json` so every plot can draw them as reference lines:

    {"metric": "acc", "n": 200, "shots": 4, "seeds": 5,
     "zero_shot_acc": .., "zero_shot_acc_norm": .., "few_shot_acc": .., "few_shot_acc_std": ..,
     "calibrated_acc": .., "majority": .., "templates": {"<name>": {"zero_shot": {...}, "few_shot": {...}}}}

Generation templates store the same keys with `exact_match` and `rouge_l` in place of `acc`.
"""

from __future__ import annotations

import time

from promptlab.scoring.experiment import Protocol, score_template
from promptlab.scoring.metrics import headline, primary


def measure_baselines(lm, template, eval_rows, pool, *, shots: int, seeds: int, label_column,
                      progress=None, log=print) -> dict:
    """Zero-shot, few-shot (mean ± std over `seeds`), calibrated and majority-class scores of `template`, with
    demonstrations from `pool` (`data.sampling.demonstration_pool`: what Compare draws from too, so the figures are
    the ones Compare shows for the same template, rows, shots and seeds)."""
    start = time.perf_counter()
    metric = primary(template.mode)
    zero = score_template(lm, template, eval_rows, label_column=label_column, progress=progress).metrics
    log(f"baseline zero-shot: {_fmt(zero)}")
    out: dict = {"metric": metric, "n": len(eval_rows), "shots": shots, "seeds": seeds}
    _put(out, "zero_shot", zero)
    if "acc_calibrated" in zero:
        out["calibrated_acc"] = zero["acc_calibrated"]
    if "majority" in zero:
        out["majority"] = zero["majority"]
    few = {}
    if shots and pool:
        few = score_template(lm, template, eval_rows, Protocol(shots=shots, seeds=seeds), pool=pool,
                             label_column=label_column, progress=progress).metrics
        log(f"baseline {shots}-shot over {seeds} seeds: {_fmt(few)}")
        _put(out, "few_shot", few)
    out["templates"] = {template.name: {"zero_shot": zero, "few_shot": few}}
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def _put(out: dict, prefix: str, metrics: dict) -> None:
    """`<prefix>_<metric>` (and its `_std` over seeds) for every metric of the table; the majority class is stored
    once, on its own."""
    for key in headline(metrics):
        if key == "majority":
            continue
        for suffix in ("", "_std"):
            if key + suffix in metrics:
                out[f"{prefix}_{key}{suffix}"] = metrics[key + suffix]


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if not k.endswith(("_min", "_max")))
