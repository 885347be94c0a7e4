"""The template library in a real Chromium (issue 13, item 4 and "Library management"): a shipped template cannot be
overwritten, saving over your own asks first, a saved template is listed on a new page (it used to need a server
restart), a YAML file loads into the editor, a PromptSource templates.yaml imports, and your templates are renamed
and deleted. With PROMPTLAB_SCREENSHOTS=DIR, screenshots of the library in English and 中文."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_journey import choose, open_tab, retype

pytestmark = pytest.mark.browser

SHIPPED = "demo-reviews-sentiment"
SCREENSHOTS = os.environ.get("PROMPTLAB_SCREENSHOTS")
PROMPTSOURCE = """\
dataset: glue
subset: sst2
templates:
  a1: !Template
    answer_choices: negative ||| positive
    jinja: '{{text}} Was that sentence positive or negative? ||| {{ answer_choices[label] }}'
    name: positive negative after
  b2: !Template
    answer_choices: bad ||| good
    jinja: '{% if text %}Someone said "{{text}}". Good or bad? ||| {{ answer_choices[label] }}{% endif %}'
    name: good or bad
"""


def studio(page, url: str) -> None:
    page.goto(url)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    open_tab(page, "2 · Template studio")
    page.locator("#studio-problems").get_by_text("No problems").wait_for()
    page.locator("#studio-library-info").get_by_text("shipped templates (read-only)").wait_for()


def options(page, elem_id: str) -> list[str]:
    """The options a dropdown offers (opened, read, closed)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill("")
    page.get_by_role("option").first.wait_for()
    texts = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [text.strip() for text in texts]


def save(page) -> None:
    accordion = page.locator("#studio-save")
    if not accordion.is_visible():
        page.get_by_text("Save", exact=True).first.click()  # open the Save accordion
    page.locator("#studio-save").click()


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def test_library_journey(tiny_app, page, browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_USER_TEMPLATES", str(tmp_path / "mine"))  # the served app reads it per request
    shipped_file = Path(os.environ["PROMPTLAB_TEMPLATES"]) / f"{SHIPPED}.yaml"
    shipped_before = shipped_file.read_bytes()
    studio(page, tiny_app)

    # A shipped template is read-only: saving over it is refused, the file stays as it was.
    choose(page, "studio-library", SHIPPED)
    page.locator("#studio-library-info").get_by_text("is a shipped template: read-only").wait_for()
    page.locator("#studio-load").click()
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.startsWith('Product:')")
    prompt = page.locator("#studio-prompt textarea")
    retype(prompt, "Changed! " + prompt.input_value())
    save(page)
    page.get_by_text("shipped templates are read-only: save under another name").first.wait_for()
    assert shipped_file.read_bytes() == shipped_before

    # Under a new name it is yours; saving over yours asks first.
    retype(page.locator("#studio-name textarea"), "my-copy")
    save(page)
    page.locator("#studio-saved").get_by_text("Saved to your library as my-copy").wait_for()
    retype(prompt, "Twice " + prompt.input_value())
    save(page)
    page.locator("#studio-saved").get_by_text("You already have a template named my-copy. Overwrite it?").wait_for()
    shot(page, "studio-overwrite-en")
    assert "Twice" not in (tmp_path / "mine" / "my-copy.yaml").read_text(encoding="utf-8")
    page.locator("#studio-overwrite").click()
    page.locator("#studio-saved").get_by_text("Saved to your library as my-copy").wait_for()
    assert "Twice" in (tmp_path / "mine" / "my-copy.yaml").read_text(encoding="utf-8")
    assert not page.locator("#studio-overwrite").is_visible()

    # A new page lists it (the list was fixed when the server started).
    second = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    studio(second, tiny_app)
    assert "my-copy · yours" in options(second, "studio-library")
    assert SHIPPED in options(second, "studio-library")

    # Import a PromptSource file: all its templates into the library, one into the editor.
    source = tmp_path / "templates.yaml"
    source.write_text(PROMPTSOURCE, encoding="utf-8")
    second.locator("input[type=file][accept*='.yaml']").set_input_files(str(source))  # "Import YAML…"
    second.locator("#studio-library-message").get_by_text("2 PromptSource templates for sst2").wait_for()
    assert "label: negative, positive" in second.locator("#studio-library-message").inner_text()
    shot(second, "studio-import-en")
    choose(second, "studio-imported-pick", "sst2-good-or-bad")
    second.locator("#studio-imported-load").click()
    second.wait_for_function("() => document.querySelector('#studio-name textarea').value === 'sst2-good-or-bad'")
    second.locator("#studio-problems").get_by_text("No problems").wait_for()  # label names: read as numbers
    assert "⟦ good⟧" in second.locator("#studio-rendered").inner_text() or \
        "⟦ bad⟧" in second.locator("#studio-rendered").inner_text()
    second.locator("#studio-imported-all").click()
    second.locator("#studio-library-message").get_by_text("Imported 2 template(s) into your library").wait_for()
    shot(second, "studio-library-en")

    # Rename and delete yours.
    choose(second, "studio-library", "my-copy · yours")
    second.locator("#studio-manage").get_by_text("Manage your templates").click()
    retype(second.locator("#studio-new-name textarea"), "my-best")
    second.locator("#studio-rename").click()
    second.locator("#studio-library-message").get_by_text("Renamed my-copy to my-best").wait_for()
    second.locator("#studio-delete").click()
    second.locator("#studio-library-message").get_by_text("Delete your template my-best?").wait_for()
    second.locator("#studio-confirm-delete").click()
    second.locator("#studio-library-message").get_by_text("Deleted my-best").wait_for()
    assert sorted(p.name for p in (tmp_path / "mine").glob("*.yaml")) == ["sst2-good-or-bad.yaml",
                                                                          "sst2-positive-negative-after.yaml"]

    # 中文: the list marks yours in Chinese, the info and the buttons are translated.
    second.locator("#pl-lang").get_by_text("中文").click()
    second.locator("#studio-library-info").get_by_text("个内置模板（只读）").wait_for()
    second.wait_for_function("() => !document.querySelector('#studio-library-message').innerText.includes('Deleted')")
    assert "sst2-good-or-bad · 我的" in options(second, "studio-library")
    for label in ("导入 YAML……", "管理我的模板", "文件中的模板", "全部导入我的模板库", "重命名", "删除……"):
        second.get_by_text(label, exact=True).first.wait_for()  # the page's labels switch in their own event
    shot(second, "studio-library-zh")
    second.context.close()
