"""A validation split held out of single-split data (seeded, stratified, one rule for the app, the CLI and a run's
spec), and the warning when the rows scored are also demonstration rows."""

from __future__ import annotations

import csv
import gc
import json
from collections import Counter

import pytest

from promptlab.cli import main
from promptlab.data import splits
from promptlab.data.datasets import load_dataset
from promptlab.data.splits import Holdout, overlap, with_holdout
from promptlab.ui import state
from promptlab.ui.tabs import data

TEMPLATE = """\
name: tiny-sentiment
prompt: "Review: {{ text }}\\nSentiment:"
target: "{{ label }}"
answer_choices: [negative, positive]
"""


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def single_csv(tmp_path):
    """One file, 70 negative and 30 positive reviews: an imbalanced single split."""
    rows = [{"text": f"review {i}: {'great' if i % 10 < 3 else 'terrible'} film", "stars": i % 5,
             "label": "positive" if i % 10 < 3 else "negative"} for i in range(100)]
    return write_csv(tmp_path / "reviews.csv", rows)


# ---- the rule ---------------------------------------------------------------------------------------------------

def test_a_single_file_splits_seeded_and_stratified(single_csv):
    dataset = load_dataset(single_csv)
    assert list(dataset.splits) == ["data"] and splits.can_hold_out(dataset)
    split = with_holdout(dataset, Holdout(0.2, seed=0))
    assert list(split.splits) == ["train", "validation"]
    assert split.label_counts("validation") == {"negative": 14, "positive": 6}  # 20% of each class
    assert split.label_counts("train") == {"negative": 56, "positive": 24}
    assert split.default_train_split == "train" and split.default_eval_split == "validation"
    # no row lost or doubled, and each part keeps the file's order
    rows = dataset.rows("data")
    assert sorted(map(rows.index, split.rows("train") + split.rows("validation"))) == list(range(100))
    assert [rows.index(r) for r in split.rows("validation")] == sorted(rows.index(r) for r in split.rows("validation"))


def test_the_same_file_fraction_and_seed_give_the_same_rows_and_another_seed_others(single_csv):
    first = with_holdout(load_dataset(single_csv), {"fraction": 0.2, "seed": 0})
    again = with_holdout(load_dataset(single_csv), {"fraction": 0.2, "seed": 0})  # another load, another process
    other = with_holdout(load_dataset(single_csv), {"fraction": 0.2, "seed": 1})
    assert first.rows("validation") == again.rows("validation")
    assert first.rows("validation") != other.rows("validation")
    assert other.label_counts("validation") == first.label_counts("validation")


def test_fractions_round_and_every_part_keeps_a_row(tmp_path):
    rows = [{"text": f"t{i}", "label": "a" if i < 5 else "b"} for i in range(7)]
    dataset = load_dataset(write_csv(tmp_path / "tiny.csv", rows))
    assert len(with_holdout(dataset, Holdout(0.3)).rows("validation")) == 2  # round(2.1)
    assert len(with_holdout(dataset, Holdout(0.01)).rows("validation")) == 1  # at least one to validate
    assert len(with_holdout(dataset, Holdout(0.99)).rows("train")) == 1  # at least one to train
    one = load_dataset(write_csv(tmp_path / "one.csv", rows[:1]))
    assert not splits.can_hold_out(one) and splits.default_holdout(one) is None
    with pytest.raises(ValueError, match="'one' has 1 row in split 'data': too few to hold a validation split out"):
        with_holdout(one, Holdout())


def test_unlabelled_data_splits_at_random(tmp_path):
    dataset = load_dataset(write_csv(tmp_path / "plain.csv", [{"text": f"t{i}", "n": i} for i in range(10)]))
    assert dataset.label_column is None
    split = with_holdout(dataset, Holdout(0.3, 4))
    assert len(split.rows("validation")) == 3 and len(split.rows("train")) == 7


def test_data_with_splits_of_its_own_is_left_alone():
    dataset = load_dataset("demo-reviews")
    assert not splits.can_hold_out(dataset) and splits.default_holdout(dataset) is None
    assert with_holdout(dataset, Holdout()) is dataset


@pytest.mark.parametrize("value, message", [
    ({"fraction": 0}, "between 0 and 1"), ({"fraction": 1.5}, "between 0 and 1"), ({"fraction": "x"}, "between"),
    ({"fraction": 0.2, "seed": -1}, "whole number from 0"), ({"fraction": 0.2, "seed": 1.5}, "whole number"),
    ({"share": 0.2}, "A holdout is"), ("0.2", "A holdout is"),
])
def test_a_bad_holdout_says_what_it_takes(value, message):
    with pytest.raises(ValueError, match=message):
        Holdout.from_value(value)


