"""The Tune and Runs tabs tell the truth, in a real Chromium on the tiny model: the method keeps the steps typed, the
form estimates the duration, a cancel shows at once, a run stopped before its first checkpoint says it starts over
(before Resume and after), a resumed run's duration leaves out the idle gap, a second run from the same template
shows its baselines at once (measured once, reused), and the Runs tab picks rows by click, names runs, notes them,
cancels and downloads, with run names in the legends."""

from __future__ import annotations

import json
import re
import time
import zipfile

import pytest
from test_journey import choose, open_tab, set_number, wait_text

pytestmark = pytest.mark.browser

def status_text(page) -> str:
    return page.locator("#tune-status").inner_text()


def wait_status(page, pattern: str, timeout: float = 180_000) -> None:
    page.wait_for_function("(re) => new RegExp(re).test(document.querySelector('#tune-status').innerText)",
                           arg=pattern, timeout=timeout)


def watched(page) -> str:
    return page.locator("#tune-watch input").input_value().split(" · ")[0]


def legend(page, elem_id: str) -> list[str]:
    return page.evaluate("""(id) => { const plot = document.querySelector(`#${id} .js-plotly-plot`);
        return plot && plot.data ? plot.data.filter(t => t.showlegend !== false).map(t => t.name) : []; }""",
                         elem_id)


def click_row(page, run_id: str) -> None:
    """Click the Runs table's row of `run_id` (on its template cell, not the id itself)."""
    row = page.locator("#runs-table .virtual-row").filter(has_text=run_id).first
    row.locator(".body-cell").nth(2).click()


def picked(page) -> str:
    return page.locator("#runs-pick").inner_text()


def launch(page) -> str:
    before = watched(page)
    page.locator("#tune-launch").click()
    page.wait_for_function("(old) => { const v = document.querySelector('#tune-watch input').value;"
                           " return v && !v.startsWith(old || '\\u0000'); }", arg=before or "")
    return watched(page)


