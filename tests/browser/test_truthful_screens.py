"""Every screen tells the truth: what the editor shows is what is scored; a failed load says so once and the page
keeps showing the data still in use."""

from __future__ import annotations

import time

import pytest
from test_journey import open_tab, wait_text

from promptlab.prompts import render

pytestmark = pytest.mark.browser


def test_preview_scores_what_the_editor_shows_while_the_live_check_lags(tiny_app, page, monkeypatch):
    page.goto(tiny_app)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    open_tab(page, "2 · Template studio")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    real = render.validate

    def slow_validate(*args, **kwargs):  # a loaded server: each live check takes 1.5 s
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "validate", slow_validate)
    prompt = page.locator("#studio-prompt textarea")
    prompt.click()
    prompt.press("End")
    page.keyboard.type("\n答案：", delay=60)  # typed at a person's pace, faster than the checks answer
    page.locator("#studio-run").click()
    wait_text(page, "studio-results", "答案：")
    typed = prompt.input_value()
    shown = page.locator("#studio-results").inner_text()
    assert typed.endswith("\n答案：") and "答案：" in shown


def test_a_failed_load_says_so_once_and_the_data_in_use_stays_shown(tiny_app, page):
    page.goto(tiny_app)
    summary = page.locator("#data-summary")
    summary.get_by_text("demo-reviews").wait_for()
    source = page.locator("#data-source textarea, #data-source input").first
    source.fill("/nowhere/missing.csv")
    page.locator("#data-load").click()
    toast = page.locator("[data-testid='toast-body']").first
    toast.wait_for()
    assert "missing.csv" in toast.inner_text() and "Still using demo-reviews" in toast.inner_text()
    page.wait_for_timeout(500)
    tab = page.locator("#tab-data").inner_text()
    assert "Error" not in tab.split("\n")  # no error badge covering the tab
    assert "demo-reviews" in summary.inner_text() and page.locator("#data-preview").get_by_text("label").count()
