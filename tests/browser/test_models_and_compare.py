"""Models and Compare in a real Chromium: pick models in the header (local folders of a tiny BERT and a tiny T5
beside the served tiny Llama), preview a cloze template on the BERT and a generation template on the T5, then
compare three templates across the Llama and the T5 and read the grid; every figure in it equals
`promptlab score` on the same rows. The app's model memory (1 MB) holds the Llama and the BERT but not the T5
beside either: the header and Compare say which model was unloaded to make room.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from test_journey import choose, legend, open_tab, retype, set_number, shot, wait_text

pytestmark = pytest.mark.browser

TEMPLATES = ("demo-reviews-sentiment", "demo-reviews-recommend", "demo-reviews-good-bad")
EVAL_ROWS = 16


@pytest.fixture()
def small_memory_app(app_env, serve_app, tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PROMPTLAB_MODEL_MEMORY_MB", "1.0")  # Llama 0.39 MB, BERT 0.40 MB, T5 0.73 MB
    app, url = serve_app(str(tiny_model_dir))
    yield url
    app.close()


def pick_model(page, path) -> None:
    """Type a local model folder into the header's picker and commit it."""
    box = page.locator("#pl-model-pick input")
    box.click()
    box.fill(str(path))
    box.press("Enter")
    page.keyboard.press("Escape")


def write_template(page, name: str, prompt: str, target: str, choices: str) -> None:
    for elem_id, value in (("studio-name", name), ("studio-prompt", prompt), ("studio-target", target),
                           ("studio-choices", choices)):
        retype(page.locator(f"#{elem_id} textarea, #{elem_id} input").first, value or " ")  # " ": empty, typed


def grid_cells(page) -> list[list[str]]:
    """The grid's rows as shown: the header row first, then one row per prompt."""
    return page.evaluate("""() => [...document.querySelectorAll('#compare-grid [role=row]')].map(row =>
        [...row.querySelectorAll('[role=columnheader], [role=gridcell]')].map(c => c.innerText.trim()))""")


def cli_scores(template: str, models, split: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "promptlab.cli", "score", "--template", template, "--data",
                           "demo-reviews", "--split", split, "--limit", str(EVAL_ROWS), *sum((["--model", str(m)]
                                                                                           for m in models), []),
                           "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_pick_models_preview_each_family_and_compare_across_models(small_memory_app, page, tiny_model_dir,
                                                                   tiny_t5_dir, tiny_bert_dir, tmp_path):
    page.goto(small_memory_app)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    set_number(page, "data-eval-size", EVAL_ROWS)
    page.locator("#data-summary").get_by_text(str(EVAL_ROWS)).first.wait_for()
    header = page.locator("#pl-model")
    header.get_by_text("decoder-only (causal LM)").wait_for()

    # A cloze template on the tiny BERT, from its local folder.
    pick_model(page, tiny_bert_dir)
    wait_text(page, "pl-model", "masked LM (cloze)", "cloze templates", "MB of the 1 MB for models")
    open_tab(page, "2 · Template studio")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    write_template(page, "my-cloze", "{{ text }} It was {{ mask }}.",
                   '{{ {"negative": "bad", "positive": "good"}[label] }}', "bad ||| good")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    set_number(page, "studio-rows", 4)
    page.locator("#studio-run").click()
    wait_text(page, "studio-results", "[MASK]", "p(good)")
    assert "accuracy" in page.locator("#studio-metrics").inner_text()
    shot(page, "models-studio-cloze")

    # A generation template on the tiny T5: it does not fit beside the BERT, which is unloaded, as the header says.
    pick_model(page, tiny_t5_dir)
    wait_text(page, "pl-model", "encoder-decoder (seq2seq LM)", f"Unloaded {tiny_bert_dir.name} to make room for "
                                                                f"{tiny_t5_dir.name}.")
    write_template(page, "my-generation", "Review: {{ text }}\nSentiment:", "{{ label }}", "")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    page.locator("#studio-run").click()
    wait_text(page, "studio-metrics", "exact match")
    wait_text(page, "studio-results", "generated")

    # Compare three templates across the Llama and the T5 (Compare's models follow the header: add the Llama).
    open_tab(page, "3 · Compare")
    for name in TEMPLATES:
        choose(page, "compare-pick", name)
    choose(page, "compare-models", str(tiny_model_dir))
    page.locator("#compare-rows-info").get_by_text(f"{EVAL_ROWS} evaluation rows").wait_for()
    page.locator("#compare-run").click()
    wait_text(page, "compare-grid", *TEMPLATES, tiny_model_dir.name, tiny_t5_dir.name)
    wait_text(page, "compare-failures", "to make room for")  # the two do not fit together: said, not hidden
    assert set(legend(page, "compare-chart")) >= set(TEMPLATES)  # bars grouped by model, one per prompt
    wait_text(page, "compare-protocol", "Zero-shot")
    wait_text(page, "compare-significance", "best (reference)")
    page.locator("#compare-models-disagree input").check()
    shot(page, "models-compare")

    # Every number agrees: each (prompt, model) in the grid is `promptlab score` on the same rows.
    split = re.search(r"rows of (\S+)", page.locator("#compare-rows-info").inner_text()).group(1)
    rows = {r[0]: r[1:] for r in grid_cells(page)[1:]}
    header_row = grid_cells(page)[0]
    models = [tiny_model_dir, tiny_t5_dir]
    assert header_row[1:] == [tiny_t5_dir.name, tiny_model_dir.name]  # the T5 was picked first
    for template in TEMPLATES:
        by_model = {m["model"]: m["metrics"]["acc"] for m in cli_scores(template, models, split)}
        shown = dict(zip(header_row[1:], rows[template]))
        for model in models:
            assert shown[model.name] == f"{by_model[str(model)]:.3f}", (template, model.name)

    # A report to send: one HTML file, with the grid.
    with page.expect_download() as download:
        page.locator("#compare-report").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    text = report.read_text(encoding="utf-8")
    assert "Prompts × models" in text and tiny_t5_dir.name in text and "<script src" not in text

    # 中文: the picker's line and Compare's grid speak Chinese.
    page.get_by_text("中文", exact=True).click()
    wait_text(page, "pl-model", "编码器-解码器")
    wait_text(page, "compare-protocol", "零样本")
    shot(page, "models-compare-zh")