def test_splits_are_made_once_and_dropped_with_their_dataset(single_csv):
    dataset = load_dataset(single_csv)
    made = with_holdout(dataset, Holdout())
    assert with_holdout(dataset, {"fraction": 0.2, "seed": 0}) is made
    assert id(dataset) in splits._memo._splits
    key = id(dataset)
    del dataset, made
    gc.collect()
    assert key not in splits._memo._splits  # the cache holds no rows of a dataset nobody holds


def test_overlap_counts_rows_scored_that_are_also_demonstration_rows():
    train = [{"idx": i, "text": f"t{i}", "label": "a"} for i in range(10)]
    evals = [{"idx": 100 + i, "text": f"t{i}", "label": "b"} for i in range(3)]  # same text, another id and label
    evals += [{"idx": 200, "text": "new", "label": "a"}]
    assert overlap(train, evals, "label") == 3
    assert overlap(train, train[:4], "label") == 4
    assert overlap(train, [{"idx": 1, "text": "other", "label": "a"}], "label") == 0


# ---- the app ----------------------------------------------------------------------------------------------------

def test_an_uploaded_single_file_is_split_by_default_and_the_tab_says_how(single_csv):
    sel = data.load_upload(str(single_csv), None, "en")
    assert sel["holdout"] == {"fraction": 0.2, "seed": 0}
    assert sel["train"] == "train" and sel["eval"] == "validation" and sel["eval_size"] == 20
    scored = state.eval_rows(sel)
    assert len(scored) == 20 and Counter(r["label"] for r in scored) == {"negative": 14, "positive": 6}
    assert not set(map(str, scored)) & set(map(str, state.demonstrations(sel)))
    summary = data.show(sel, "en")[0]
    assert "**Validation split**: 20 of 100 rows held out for scoring (20%, each label in proportion, by `label`, " \
           "seed 0); the other 80 are for demonstrations and tuning." in summary
    assert "⚠" not in summary
    row, on, fraction, seed = data.show_holdout(sel)
    assert row["visible"] and on["value"] is True and fraction["value"] == 0.2 and seed["value"] == 0
    assert "验证集" in data.show(sel, "zh")[0]


def test_turning_the_split_off_warns_that_scored_rows_are_demonstration_rows(single_csv):
    sel = data.load_upload(str(single_csv), None, "en")
    off = data.change_holdout(False, 0.2, 0, sel, "en")
    assert off["holdout"] is None and off["train"] == off["eval"] == "data"
    summary = data.show(off, "en")[0]
    assert "⚠ **The rows scored are also the demonstration rows**" in summary and "neighbours' labels" in summary
    assert "评测的行同时也是示例行" in data.show(off, "zh")[0]
    on = data.change_holdout(True, 0.3, 7, off, "en")
    assert on["holdout"] == {"fraction": 0.3, "seed": 7} and len(state.dataset_of(on).rows("validation")) == 30
    assert on["eval_size"] == 20  # the size asked for before, as far as the split has rows


