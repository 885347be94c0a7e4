"""The bundled SmolLM2-135M-Instruct on real data: the numbers a user would see."""

from __future__ import annotations

import pytest

from promptlab.data.datasets import load_dataset
from promptlab.models.lm import load_lm
from promptlab.prompts.files import find_template
from promptlab.scoring.experiment import Protocol, score_template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    return load_lm("smollm2-135m-instruct")


@pytest.fixture(scope="module")
def sst2(shared_datasets):
    return load_dataset(str(shared_datasets / "sst2"))


def test_review_sentiment_template_scores_at_least_70_percent(smollm2, sst2):
    rows = sst2.rows("validation")[:200]
    report = score_template(smollm2, find_template("sst2-review-sentiment"), rows)
    assert report.n == 200
    assert report.metrics["acc"] >= 0.70  # about 0.78 measured
    assert report.metrics["majority"] == pytest.approx(max(
        sum(r["label"] == label for r in rows) for label in ("positive", "negative")) / 200)


def test_four_shot_reports_a_spread_and_reproduces(smollm2, sst2):
    rows, pool = sst2.rows("validation")[:24], sst2.rows("train")[:2000]
    template = find_template("sst2-review-sentiment")
    report = score_template(smollm2, template, rows, Protocol(shots=4, seeds=3), pool=pool, label_column="label")
    accs = [m["acc"] for m in report.per_seed]
    assert report.metrics["acc_std"] > 0 and report.metrics["acc_max"] > report.metrics["acc_min"]
    assert report.metrics["acc"] == pytest.approx(sum(accs) / 3)
    again = score_template(smollm2, template, rows, Protocol(shots=4, seeds=3), pool=pool, label_column="label")
    assert again.per_seed == report.per_seed


def test_demo_tasks_score_in_both_languages(smollm2):
    english = load_dataset("demo-reviews")
    report = score_template(smollm2, find_template("demo-reviews-sentiment"), english.rows("validation"))
    assert report.metrics["acc"] > 0.7, report.metrics
    chinese = load_dataset("demo-reviews-zh")
    report = score_template(smollm2, find_template("demo-reviews-zh-sentiment"), chinese.rows("validation"))
    # A 135M English-centric model is weak on Chinese; what must hold is that Chinese text is scored for real.
    assert report.n == 44 and len(report.table) == 44
    assert report.table["p(正面)"].nunique() > 10
