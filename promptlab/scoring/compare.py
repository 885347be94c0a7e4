"""Several Reports side by side: one metrics row per prompt (per prompt and model when several models are compared),
the grid of prompts x models, one row per example with each answer and where the answers differ, and a paired
test of each prompt against the best one. Plain pandas and numpy; the Compare tab, its CSV downloads and its HTML
report show these tables.

Reports are keyed by a cell name (the prompt's name, or "prompt · model" when several models are compared);
`cells` maps each key to its (prompt, model) when there are several models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from promptlab.scoring.metrics import headline, primary

Cells = Mapping[str, tuple[str, str]]


def metrics_table(reports: dict, cells: Cells | None = None) -> pd.DataFrame:
    """One row per report: its prompt's `name` (and `model`, with `cells`), every headline metric, its few-shot
    spread, rows, shots and time."""
    records = []
    for key, report in reports.items():
        record = {"name": cells[key][0] if cells else key}
        if cells:
            record["model"] = cells[key][1]
        record.update(n=report.n, shots=report.shots, seconds=round(report.seconds, 1))
        for metric in headline(report.metrics):
            record[metric] = report.metrics[metric]
            for suffix in ("_std", "_min", "_max"):
                if metric + suffix in report.metrics:
                    record[metric + suffix] = report.metrics[metric + suffix]
        records.append(record)
    return pd.DataFrame(records)


def grid_table(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Prompts x models: `metric` of each (prompt, model) of a `metrics_table` made with cells, prompts and models
    in the order they first appear; NaN where a pair was not scored (a soft prompt runs on its own base model)."""
    grid = metrics.pivot_table(index="name", columns="model", values=metric, aggfunc="first", sort=False)
    grid = grid.reindex(index=list(dict.fromkeys(metrics["name"])), columns=list(dict.fromkeys(metrics["model"])))
    grid.index.name, grid.columns.name = "name", None
    return grid


def examples_table(reports: dict, templates: dict, rows: list[dict], label_column: str | None = None,
                   cells: Cells | None = None) -> pd.DataFrame:
    """One row per eval example: its gold label as the dataset says it (not as one template words it), each
    report's prediction (✓/✗), whether all agree, with several models whether every prompt got the same answer
    from every model (`models_agree`), and the query row's text (`input`: what the row is, whatever the shots).

    Answers agree on a row when they pick the same answer position (templates word their choices differently:
    "negative"/"positive" vs "no"/"yes"); generated answers and per-row choices are compared as text. `templates`
    is keyed like `reports`.
    """
    first = next(iter(reports.values())).table
    gold = [row.get(label_column) for row in rows] if label_column else first["gold"].tolist()
    df = pd.DataFrame({"row": range(1, len(first) + 1), "gold": gold})
    picks = {}
    for key, report in reports.items():
        column = "prediction" if "prediction" in report.table else "generated"
        predictions = report.table[column].tolist()
        marks = report.table["correct"].tolist() if "correct" in report.table else [None] * len(predictions)
        df[key] = [f"{p} {'✓' if c is True else '✗' if c is False else ''}".strip()
                   for p, c in zip(predictions, marks)]
        choices = templates[key].answer_choices
        picks[key] = [choices.index(p) if isinstance(choices, tuple) and p in choices else p for p in predictions]
    df["agree"] = [len({str(picks[key][i]) for key in picks}) <= 1 for i in range(len(df))]
    if cells and len({model for _, model in cells.values()}) > 1:
        by_prompt: dict[str, list[str]] = {}
        for key in reports:
            by_prompt.setdefault(cells[key][0], []).append(key)
        df["models_agree"] = [all(len({str(picks[key][i]) for key in keys}) <= 1 for keys in by_prompt.values())
                              for i in range(len(df))]
    if rows:
        df["input"] = [query_text(row, label_column) for row in rows]
    return df


def query_text(row: dict, label_column: str | None = None, limit: int = 300) -> str:
    """What a reader recognises a row by: its text fields but the label ("column: value" each when there are
    several, as in premise / hypothesis tasks), shortened in the middle."""
    texts = {k: v for k, v in row.items() if isinstance(v, str) and k != label_column and v.strip()}
    if not texts:
        texts = {k: v for k, v in row.items() if k != label_column}
    if len(texts) == 1:
        return shorten(next(iter(texts.values())), limit)
    return shorten(" · ".join(f"{k}: {v}" for k, v in texts.items()), limit)


def shorten(text, limit: int = 400) -> str:
    """Long texts cut in the middle (a prompt's start holds the instruction, its end the query)."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit // 2] + " … " + text[-(limit // 2):]


# ---- is a difference real? ----------------------------------------------------------------------------------------

def correctness(report) -> list[bool | None]:
    """Per row of a report's table: was the answer right (accuracy for answer choices, exact match for generation)?
    None for an unlabelled row."""
    table = report.table
    if "correct" in table:
        return [None if c is None or (isinstance(c, float) and math.isnan(c)) else bool(c) for c in table["correct"]]
    return [bool(m) if str(g).strip() else None for g, m in zip(table["gold"], table["exact_match"])]


def paired_tests(reports: dict, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each report against the best one on the same rows (those labelled in every report): its accuracy (exact
    match for generation) on them, the difference to the best, the difference's 95% paired-bootstrap interval
    (`resamples` resamples of the rows, seeded) and McNemar's exact two-sided p-value. The best row has
    `reference` True and no test. Few rows and close scores give wide intervals and large p-values: the rows cannot
    tell such prompts apart."""
    marks = {key: correctness(report) for key, report in reports.items()}
    n_rows = min(len(m) for m in marks.values())
    rows = [i for i in range(n_rows) if all(m[i] is not None for m in marks.values())]
    if not rows:
        return pd.DataFrame()
    right = {key: np.array([m[i] for i in rows], dtype=bool) for key, m in marks.items()}
    accuracy = {key: float(r.mean()) for key, r in right.items()}
    best = max(accuracy, key=accuracy.get)  # the first of equals
    records = []
    for key, r in right.items():
        record = {"name": key, "n": len(rows), "metric": accuracy[key], "reference": key == best}
        if key != best:
            low, high = bootstrap_interval(r, right[best], resamples, seed)
            record.update(diff=accuracy[key] - accuracy[best], ci_low=low, ci_high=high,
                          p_value=mcnemar_p(r, right[best]))
        records.append(record)
    return pd.DataFrame(records)


def bootstrap_interval(a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """The `level` percentile interval of mean(a) - mean(b) over paired bootstrap resamples of the rows.

    Each row contributes +1, 0 or -1 to the difference, so a resample is only how many rows of each kind it
    draws: one multinomial draw per resample, whatever the number of rows."""
    n = len(a)
    kinds = np.array([np.sum(a & ~b), np.sum(a == b), np.sum(~a & b)]) / n
    counts = np.random.default_rng(seed).multinomial(n, kinds, size=resamples)
    diffs = (counts[:, 0] - counts[:, 2]) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar_p(a: Sequence[bool], b: Sequence[bool]) -> float:
    """McNemar's exact test: the two-sided binomial p-value of the rows only one of the two got right.

    >>> mcnemar_p([True] * 10, [False] * 10)  # 10 of 10 discordant rows favour a
    0.001953125
    """
    only_a = sum(bool(x) and not y for x, y in zip(a, b))
    only_b = sum(bool(y) and not x for x, y in zip(a, b))
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def primary_metric(metrics: pd.DataFrame) -> str:
    """The headline metric a comparison's grid and model chart show: accuracy, or exact match when every prompt
    generates."""
    return "acc" if "acc" in metrics else primary("generate")