def test_tune_and_runs_tell_the_truth(tiny_app, app_env, page):
    runs_dir = app_env / "runs"
    page.goto(tiny_app)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    open_tab(page, "4 · Tune")
    wait_text(page, "tune-using", "Template ", " · data ", timeout=30_000)
    template = re.match(r"Template (.+?) · data", page.locator("#tune-using").inner_text()).group(1)

    # The form: a preset, then the method changes the learning rate only (steps and batch stay as typed).
    choose(page, "tune-preset", "tiny smoke test")
    page.wait_for_function("() => document.querySelector('#tune-steps input').value === '4'")
    set_number(page, "tune-steps", 6)
    choose(page, "tune-method", "prefix tuning (deep prompts, P-tuning v2)")
    choose(page, "tune-method", "prompt tuning")
    page.wait_for_timeout(500)
    assert page.locator("#tune-steps input").input_value() == "6"
    set_number(page, "tune-tokens", 4)
    page.locator("#tune-more").get_by_text("More settings").click()
    set_number(page, "tune-eval-size", 8)
    set_number(page, "tune-eval-every", 3)
    wait_text(page, "tune-estimate", "Estimated duration", "for 6 steps", timeout=30_000)

    # Launched and cancelled at once: the status says so before the worker has even loaded the model.
    first = launch(page)
    page.locator("#tune-cancel").click()
    wait_status(page, "stopping…|cancelled", timeout=15_000)
    wait_status(page, "cancelled")
    info = json.loads((runs_dir / first / "status.json").read_text())
    assert info["status"] == "cancelled" and not (runs_dir / first / "checkpoints").exists()
    # It had been stopped an hour ago after ten seconds of work (the files as such a run leaves them).
    now = time.time()
    (runs_dir / first / "status.json").write_text(json.dumps({**info, "started": now - 3600, "finished": now - 3590,
                                                              "active_seconds": 10.0, "step": 2}))

    # Runs: click its row; Resume says beforehand that it starts over at step 0, and the toast says it after.
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", first, timeout=15_000)
    click_row(page, first)
    page.wait_for_function("(id) => document.querySelector('#runs-pick').innerText.includes(id)", arg=first)
    wait_text(page, "runs-actions-info", "starts over at step 0", timeout=15_000)
    page.locator("#runs-name input, #runs-name textarea").first.fill("first try")
    page.locator("#runs-note textarea").fill("cancelled at once, then resumed")
    page.locator("#runs-save-notes").click()
    wait_text(page, "runs-table", "first try", "cancelled at once, then resumed", timeout=15_000)
    page.locator("#runs-resume").click()
    toast = page.locator("[data-testid='toast-body']").filter(has_text="restarted at step 0").first
    toast.wait_for(timeout=15_000)

    open_tab(page, "4 · Tune")
    choose(page, "tune-watch", f"{first} · first try")
    wait_status(page, "restarted at step 0", timeout=30_000)
    wait_status(page, "done")
    assert "best evaluation, step" in status_text(page)  # which adapter the downloads hold

    # The duration: ten seconds before the stop plus the resumed session, not the idle hour in between.
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", "first try", timeout=15_000)
    row = page.locator("#runs-table .virtual-row").filter(has_text=first).first.inner_text()
    assert re.search(r"\b\d+ s\b|\b[1-9] min", row) and " h " not in row, row

    # A second run from the same template: its baselines were measured by the first and show at once.
    open_tab(page, "4 · Tune")
    set_number(page, "tune-lr", 0.05)  # other soft-prompt settings: the baselines do not depend on them
    second = launch(page)
    wait_status(page, "baselines reused|done", timeout=15_000)
    page.wait_for_function("() => { const p = document.querySelector('#tune-accuracy .js-plotly-plot');"
                           " return p && p.data && p.data.some(t => (t.name || '').startsWith('zero-shot')); }",
                           timeout=15_000)
    log = (runs_dir / second / "log.txt").read_text() if (runs_dir / second / "log.txt").exists() else ""
    assert "baseline zero-shot" not in log  # never measured again
    wait_status(page, "done")

    # Runs: both picked by clicking; the overlay's legend names them; downloads of the first.
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", second, timeout=15_000)
    click_row(page, second)
    page.wait_for_function("(id) => document.querySelector('#runs-pick').innerText.includes(id)", arg=second)
    page.wait_for_function("() => { const p = document.querySelector('#runs-overlay .js-plotly-plot');"
                           " return p && p.data && p.data.filter(t => t.showlegend !== false).length === 2; }")
    names = legend(page, "runs-overlay")
    assert names[0] == "first try" and names[1].startswith(f"{template} · prompt tuning · "), names
    assert not any(first in n or second in n for n in names)
    with page.expect_download() as download:
        page.locator("#runs-download-adapter").click()
    with zipfile.ZipFile(download.value.path()) as z:
        assert z.read("README.md").decode().startswith("# PromptLab soft prompt: first try")

    # Cancel from the Runs tab.
    open_tab(page, "4 · Tune")
    set_number(page, "tune-steps", 5000)
    third = launch(page)
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", third, timeout=15_000)
    click_row(page, first)  # unpick the others: one run in view
    click_row(page, second)
    click_row(page, third)
    page.wait_for_function("(id) => document.querySelector('#runs-pick').innerText.includes(id)", arg=third)
    page.locator("#runs-cancel").click()
    page.locator("[data-testid='toast-body']").filter(has_text="Stopping 1 run").first.wait_for(timeout=15_000)
    for _ in range(120):
        if json.loads((runs_dir / third / "status.json").read_text())["status"] == "cancelled":
            break
        page.wait_for_timeout(500)
    else:
        pytest.fail("the run cancelled in the Runs tab did not stop")
    page.wait_for_function("(id) => [...document.querySelectorAll('#runs-table .virtual-row')].some("
                           "r => r.innerText.includes(id) && r.innerText.includes('cancelled'))", arg=third,
                           timeout=30_000)
