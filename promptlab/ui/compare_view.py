"""What a comparison shows, in the page's language: the metrics table, the prompts x models grid, the bar chart
(grouped by model when there are several), the confusion matrices, the per-row table, the paired test and the note
saying which shots and seeds each of them shows. The Compare tab and its HTML report both draw from here.

`result` is the dict `tabs.compare.compare` keeps: "metrics" (scoring.compare.metrics_table, with a "model" column
when several models were compared), "examples", "confusion" ({cell: matrix}), "significance" (paired_tests),
"majority", "bars" (metric names), "protocol" ({"shots", "seeds", "seed"}), "notes" ([(unloaded, for)]). Older
results without the later keys (a single model, no protocol) still render.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from promptlab import plots
from promptlab.scoring.compare import grid_table, primary_metric
from promptlab.ui.format import fmt, md_text, plot_text, t_metric
from promptlab.ui.i18n import say, t

SIGNIFICANCE_LEVEL = 0.05


def several_models(result: dict) -> bool:
    table = result["metrics"]
    return "model" in table and table["model"].nunique() > 1


def render(result: dict | None, lang: str, only_disagree: bool = False, only_models: bool = False):
    """A comparison's metrics table, bar chart, confusion matrices and per-example table, in `lang`."""
    if result is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return (shown_metrics(result["metrics"], lang), chart(result, lang), confusion(result, lang),
            shown_examples(result["examples"], only_disagree, lang, only_models))


def chart(result: dict, lang: str):
    """One model: a group of bars per prompt, one bar per metric. Several: a group per model, one bar per prompt
    (the primary metric, with its spread over seeds), so prompts compare within a model and models across groups."""
    table = result["metrics"]
    majority = dict(majority=result["majority"], majority_label=t("plot.majority", lang))
    if not several_models(result):
        # Prompt names and labels are outside text, and plotly reads tags in figure texts: escaped for the plots.
        named = table.assign(name=table["name"].map(plot_text))
        shown = [c for c in result["bars"] if c in table]
        return plots.metric_bars(named, shown, title=t("compare.chart", lang),
                                 labels={c: t_metric(c, lang) for c in shown}, **majority)
    metric = primary_metric(table)
    grid = grid_table(table, metric)
    spread = grid_table(table, f"{metric}_std") if f"{metric}_std" in table else None
    wide = pd.DataFrame({"name": [plot_text(m) for m in grid.columns]})
    for prompt in grid.index:
        wide[plot_text(prompt)] = grid.loc[prompt].tolist()
        if spread is not None:
            wide[f"{plot_text(prompt)}_std"] = spread.loc[prompt].fillna(0).tolist()
    return plots.metric_bars(wide, [plot_text(p) for p in grid.index],
                             title=t("compare.chart_models", lang, metric=t_metric(metric, lang)), **majority)


def confusion(result: dict, lang: str):
    # With several models the titles are "prompt · model": broken into lines (plots.wrap escapes them), so that
    # three side by side do not run into each other.
    title_of = (lambda name: plots.wrap(name, 30)) if several_models(result) else plot_text
    matrices = {title_of(name): None if m is None else m.rename(index=plot_text, columns=plot_text)
                for name, m in result["confusion"].items()}
    title = t("compare.confusion", lang)
    if result.get("protocol"):
        title += f" ({seed_text(result['protocol'], lang)})"
    fig = plots.confusion_matrices(matrices, title=title, gold_label=t("col.gold", lang),
                                   predicted_label=t("plot.predicted", lang), empty_label=t("plot.no_matrix", lang))
    if several_models(result):  # two-line subplot titles, three abreast: smaller, with room under the title
        fig.update_layout(margin={"t": 100}, height=fig.layout.height + 50)
        fig.update_annotations(font={"size": 11})
    return fig


