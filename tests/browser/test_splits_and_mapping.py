"""Upload a single CSV (a validation split is held out of it, and the tab says what happens without one), then load a
library template written for other column names: the Studio maps its placeholders to the data's columns, the
visitor changes one, and Compare offers only the templates that fit, the mapped ones marked."""

from __future__ import annotations

import csv

import pytest
from test_journey import choose, open_tab, shot, wait_text

pytestmark = pytest.mark.browser


def write_reviews(path):
    """60 reviews in one file: `review` (long text), `product` (short text), `sentiment` (the label), 1 in 3
    positive."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "product", "sentiment"])
        for i in range(60):
            good = i % 3 == 0
            writer.writerow([f"{'Loved' if good else 'Hated'} it: an honest, fairly long review, number {i}",
                             f"kettle {i % 4}", "positive" if good else "negative"])
    return path


def test_upload_a_single_csv_then_map_a_templates_columns(tiny_app, page, tmp_path):
    page.goto(tiny_app)
    summary = page.locator("#data-summary")
    summary.get_by_text("demo-reviews").wait_for()
    assert not page.locator("#data-holdout").is_visible()  # the demo has splits of its own

    # Upload one file: a stratified validation split is held out of it, on by default.
    page.locator("#data-upload input[type=file]").set_input_files(str(write_reviews(tmp_path / "kettles.csv")))
    wait_text(page, "data-summary", "kettles", "Validation split", "12 of 60 rows held out for scoring (20%")
    text = summary.inner_text()
    assert "the other 48 are for demonstrations and tuning" in text and "⚠" not in text
    assert page.locator("#data-holdout input").is_checked()
    assert page.locator("#data-eval-size input[type=number]").first.input_value() == "12"
    shot(page, "data-holdout")

    # Without it, the rows scored are the demonstration rows: the tab says so.
    page.locator("#data-holdout input").uncheck()
    wait_text(page, "data-summary", "The rows scored are also the demonstration rows")
    shot(page, "data-overlap")
    page.locator("#data-holdout input").check()
    wait_text(page, "data-summary", "12 of 60 rows held out")
    assert "⚠" not in summary.inner_text()

    # Load a template written for SST-2 (sentence, label): mapped to review and sentiment, and shown mapped.
    open_tab(page, "2 · Template studio")
    choose(page, "studio-library", "sst2-review-sentiment")
    page.locator("#studio-load").click()
    prompt = page.locator("#studio-prompt textarea")
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.includes('{{ review }}')")
    assert page.locator("#studio-target textarea, #studio-target input").first.input_value() == "{{ sentiment }}"
    wait_text(page, "studio-mapping-note", "Mapped to this data's columns", "sentence", "review")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    assert "Hated it: an honest" in page.locator("#studio-rendered").inner_text()
    shot(page, "studio-mapped")

    # The visitor picks another column for {{ sentence }} and applies it: the editor shows what will be scored.
    choose(page, "studio-map-1", "product")
    page.locator("#studio-map-apply").click()
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.includes('{{ product }}')")
    wait_text(page, "studio-rendered", "Review: kettle")
    assert "{{ sentence }}" not in prompt.input_value()

    # Compare offers the templates that fit this data, the mapped ones marked, and not the others.
    open_tab(page, "3 · Compare")
    box = page.locator("#compare-pick input")
    box.click()
    page.get_by_role("option", name="sst2-review-sentiment (mapped: label → sentiment, sentence → review)",
                     exact=True).wait_for()
    options = page.get_by_role("option").all_inner_texts()
    assert not any(option.startswith(("emotion-", "ag-news-", "rte-")) for option in options), options
    shot(page, "compare-fitting")
    page.keyboard.press("Escape")

    # 中文: the section and the marks are translated.
    page.locator("#pl-lang").get_by_text("中文").click()
    open_tab(page, "2 · 模板工作室")
    wait_text(page, "studio-mapping-note", "已映射到此数据的列")
    shot(page, "studio-mapped-zh")
    open_tab(page, "1 · 数据")
    wait_text(page, "data-summary", "验证集")
    shot(page, "data-holdout-zh")
