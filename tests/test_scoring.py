"""Scoring: metrics on a real (tiny) model, calibration, aggregation, generation metrics."""

from __future__ import annotations

import math

import pytest

from promptlab.models.lm import load_lm
from promptlab.prompts.values import Example, Template
from promptlab.scoring.evaluate import evaluate, requests_for
from promptlab.scoring.experiment import Protocol, build_examples, content_free_examples, score_template
from promptlab.scoring.metrics import aggregate, macro_f1, rouge_l

SENTIMENT = Template("tiny-sentiment", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive"))
ROWS = [{"text": f"a {'great' if i % 3 else 'terrible'} movie number {i}",
         "label": "positive" if i % 3 else "negative"} for i in range(12)]


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir):
    return load_lm(str(tiny_model_dir))


def test_rank_metrics_agree_with_the_loglikelihoods(tiny_lm):
    examples = build_examples(SENTIMENT, ROWS)
    result = evaluate(tiny_lm, examples)
    lls = tiny_lm.loglikelihood(requests_for(examples))
    expected_pred = ["positive" if lls[2 * i + 1].logprob > lls[2 * i].logprob else "negative"
                     for i in range(len(ROWS))]
    assert list(result.table["prediction"]) == expected_pred
    gold = [r["label"] for r in ROWS]
    assert result.metrics["acc"] == pytest.approx(sum(p == g for p, g in zip(expected_pred, gold)) / len(gold))
    assert result.metrics["majority"] == pytest.approx(8 / 12)
    assert result.metrics["macro_f1"] == pytest.approx(macro_f1(gold, expected_pred))
    probs = result.table[["p(negative)", "p(positive)"]].sum(axis=1)
    assert probs.tolist() == pytest.approx([1.0] * len(ROWS), abs=1e-3)
    assert int(result.confusion.values.sum()) == len(ROWS)


def test_acc_norm_divides_by_choice_length_in_characters(tiny_lm):
    template = Template("lengths", "Review: {{ text }}\nSentiment:", "{{ label }}", ("no", "positive"))
    rows = [{"text": "good", "label": "no"}]
    example = build_examples(template, rows)[0]
    no, positive = (r.logprob for r in tiny_lm.loglikelihood(requests_for([example])))
    result = evaluate(tiny_lm, [example])
    expected = 0 if no / 2 > positive / 8 else 1
    assert result.metrics["acc_norm"] == (1.0 if expected == 0 else 0.0)


def test_calibration_divides_by_content_free_probabilities(tiny_lm):
    examples = build_examples(SENTIMENT, ROWS)
    free = content_free_examples(SENTIMENT)
    assert [e.prompt for e in free] == ["Review: N/A\nSentiment:", "Review: \nSentiment:", "Review: [MASK]\nSentiment:"]
    result = evaluate(tiny_lm, examples, content_free=free)
    cf = evaluate(tiny_lm, free).probs
    mean = [sum(p[j] for p in cf) / 3 for j in range(2)]
    predicted = [max(range(2), key=lambda j: p[j] / mean[j]) for p in result.probs]
    gold = [e.gold for e in examples]
    assert result.metrics["acc_calibrated"] == pytest.approx(sum(p == g for p, g in zip(predicted, gold)) / 12)


def test_few_shot_reports_spread_and_reproduces(tiny_lm):
    first = score_template(tiny_lm, SENTIMENT, ROWS[:6], Protocol(shots=2, seeds=3), pool=ROWS, label_column="label")
    again = score_template(tiny_lm, SENTIMENT, ROWS[:6], Protocol(shots=2, seeds=3), pool=ROWS, label_column="label")
    assert first.metrics == again.metrics and first.table.equals(again.table)
    assert len(first.per_seed) == 3
    accs = [m["acc"] for m in first.per_seed]
    assert first.metrics["acc"] == pytest.approx(sum(accs) / 3)
    assert first.metrics["acc_min"] == min(accs) and first.metrics["acc_max"] == max(accs)
    assert "acc_std" in first.metrics