def shown_metrics(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The metrics table for reading: 3 decimals, 'mean ± std (min–max)' where seeds vary."""
    out = pd.DataFrame({t("col.name", lang): table["name"]})
    if "model" in table:
        out[t("col.model", lang)] = table["model"]
    for metric in [c for c in table.columns if c not in ("name", "model", "n", "shots", "seconds")
                   and not c.endswith(("_std", "_min", "_max"))]:
        out[t_metric(metric, lang)] = [with_spread(row, metric) for _, row in table.iterrows()]
    out[t("col.rows", lang)] = table["n"]
    out[t("col.shots", lang)] = table["shots"]
    out[t("col.seconds", lang)] = table["seconds"]
    return out


def with_spread(row, metric: str) -> str:
    cell = fmt(row[metric])
    std = row.get(f"{metric}_std")
    if std is not None and not pd.isna(std) and std > 0:
        cell += f" ± {fmt(std, 3)} ({fmt(row[f'{metric}_min'], 2)}–{fmt(row[f'{metric}_max'], 2)})"
    return cell


def shown_grid(result: dict, lang: str) -> pd.DataFrame:
    """Prompts x models: the primary metric of each pair (± its spread over seeds), '–' where not scored."""
    table = result["metrics"]
    metric = primary_metric(table)
    cells = table.assign(cell=[with_spread(row, metric) for _, row in table.iterrows()])
    grid = cells.pivot_table(index="name", columns="model", values="cell", aggfunc="first", sort=False)
    grid = grid.reindex(index=list(dict.fromkeys(table["name"])), columns=list(dict.fromkeys(table["model"])))
    grid = grid.fillna("–").reset_index()
    return grid.rename(columns={"name": f"{t('col.name', lang)} \\ {t_metric(metric, lang)}"})


def shown_examples(per_example: pd.DataFrame | None, only_disagree: bool, lang: str,
                   only_models: bool = False) -> pd.DataFrame:
    """The per-row table, translated; only the rows where any answers differ, or where models differ."""
    if per_example is None:
        return pd.DataFrame()
    df = per_example
    if only_disagree:
        df = df[~df["agree"]]
    if only_models and "models_agree" in df:
        df = df[~df["models_agree"]]
    marks = {True: "✓", False: "✗"}
    df = df.assign(**{c: df[c].map(marks) for c in ("agree", "models_agree") if c in df})
    return df.rename(columns={"row": t("col.row", lang), "input": t("col.input", lang), "gold": t("col.gold", lang),
                              "agree": t("col.agree", lang), "models_agree": t("col.models_agree", lang)})


def shown_significance(result: dict, lang: str) -> pd.DataFrame:
    """Each prompt against the best: its score on the paired rows, the difference, its 95% interval, McNemar's p
    and what that means."""
    tests = result.get("significance")
    if tests is None or tests.empty:
        return pd.DataFrame()
    score = f"{t_metric(primary_metric(result['metrics']), lang)} ({seed_text(result.get('protocol') or {}, lang)})"
    records = []
    for _, test in tests.iterrows():
        tested = not test["reference"]
        records.append({
            t("col.name", lang): test["name"],
            score: fmt(test["metric"]),
            t("col.diff", lang): f"{test['diff']:+.3f}" if tested else "",
            t("col.interval", lang): f"[{test['ci_low']:+.3f}, {test['ci_high']:+.3f}]" if tested else "",
            t("col.p_value", lang): fmt(test["p_value"]) if tested else "",
            t("col.verdict", lang): verdict(test, lang),
            t("col.rows", lang): int(test["n"]),
        })
    return pd.DataFrame(records)


def verdict(test, lang: str) -> str:
    if test["reference"]:
        return t("sig.best", lang)
    return t("sig.differs" if test["p_value"] < SIGNIFICANCE_LEVEL else "sig.chance", lang)


def seed_text(protocol: dict, lang: str) -> str:
    """"zero-shot", or "2-shot, seed 0": what the first seed's tables show."""
    if not protocol.get("shots"):
        return t("compare.zero_shot", lang)
    return t("compare.shots_seed", lang, shots=protocol["shots"], seed=protocol.get("seed", 0))


def protocol_note(result: dict, lang: str) -> str:
    """Which shots and seeds the metrics and chart average, and which seed the per-row table, the confusion
    matrices and the paired test show."""
    protocol = result.get("protocol")
    if not protocol:
        return ""
    shots, seeds, first = protocol["shots"], protocol["seeds"], protocol.get("seed", 0)
    if not shots:
        return "ℹ " + t("compare.note_zero", lang)
    if seeds == 1:
        return "ℹ " + t("compare.note_one_seed", lang, shots=shots, seed=first)
    return "ℹ " + t("compare.note_seeds", lang, shots=shots, first=first, last=first + seeds - 1)


def status_markdown(result: dict | None, failed: dict[str, str], lang: str) -> str:
    """Models unloaded to make room while comparing, then the prompts that could not be scored and why (names and
    messages may carry anything: shown as text)."""
    notes = "  \n".join(f"ℹ {t('models.unloaded', lang, old=md_text(old), new=md_text(new))}"
                        for old, new in (result or {}).get("notes", ()))
    if not failed:
        return notes
    lines = [f"⚠ **{t('compare.some_failed', lang, n=len(failed))}**"]
    lines += [f"- **{md_text(name)}**: {md_text(say(message, lang))}" for name, message in failed.items()]
    return "\n\n".join(part for part in (notes, "\n".join(lines)) if part)
