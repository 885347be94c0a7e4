"""Several Reports side by side: one metrics row per prompt, and one row per example with each prompt's answer and
whether the prompts agree. Plain pandas; the Compare tab, its CSV downloads and reports show these tables."""

from __future__ import annotations

import pandas as pd

from promptlab.scoring.metrics import headline


def metrics_table(reports: dict) -> pd.DataFrame:
    """One row per prompt: every headline metric, its few-shot spread, rows, shots and time."""
    records = []
    for name, report in reports.items():
        record = {"name": name, "n": report.n, "shots": report.shots, "seconds": round(report.seconds, 1)}
        for metric in headline(report.metrics):
            record[metric] = report.metrics[metric]
            for suffix in ("_std", "_min", "_max"):
                if metric + suffix in report.metrics:
                    record[metric + suffix] = report.metrics[metric + suffix]
        records.append(record)
    return pd.DataFrame(records)


def examples_table(reports: dict, templates: dict, rows: list[dict], label_column: str | None = None) -> pd.DataFrame:
    """One row per eval example: its gold label as the dataset says it (not as one template words it), each
    prompt's prediction (✓/✗), whether they agree, and the input text.

    Prompts agree on a row when they pick the same answer position (templates word their choices differently:
    "negative"/"positive" vs "no"/"yes"); generated answers and per-row choices are compared as text.
    """
    first = next(iter(reports.values())).table
    gold = [row.get(label_column) for row in rows] if label_column else first["gold"].tolist()
    df = pd.DataFrame({"row": range(1, len(first) + 1), "gold": gold})
    picks = {}
    for name, report in reports.items():
        column = "prediction" if "prediction" in report.table else "generated"
        predictions = report.table[column].tolist()
        marks = report.table["correct"].tolist() if "correct" in report.table else [None] * len(predictions)
        df[name] = [f"{p} {'✓' if c is True else '✗' if c is False else ''}".strip()
                    for p, c in zip(predictions, marks)]
        choices = templates[name].answer_choices
        picks[name] = [choices.index(p) if isinstance(choices, tuple) and p in choices else p for p in predictions]
    df["agree"] = [len({str(picks[name][i]) for name in picks}) <= 1 for i in range(len(df))]
    text_column = _text_column(rows)
    if text_column:
        df["input"] = [shorten(r.get(text_column, ""), 200) for r in rows]
    return df


def _text_column(rows: list[dict]) -> str | None:
    """The column a reader recognises a row by: the longest text column."""
    if not rows:
        return None
    texts = {k: len(str(v)) for k, v in rows[0].items() if isinstance(v, str)}
    return max(texts, key=texts.get) if texts else None


def shorten(text, limit: int = 400) -> str:
    """Long texts cut in the middle (a prompt's start holds the instruction, its end the query)."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit // 2] + " … " + text[-(limit // 2):]
