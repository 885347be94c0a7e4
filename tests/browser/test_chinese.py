"""The whole journey in 中文, in a real Chromium: after the switch no English is left on any tab.

Chinese demo data and a Chinese template, so that every Latin word on the page is either a name (a column, a label,
a template, the model, a run) or a word that the Chinese texts themselves keep (PEFT, YAML, ROUGE-L, ...). Each tab is
read as a visitor sees it: its visible text, its toasts, its plots' texts; code (rendered prompts, YAML) is the
template's own and is not read. With PROMPTLAB_SCREENSHOTS set, each tab is saved as `<tab>-zh.png`.
"""

from __future__ import annotations

import re
import time

import pytest
from test_journey import choose, open_tab, retype, set_number, shot, wait_text

from promptlab import messages
from promptlab.models.registry import DEFAULT_MODEL
from promptlab.ui import i18n

pytestmark = pytest.mark.browser

TEMPLATE = "demo-reviews-zh-sentiment"
BROKEN = "评论：{{ txet }}"  # a misspelt column; it ends in a key that is typed (gradio follows key presses)
LATIN = re.compile(r"[A-Za-z][A-Za-z]+")
# The journey's own names: the data's columns and labels, its task and templates, the broken placeholder.
NAMES = {"text", "label", "product", "negative", "positive", "demo", "reviews", "zh", "sentiment", "recommend",
         "txet", "train", "validation", "soft", "prompt"}
# Gradio's own frame, not a text of ours: its footer link names its product.
GRADIO = {"Gradio", "API"}
# The language picker names each language in itself.
LANGUAGE_NAMES = {"English"}

VISIBLE_TEXT = """() => {
  // code is the template's own; the nearest-token table lists the model's vocabulary
  const skip = 'pre, code, textarea, script, style, .cm-editor, input, #tune-nearest [role=gridcell]';
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest(skip)) continue;
    // gradio announces events to screen readers by its keys; a key it has no text for shows as the key itself
    if (el.closest('[aria-live]') && /^[a-z_]+\\.[a-z_]+$/.test(node.textContent.trim())) continue;
    if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (el.checkVisibility() && !el.value) texts.push(el.placeholder);
  }
  return texts.join('\\n');
}"""


def allowed_words(model: str) -> set[str]:
    """Latin words the Chinese texts themselves use (names kept in both languages), and this journey's names."""
    words = set(NAMES) | GRADIO | LANGUAGE_NAMES | set(LATIN.findall(model))
    for _, chinese in [*i18n.STRINGS.values(), *messages.CATALOGUE.values()]:
        words |= set(LATIN.findall(re.sub(r"\{[^}]*\}", "", chinese)))
    return {w.lower() for w in words}


def english_left(page, allowed: set[str], run_ids=()) -> list[str]:
    """The visible lines that hold a Latin word not allowed."""
    text = page.evaluate(VISIBLE_TEXT)
    for run_id in run_ids:
        text = text.replace(run_id, "")
    return [line.strip() for line in text.splitlines()
            if any(word.lower() not in allowed for word in LATIN.findall(line))]


def check_tab(page, allowed, name: str, run_ids=(), screenshot: bool = True) -> None:
    page.wait_for_timeout(300)  # the last update painted
    left = english_left(page, allowed, run_ids)
    if screenshot:
        shot(page, f"{name}-zh")
    assert not left, f"English left on the {name} tab in 中文: {left}"


def chinese_browser(browser):
    """A Chinese reader's browser: gradio's own texts (the upload box, "Loading...") follow the browser's language,
    ours the page's switch."""
    return browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")


@pytest.fixture
def page(browser):
    context = chinese_browser(browser)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_every_tab_speaks_chinese(tiny_app, tiny_model_dir, page):
    chinese_journey(page, tiny_app, str(tiny_model_dir), job_timeout=240)