def test_duplicated_rows_across_splits_are_counted_in_the_warning(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    train = [{"id": i, "text": f"film {i}", "label": "positive" if i % 2 else "negative"} for i in range(20)]
    validation = [{"id": 100 + i, "text": f"film {i}", "label": "negative"} for i in range(3)]
    validation += [{"id": 200 + i, "text": f"new film {i}", "label": "positive"} for i in range(5)]
    write_csv(folder / "train.csv", train)
    write_csv(folder / "validation.csv", validation)
    sel = data.load_source(str(folder), None, "en")
    assert sel["holdout"] is None and data.show_holdout(sel)[0]["visible"] is False
    assert "⚠ **3 of the 8 rows scored also appear in `train`**" in data.show(sel, "en")[0]


def test_a_bad_seed_is_refused_and_the_selection_kept(single_csv):
    import gradio as gr

    sel = data.load_upload(str(single_csv), None, "en")
    with pytest.raises(gr.Error, match="whole number"):
        data.change_holdout(True, 0.2, 1.5, sel, "en")


def test_changing_splits_and_label_column_keep_the_holdout(single_csv):
    sel = data.load_upload(str(single_csv), None, "en")
    resized = data.change_splits("train", "validation", 10, sel, "en")
    assert resized["holdout"] == sel["holdout"] and resized["eval_size"] == 10
    relabelled = data.change_label_column("stars", sel, "en")
    assert relabelled["holdout"] == sel["holdout"] and relabelled["label_column"] == "stars"
    assert set(state.dataset_of(relabelled).label_counts("validation").values()) == {4}  # stratified by stars


# ---- runs and the command line ------------------------------------------------------------------------------------

def test_a_run_on_a_single_file_records_its_split_and_compare_scores_the_same_rows(single_csv, tmp_path):
    from promptlab.prompts.files import parse_template
    from promptlab.runs import store
    from promptlab.tuning.spec import load_parts, prepare_spec, submit
    from promptlab.ui.app import run_selection
    from promptlab.ui.tabs import tune

    sel = data.change_holdout(True, 0.25, 3, data.load_upload(str(single_csv), None, "en"), "en")
    spec = tune.job_spec(parse_template(TEMPLATE), sel, "prompt_tuning", "template", 4, "test", 0.03, 2, 2)
    prepared = prepare_spec(spec)
    assert prepared["holdout"] == {"fraction": 0.25, "seed": 3}
    assert (prepared["train_split"], prepared["eval_split"]) == ("train", "validation")
    parts = load_parts(prepared)
    assert parts.eval_rows == state.dataset_of(sel).rows("validation")
    run_id = submit(spec, tmp_path / "runs", launch=False)
    again = run_selection(store.get_run(run_id, tmp_path / "runs"))
    assert again["holdout"] == sel["holdout"] and state.eval_rows(again) == state.eval_rows(sel)


def test_a_spec_without_a_holdout_gets_the_default_on_a_single_file_and_none_elsewhere(single_csv):
    from promptlab.tuning.spec import prepare_spec

    base = {"template": TEMPLATE, "config": {"max_steps": 2, "batch_size": 2, "eval_size": 8}}
    assert prepare_spec({**base, "data": str(single_csv)})["holdout"] == {"fraction": 0.2, "seed": 0}
    assert prepare_spec({**base, "data": "demo-reviews"})["holdout"] is None
    with pytest.raises(ValueError, match="both 'data'.*hold a validation split out"):
        prepare_spec({**base, "data": str(single_csv), "holdout": None})
    with pytest.raises(ValueError, match="between 0 and 1"):
        prepare_spec({**base, "data": "demo-reviews", "holdout": {"fraction": 2}})


def test_score_holds_out_a_validation_split_of_a_single_file(single_csv, tmp_path, tiny_model_dir, capsys):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    argv = ["score", "--template", str(tmp_path / "t.yaml"), "--data", str(single_csv), "--model",
            str(tiny_model_dir), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "validation" and result["n"] == 20
    assert result["holdout"] == {"fraction": 0.2, "seed": 0} and result["overlap"] is None
    assert main([*argv, "--val-fraction", "0.3", "--split-seed", "2", "--shots", "1"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["n"] == 30 and result["holdout"] == {"fraction": 0.3, "seed": 2} and result["overlap"] == 0
    assert "warning" not in captured.err


def test_score_without_the_split_warns_that_demonstrations_come_from_the_rows_scored(single_csv, tmp_path,
                                                                                      tiny_model_dir, capsys):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    argv = ["score", "--template", str(tmp_path / "t.yaml"), "--data", str(single_csv), "--model",
            str(tiny_model_dir), "--val-fraction", "0", "--limit", "10", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["holdout"] is None and "warning" not in captured.err  # zero-shot: no demos
    assert main([*argv, "--shots", "2"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overlap"] == 10
    assert "warning: 10 of the 10 rows scored are also in 'data'" in captured.err
    assert "--val-fraction" in captured.err


@pytest.mark.parametrize("value, message", [("1", "must be from 0 to below 1 (e.g. 0.2 for 20% of the rows), got 1"),
                                            ("-0.1", "must be from 0 to below 1"),
                                            ("a", "must be a number from 0 to below 1 (e.g. 0.2), got 'a'")])
def test_bad_validation_fractions_are_refused_with_the_flag_named(value, message, capsys):
    with pytest.raises(SystemExit):
        main(["score", "--template", "x", "--data", "y", "--val-fraction", value])
    assert f"argument --val-fraction: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("extra, recorded", [
    ([], {"fraction": 0.2, "seed": 0}),
    (["--val-fraction", "0.1", "--split-seed", "5"], {"fraction": 0.1, "seed": 5}),
    (["--val-fraction", "0"], None),
])
def test_tune_asks_for_the_split_and_the_run_records_it(single_csv, tmp_path, extra, recorded):
    from promptlab.cli import build_parser
    from promptlab.cli.tune import spec_from_args
    from promptlab.tuning.spec import prepare_spec

    (tmp_path / "t.yaml").write_text(TEMPLATE)
    args = build_parser().parse_args(["tune", "--template", str(tmp_path / "t.yaml"), "--data", str(single_csv),
                                      "--preset", "test", *extra])
    if recorded is None:  # no split: the rows tuned on would be the rows evaluated
        with pytest.raises(ValueError, match="both 'data'"):
            prepare_spec(spec_from_args(args))
        return
    prepared = prepare_spec(spec_from_args(args))
    assert prepared["holdout"] == recorded and prepared["eval_split"] == "validation"
