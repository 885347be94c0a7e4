"""The app used as a person would: a real Chromium clicks through the whole journey.

open -> pick the demo task -> break a template and see the problem, fix it -> preview 8 rows -> compare two
templates and a broken draft (it fails alone) -> launch a tiny tuning job -> the plot gains points, with the
baseline lines -> other data is loaded -> the run is done in Runs -> its bundle loads with plain PEFT from its
card's lines -> score it in Compare (on its own rows, beside its hard prompt) -> switch to 中文.

Runs on the tiny random model (seconds); `test_journey_bundled_model` repeats it on the bundled SmolLM2 (slow) and,
with PROMPTLAB_SCREENSHOTS=docs/screenshots, saves the README's screenshots of every tab.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

TEMPLATE = "demo-reviews-sentiment"
OTHER_TEMPLATE = "demo-reviews-recommend"
SCREENSHOTS = os.environ.get("PROMPTLAB_SCREENSHOTS")


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in the gradio dropdown `#elem_id` (single or multiselect)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill("")
    box.press_sequentially(option)  # filters the list, so the option is in view (long lists scroll)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def retype(box, text: str) -> None:
    """Replace a textbox's text the way typing does (gradio's `input` event follows key presses, not fill())."""
    box.fill(text[:-1])
    box.press_sequentially(text[-1])


def set_number(page, elem_id: str, value) -> None:
    """Type into a slider's or number's box and commit it (gradio reads it on blur)."""
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def wait_text(page, elem_id: str, *texts: str, timeout: float = 120_000) -> None:
    """Wait until the element shows every text (tables keep hidden copies of cells, so locators can mislead)."""
    page.wait_for_function("([id, texts]) => { const el = document.querySelector(`#${id}`);"
                           " return !!el && texts.every(t => el.innerText.includes(t)); }",
                           arg=[elem_id, list(texts)], timeout=timeout)


def plot_points(page, elem_id: str, trace_name: str) -> int:
    """Points drawn for a named trace in a plotly figure (read from the figure's data in the page)."""
    return page.evaluate(
        """([id, name]) => {
            const plot = document.querySelector(`#${id} .js-plotly-plot`);
            if (!plot || !plot.data) return -1;
            const trace = plot.data.find(t => t.name === name);
            return trace ? (trace.x || []).length : -1;
        }""", [elem_id, trace_name])


def legend(page, elem_id: str) -> list[str]:
    return page.locator(f"#{elem_id} .legendtext").evaluate_all("els => els.map(e => e.textContent)")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(800)  # let plotly finish its transition
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def load_with_plain_peft(bundle_zip) -> None:
    """Unzip a downloaded run bundle and run its card's Python lines in a fresh interpreter, as a stranger would:
    plain transformers + peft, nothing of PromptLab."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    folder = Path(tempfile.mkdtemp(prefix="bundle-"))
    with zipfile.ZipFile(bundle_zip) as z:
        z.extractall(folder)
    code = re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(), re.S).group(1)
    check = "\nprint(type(model).__name__, model.peft_config['default'].peft_type)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code + check], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["PeftModelForCausalLM", "PeftType.PROMPT_TUNING"], out.stdout


def journey(page, url: str, *, job_timeout: float, watch_growth: bool = True, plain_peft: bool = True) -> None:
    page.goto(url)
    # The page opens ready: demo task loaded.
    summary = page.locator("#data-summary")
    summary.get_by_text("demo-reviews").wait_for()
    # Pick the Chinese demo, then the English one again: each load shows a change to wait for (reloading what is
    # shown changes nothing, and an eval size typed before that load answers would be reset by it).
    for task, loaded in (("demo-reviews-zh", "data => data.includes('demo-reviews-zh')"),
                         ("demo-reviews", "data => !data.includes('demo-reviews-zh')")):
        choose(page, "data-demo", task)
        page.locator("#data-use-demo").click()
        page.wait_for_function(f"() => ({loaded})(document.querySelector('#data-summary').innerText)")
    set_number(page, "data-eval-size", 16)   # a small eval subset keeps the tuning job's evaluations quick
    page.locator("#data-summary").get_by_text("16").first.wait_for()
    shot(page, "data")

    # Template studio: break a placeholder, see the problem, fix it.
    open_tab(page, "2 · Template studio")
    problems = page.locator("#studio-problems")
    problems.get_by_text("No problems").wait_for()  # the page opened with a template for the task
    choose(page, "studio-library", TEMPLATE)
    page.locator("#studio-load").click()
    prompt = page.locator("#studio-prompt textarea")
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.startsWith('Product:')")
    good = prompt.input_value()
    retype(prompt, good.replace("{{ text }}", "{{ txet }}"))
    problems.get_by_text("Unknown column 'txet'").wait_for()
    assert "Did you mean 'text'" in problems.inner_text()
    retype(prompt, good)
    problems.get_by_text("No problems").wait_for()
    assert "Review:" in page.locator("#studio-rendered").inner_text()

    # Preview 8 rows zero-shot: metrics above a per-row table with per-choice probabilities.
    set_number(page, "studio-rows", 8)
    page.locator("#studio-run").click()
    page.locator("#studio-metrics").get_by_text("accuracy").wait_for(timeout=120_000)
    assert "8 rows" in page.locator("#studio-metrics").inner_text()
    results = page.locator("#studio-results")
    assert results.get_by_text("p(positive)").count() >= 1
    shot(page, "studio")

    # Compare two templates and a broken draft: the broken one fails alone, by name, and the others are scored.
    retype(prompt, good.replace("{{ text }}", "{{ txet }}"))
    problems.get_by_text("Unknown column 'txet'").wait_for()
    open_tab(page, "3 · Compare")
    choose(page, "compare-pick", TEMPLATE)
    choose(page, "compare-pick", OTHER_TEMPLATE)
    choose(page, "compare-pick", "✎ current draft (studio)")
    page.locator("#compare-rows-info").get_by_text("16 evaluation rows").wait_for()  # the Data tab's subset
    page.locator("#compare-run").click()
    wait_text(page, "compare-metrics", TEMPLATE, OTHER_TEMPLATE)
    wait_text(page, "compare-failures", f"{TEMPLATE} (draft)", "txet")  # named as the draft, with its problem
    assert "(draft)" not in page.locator("#compare-metrics").inner_text()
    page.wait_for_function("() => document.querySelector('#compare-chart .js-plotly-plot')")
    assert set(legend(page, "compare-chart")) >= {"accuracy", "macro-F1"}  # metrics by their shown names
    page.locator("#compare-disagree input").check()
    shot(page, "compare")
    open_tab(page, "2 · Template studio")
    retype(prompt, good)
    problems.get_by_text("No problems").wait_for()

    # Tune: a tiny job; the dashboard gains points, with the manual prompts' lines drawn.
    open_tab(page, "4 · Tune")
    page.locator("#tune-using").get_by_text(TEMPLATE).wait_for()
    choose(page, "tune-preset", "tiny smoke test")
    set_number(page, "tune-tokens", 4)
    page.locator("#tune-launch").click()
    status = page.locator("#tune-status")
    status.get_by_text(re.compile("queued|running|done")).wait_for(timeout=30_000)
    seen, deadline = [], time.time() + job_timeout
    while time.time() < deadline:
        seen.append(plot_points(page, "tune-accuracy", "soft prompt"))
        if "done" in status.inner_text():
            break
        if "failed" in status.inner_text() or "interrupted" in status.inner_text():
            pytest.fail(f"tuning job ended badly: {status.inner_text()}")
        page.wait_for_timeout(1000)
    else:
        pytest.fail(f"tuning job not done after {job_timeout}s: {status.inner_text()}")
    final = 0
    for _ in range(20):  # the last redraw after "done" replaces the plot: wait for it
        page.wait_for_timeout(500)
        final = plot_points(page, "tune-accuracy", "soft prompt")
        if final >= 2:
            break
    assert final >= 2 and all(p <= final for p in seen), (seen, final)
    drawn_while_running = [p for p in seen[:-1] if p >= 0]  # the last poll saw "done"
    if watch_growth and drawn_while_running:  # a job may end before the first poll: then there was no growth to see
        assert min(drawn_while_running) < final, (seen, final)
    names = " ".join(legend(page, "tune-accuracy"))
    assert "zero-shot" in names and "few-shot" in names and "majority class" in names, names
    run_id = page.locator("#tune-watch input").input_value().split(" · ")[0]
    shot(page, "tune")

    # Other data is loaded now; the run is still scored on its own (the rows its curves were measured on).
    open_tab(page, "1 · Data")
    choose(page, "data-demo", "demo-reviews-zh")
    page.locator("#data-use-demo").click()
    page.wait_for_function("() => document.querySelector('#data-summary').innerText.includes('demo-reviews-zh')")

    # Runs: the run is listed as done; open it, download its bundle, then score it in Compare.
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", run_id, "done", timeout=15_000)
    choose(page, "runs-pick", f"{run_id} · done")
    page.wait_for_function("() => document.querySelector('#runs-overlay .js-plotly-plot')")
    shot(page, "runs")
    with page.expect_download() as download:
        page.locator("#runs-download-bundle").click()
    if plain_peft:  # the bundled model's card names its Hub model, which an offline machine cannot download
        load_with_plain_peft(download.value.path())
    page.locator("#runs-to-compare").click()
    wait_text(page, "compare-metrics", run_id, f"{TEMPLATE} [{run_id}]")  # the soft prompt beside its hard prompt
    assert page.get_by_role("tab", name="3 · Compare").get_attribute("aria-selected") == "true"
    rows_info = page.locator("#compare-rows-info").inner_text()
    assert "demo-reviews" in rows_info and "demo-reviews-zh" not in rows_info, rows_info

    # 中文: every tab and button relabelled.
    page.get_by_text("中文", exact=True).click()
    page.get_by_role("tab", name="1 · 数据").wait_for()
    for label in ("2 · 模板工作室", "3 · 对比", "4 · 训练", "5 · 运行记录"):
        assert page.get_by_role("tab", name=label).count() == 1
    assert page.get_by_role("button", name="开始对比").count() == 1
    open_tab(page, "2 · 模板工作室")
    page.locator("#studio-problems").get_by_text("没有问题").wait_for()


def test_journey_tiny_model(tiny_app, page):
    journey(page, tiny_app, job_timeout=240)


@pytest.mark.slow
def test_journey_bundled_model(app_env, browser, serve_app, tmp_path, monkeypatch):
    """The same journey on the bundled SmolLM2-135M (minutes on CPU); also refreshes the README screenshots."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))  # not the tiny journey's runs: a fresh app
    app, url = serve_app(None)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        journey(page, url, job_timeout=900, watch_growth=False, plain_peft=False)
    finally:
        context.close()
        app.close()