def test_demonstrations_never_include_the_query_row():
    examples = build_examples(SENTIMENT, ROWS, pool=ROWS, shots=11, seed=0, label_column="label")
    for row, example in zip(ROWS, examples):
        demos = example.prompt.split("\n\n")[:-1]
        assert len(demos) == 11
        assert f"Review: {row['text']}\nSentiment: {row['label']}" not in demos


def test_generation_metrics(tiny_lm):
    template = Template("echo", "Q: {{ q }}\nA:", "{{ a }}")
    rows = [{"q": "what is it?", "a": "it is good"}, {"q": "yes?", "a": "the answer is yes"}]
    result = evaluate(tiny_lm, build_examples(template, rows))
    assert result.mode == "generate"
    assert set(result.metrics) == {"exact_match", "contains", "rouge_l"}
    for generated, gold, score in zip(result.table["generated"], result.table["gold"], result.table["rouge_l"]):
        assert score == pytest.approx(rouge_l(generated, gold), abs=1e-4)


def test_rouge_l_scores_chinese_text():
    assert rouge_l("这部电影很好看", "这部电影很好看") == pytest.approx(1.0)
    assert 0 < rouge_l("电影很好", "这部电影很好看") < 1
    assert rouge_l("the cat sat", "the cat sat down") == pytest.approx(2 * 1 * 0.75 / 1.75)


def test_aggregate_mean_std_min_max():
    out = aggregate([{"acc": 0.5, "macro_f1": 0.2}, {"acc": 0.7, "macro_f1": 0.4}, {"acc": 0.9, "macro_f1": 0.6}])
    assert out["acc"] == pytest.approx(0.7)
    assert out["acc_std"] == pytest.approx(math.sqrt(((0.2) ** 2 * 2) / 3))
    assert (out["acc_min"], out["acc_max"]) == (0.5, 0.9)


def test_macro_f1_counts_unpredicted_labels_as_zero():
    assert macro_f1(["a", "a", "b"], ["a", "a", "a"]) == pytest.approx((0.8 + 0.0) / 2)


def test_unlabelled_rows_get_predictions_but_no_metrics(tiny_lm):
    rows = [{"text": "good", "label": None}]
    result = evaluate(tiny_lm, build_examples(SENTIMENT, rows))
    assert result.metrics == {} and result.table["prediction"][0] in ("negative", "positive")


def test_nothing_to_score_is_a_clear_error(tiny_lm):
    with pytest.raises(ValueError, match="Nothing to score"):
        evaluate(tiny_lm, [])


def test_mixed_rank_and_generate_rows_are_refused(tiny_lm):
    examples = [Example("a", "b", ("x", "y"), 0), Example("a", "b")]
    with pytest.raises(ValueError, match="choices for every row"):
        evaluate(tiny_lm, examples)


def test_bad_shots_and_seeds_are_refused(tiny_lm):
    with pytest.raises(ValueError, match="shots must be 0 or more"):
        build_examples(SENTIMENT, ROWS, pool=ROWS, shots=-1)
    with pytest.raises(ValueError, match="seeds must be 1 or more"):
        Protocol(seeds=0)
    with pytest.raises(ValueError, match="only"):
        build_examples(SENTIMENT, ROWS, pool=ROWS[:3], shots=5)


def test_the_confusion_matrix_shows_every_choice_even_when_one_is_never_predicted(tiny_lm):
    three = Template("three", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive", "meh"))
    result = evaluate(tiny_lm, build_examples(three, ROWS))
    assert list(result.confusion.index) == list(result.confusion.columns) == ["negative", "positive", "meh"]
    assert result.confusion.loc["meh"].sum() == 0 and int(result.confusion.values.sum()) == len(ROWS)


def test_a_target_outside_the_choices_is_refused_not_scored_as_unlabelled(tiny_lm):
    wrong = Template("wrong", "Review: {{ text }}\nSentiment:", "{{ label }}", ("bad", "good"))
    with pytest.raises(ValueError, match="Row 1: the target 'negative' is not one of the answer choices"):
        score_template(tiny_lm, wrong, ROWS)
    unlabelled = [{"text": r["text"], "label": None} for r in ROWS]  # a test split without answers: predictions
    report = score_template(tiny_lm, SENTIMENT, unlabelled)
    assert report.metrics == {} and len(report.table) == len(ROWS)
