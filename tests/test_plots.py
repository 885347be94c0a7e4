"""What the figures show a reader: whole labels, values that never run together, sane axes with one point, and every
choice in a confusion matrix."""

from __future__ import annotations

import pandas as pd

from promptlab import plots


def test_long_prompt_names_wrap_instead_of_being_cut_and_value_labels_never_overlap():
    names = ["sst2-review-sentiment (draft)", "the instruction good bad", "a"]
    table = pd.DataFrame({"name": names, "acc": [0.5, 0.61, 0.7], "acc_norm": [0.4, 0.6, 0.71],
                          "acc_calibrated": [0.55, 0.6, 0.7], "macro_f1": [0.3, 0.6, 0.7]})
    fig = plots.metric_bars(table, ["acc", "acc_norm", "acc_calibrated", "macro_f1"], majority=0.5)
    assert list(fig.layout.xaxis.ticktext) == ["sst2-review-sentiment<br>(draft)", "the instruction<br>good bad", "a"]
    assert fig.layout.xaxis.automargin and fig.layout.uniformtext.mode == "hide"  # labels that do not fit hide
    assert all(bar.cliponaxis is False for bar in fig.data if bar.type == "bar")


def test_a_run_with_one_point_keeps_step_and_accuracy_axes_sane():
    fig = plots.run_overlay({"run-a": [{"step": 0, "split": "val", "acc": 0.5, "val_loss": 0.7}]})
    assert tuple(fig.layout.xaxis.range) == (0, 1) and tuple(fig.layout.yaxis.range) == (0, 1.05)
    assert fig.layout.yaxis2.rangemode == "tozero"


def test_the_accuracy_axis_is_named_for_people():
    fig = plots.accuracy_curves([], {}, metric="acc", metric_label="准确率")
    assert fig.layout.yaxis.title.text == "准确率"
