"""The plotly figure builders: right traces, reference lines, error bars, texts passed through."""

from __future__ import annotations

import pandas as pd

from promptlab import plots

METRICS = [
    {"step": 1, "loss": 0.9, "lr": 0.01},
    {"step": 2, "loss": 0.7, "lr": 0.01},
    {"step": 2, "split": "val", "val_loss": 0.8, "acc": 0.55, "acc_norm": 0.5},
    {"step": 2, "kind": "nearest_tokens", "tokens": [["a"]], "drift": [0.1]},
    {"step": 4, "loss": 0.5, "lr": 0.01},
    {"step": 4, "split": "val", "val_loss": 0.6, "acc": 0.7, "acc_norm": 0.65},
]
BASELINES = {"metric": "acc", "zero_shot_acc": 0.6, "few_shot_acc": 0.65, "majority": 0.5,
             "templates": {"t1": {"zero_shot": {"acc": 0.6}, "few_shot": {"acc": 0.65, "acc_std": 0.02}}}}


def names(fig) -> list[str]:
    return [trace.name for trace in fig.data]


def test_accuracy_curves_draw_the_soft_prompt_and_every_baseline_across_all_steps():
    fig = plots.accuracy_curves(METRICS, BASELINES, total_steps=10)
    soft = next(tr for tr in fig.data if tr.name == "soft prompt")
    assert list(soft.x) == [2, 4] and list(soft.y) == [0.55, 0.7]
    lines = {tr.name: tr for tr in fig.data if tr.name != "soft prompt"}
    assert set(lines) == {"zero-shot 0.60", "few-shot 0.65", "majority class 0.50"}
    for line in lines.values():
        assert list(line.x) == [0, 10]  # the whole planned run, so points land inside the lines' span
        assert line.y[0] == line.y[1]


def test_reference_lines_name_templates_when_there_are_several():
    baselines = {"majority": 0.5, "templates": {"a": {"zero_shot": {"acc": 0.6}, "few_shot": {}},
                                                "b": {"zero_shot": {"acc": 0.7}, "few_shot": {"acc": 0.8}}}}
    lines = [name for name, *_ in plots.reference_lines(baselines, "acc")]
    assert lines == ["a zero-shot", "b zero-shot", "b few-shot", "majority class"]


def test_reference_lines_fall_back_to_top_level_scores_and_skip_majority_for_generation():
    assert [n for n, *_ in plots.reference_lines({"zero_shot_acc": 0.4, "majority": 0.5})] == \
        ["zero-shot", "majority class"]
    assert plots.reference_lines({"zero_shot_exact_match": 0.2, "majority": 0.5}, "exact_match")[-1][0] == \
        "zero-shot"


def test_accuracy_curves_without_metrics_or_baselines_is_an_empty_axis():
    fig = plots.accuracy_curves([], None, total_steps=4, title="Val", soft_label="软提示")
    assert names(fig) == ["软提示"] and fig.layout.title.text == "Val"


def test_loss_curves_separate_train_and_val():
    fig = plots.loss_curves(METRICS, train_label="train", val_label="val")
    assert names(fig) == ["train", "val"]
    assert list(fig.data[0].x) == [1, 2, 4] and list(fig.data[1].y) == [0.8, 0.6]


def test_metric_bars_have_error_bars_only_where_seeds_vary_and_a_majority_line():
    table = pd.DataFrame({"name": ["a", "b"], "acc": [0.7, 0.6], "acc_std": [0.05, 0.0], "macro_f1": [0.6, 0.5]})
    fig = plots.metric_bars(table, ["acc", "macro_f1", "missing"], majority=0.5)
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert [b.name for b in bars] == ["acc", "macro_f1"]
    assert list(bars[0].error_y.array) == [0.05, 0.0] and bars[1].error_y.array is None
    assert fig.layout.shapes[0].y0 == 0.5
    assert "majority class 0.50" in names(fig)


def test_confusion_matrices_one_heatmap_per_prompt():
    matrix = pd.DataFrame([[3, 1], [0, 4]], index=["neg", "pos"], columns=["neg", "pos"])
    fig = plots.confusion_matrices({"a": matrix, "b": matrix, "generate": None})
    assert [tr.type for tr in fig.data] == ["heatmap", "heatmap"]
    assert [list(row) for row in fig.data[0].z] == [[3, 1], [0, 4]]


def test_label_distribution_groups_by_split():
    fig = plots.label_distribution({"train": {"neg": 5, "pos": 15}, "validation": {"neg": 2, "pos": 2}})
    assert names(fig) == ["train", "validation"]
    assert list(fig.data[0].text) == ["5 (25%)", "15 (75%)"]


def test_run_overlay_one_colour_per_run_on_both_panels():
    fig = plots.run_overlay({"r1": METRICS, "r2": METRICS[:3]})
    assert names(fig) == ["r1", "r1", "r2", "r2"]
    assert [tr.showlegend for tr in fig.data] == [True, False, True, False]
    assert list(fig.data[0].y) == [0.55, 0.7] and list(fig.data[1].y) == [0.8, 0.6]


def test_empty_figure_carries_its_message():
    assert plots.empty("nothing yet").layout.annotations[0].text == "nothing yet"
    assert plots.label_distribution({}).layout.annotations[0].text == "No data yet"