@pytest.mark.slow
def test_every_tab_speaks_chinese_on_the_bundled_model(app_env, browser, serve_app, tmp_path, monkeypatch):
    """The same on the bundled SmolLM2; with PROMPTLAB_SCREENSHOTS=docs/screenshots, the README's 中文 screenshots."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    app, url = serve_app(None)
    context = chinese_browser(browser)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        chinese_journey(page, url, DEFAULT_MODEL, job_timeout=900)
    finally:
        context.close()
        app.close()


def chinese_journey(page, url: str, model: str, *, job_timeout: float) -> None:
    allowed = allowed_words(model)
    page.goto(url)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    started = time.perf_counter()
    page.get_by_text("中文", exact=True).click()
    page.get_by_role("tab", name="1 · 数据").wait_for()
    page.locator("#data-use-demo").get_by_text("使用演示任务").wait_for()
    print(f"language switch on an opened page: {time.perf_counter() - started:.2f} s")

    # Data: the Chinese demo task, then a load that fails says why in 中文 and keeps the data loaded.
    choose(page, "data-demo", "demo-reviews-zh")
    page.locator("#data-use-demo").click()
    wait_text(page, "data-summary", "demo-reviews-zh")
    set_number(page, "data-eval-size", 16)
    check_tab(page, allowed, "data")
    page.locator("#data-source textarea, #data-source input").first.fill("/不存在/评论.csv")
    page.locator("#data-load").click()
    toast = page.locator(".toast-body").first
    toast.wait_for()
    assert re.search(r"[\u4e00-\u9fff]", toast.inner_text()), toast.inner_text()
    check_tab(page, allowed, "data-error", screenshot=False)
    page.locator(".toast-close").first.click()
    wait_text(page, "data-summary", "demo-reviews-zh")

    # Studio: a template problem and a preview.
    open_tab(page, "2 · 模板工作室")
    choose(page, "studio-library", TEMPLATE)
    page.locator("#studio-load").click()
    prompt = page.locator("#studio-prompt textarea")
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.startsWith('商品')")
    retype(prompt, BROKEN)
    wait_text(page, "studio-problems", "txet")
    check_tab(page, allowed, "studio-problem", screenshot=False)
    page.locator("#studio-load").click()  # the template as shipped again
    page.locator("#studio-problems").get_by_text("没有问题").wait_for()
    set_number(page, "studio-rows", 4)
    page.locator("#studio-run").click()
    wait_text(page, "studio-metrics", "准确率")
    check_tab(page, allowed, "studio")

    # Compare: the template and a broken draft, which fails alone.
    retype(prompt, BROKEN)
    wait_text(page, "studio-problems", "txet")
    open_tab(page, "3 · 对比")
    choose(page, "compare-pick", TEMPLATE)
    choose(page, "compare-pick", i18n.t("compare.draft", "zh"))
    page.locator("#compare-run").click()
    wait_text(page, "compare-metrics", TEMPLATE)
    wait_text(page, "compare-failures", "txet")
    page.wait_for_function("() => document.querySelector('#compare-chart .js-plotly-plot')")
    check_tab(page, allowed, "compare")
    open_tab(page, "2 · 模板工作室")
    page.locator("#studio-load").click()
    page.locator("#studio-problems").get_by_text("没有问题").wait_for()

    # Tune: a tiny run to its end.
    open_tab(page, "4 · 训练")
    choose(page, "tune-preset", i18n.t("preset.test", "zh"))
    set_number(page, "tune-tokens", 4)
    page.locator("#tune-launch").click()
    wait_text(page, "tune-status", i18n.t("status.done", "zh"), timeout=job_timeout * 1000)
    page.wait_for_function("() => document.querySelector('#tune-accuracy .js-plotly-plot')")
    run_id = page.locator("#tune-watch input").input_value().split(" · ")[0]
    check_tab(page, allowed, "tune", [run_id])

    # Runs: the run listed and opened.
    open_tab(page, "5 · 运行记录")
    wait_text(page, "runs-table", run_id)
    choose(page, "runs-pick", f"{run_id} · {i18n.t('status.done', 'zh')}")
    page.wait_for_function("() => document.querySelector('#runs-overlay .js-plotly-plot')")
    check_tab(page, allowed, "runs", [run_id])

    # The switch on this full page (a comparison, a preview, a run shown): relabelled and re-rendered in one event.
    for lang, code, tab in (("English", "en", "5 · Runs"), ("中文", "zh", "5 · 运行记录")):
        started = time.perf_counter()
        page.get_by_text(lang, exact=True).click()
        page.get_by_role("tab", name=tab).wait_for()
        wait_text(page, "compare-metrics", i18n.t("metric.acc", code))  # results re-rendered, not only labels
        wait_text(page, "tune-status", i18n.t("status.done", code))  # the Tune dashboard in the same event
        print(f"language switch to {lang} on a full page: {time.perf_counter() - started:.2f} s")
