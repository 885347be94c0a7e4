"""Nothing a visitor, a dataset, a template or a run carries can script another visitor's page.

A real Chromium visits every tab of the app while it shows a dataset, a library template and a run folder whose
every text (folder and split names, column names, cells, labels, template name and text, run error, data name,
config values, baseline names, nearest tokens, log) carries marker payloads: an `<img onerror>` and a `<script>`
that set `window.__pwned`, a markdown image and an `<img src>` pointing at a local pixel server that counts hits,
a `javascript:` markdown link and an `<a href>`. The markers must never run, no image or link may reach the pixel
server, no such link may exist in the page, and each text must be readable as typed.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

pytestmark = pytest.mark.browser

RUN_ID = "20200101-000000-prompt-tuning-beef"


class Pixel:
    """A local HTTP server standing in for a tracker: it records every path a page asks it for."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def marks(where: str, port: int) -> str:
    """Every payload kind, tagged with where it was planted (so a leak names its source)."""
    return (f"<img src=x onerror=\"window.__pwned='{where}'\">"
            f"<script>window.__pwned='{where}-script'</script>"
            f"![px](http://127.0.0.1:{port}/{where}.png)"
            f"<img src=\"http://127.0.0.1:{port}/{where}-img.png\">"
            f"[go](javascript:window.__pwned='{where}-link')"
            f"<a href=\"http://127.0.0.1:{port}/{where}-a\">{where}</a>")


def shown(text: str, where: str) -> bool:
    """The marker planted at `where` reads as text (its tags visible, not interpreted)."""
    return "<img src=x onerror=" in text and "<script>" in text and f"/{where}.png)" in text


@pytest.fixture(scope="module")
def pixel():
    server = Pixel()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hostile(app_env, serve_app, tiny_model_dir, pixel, tmp_path_factory):
    """The app serving a runs folder and a template library of its own, with a hostile run and template in them;
    yields (the app's url, a hostile dataset folder)."""
    port = pixel.port
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data" / "hostile <img src=x onerror=\"window.__pwned='dsname'\">"  # no '/' in a folder name
    data.mkdir(parents=True)
    labels = (f"good {marks('label1', port)}", f"bad {marks('label2', port)}")
    column = f"col {marks('column', port)}"
    for split, n in (("train", 6), ("validation", 6), ("<img src=x onerror=\"window.__pwned='split'\">", 2)):
        rows = [{"text": f"row {i} {marks('cell', port)}", "label": labels[i % 2], column: "x"} for i in range(n)]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    templates = root / "templates"
    templates.mkdir()
    template_name = f"hostile {marks('tplname', port)}"
    (templates / "hostile.yaml").write_text(yaml.safe_dump({
        "name": template_name, "task": "hostile", "instruction": marks("instruction", port),
        "prompt": f"{marks('prompt', port)}\nText: {{{{ text }}}}\nAnswer:", "target": "{{ label }}",
        "answer_choices": list(labels)}, allow_unicode=True), encoding="utf-8")

    run = root / "runs" / RUN_ID
    run.mkdir(parents=True)
    run_template = yaml.safe_dump({"name": f"runtpl {marks('runtpl', port)}", "prompt": "Text: {{ text }}",
                                   "target": "{{ label }}", "answer_choices": list(labels)})
    (run / "spec.json").write_text(json.dumps({
        "template": run_template, "data": marks("rundata", port), "model": "tiny", "train_split": "train",
        "eval_split": "validation", "eval_size": 4,
        "config": {"method": "prompt_tuning", "lr": 0.1, "max_steps": 10, "device": marks("device", port)}}))
    (run / "status.json").write_text(json.dumps({
        "status": "failed", "created": 1577836800.0, "started": 1577836801.0, "finished": 1577836900.0,
        "step": 3, "total_steps": 10, "best": {"step": 2, "acc": 0.5}, "error": marks("error", port)}))
    (run / "baselines.json").write_text(json.dumps({
        "metric": "acc", "majority": 0.5, "zero_shot_acc": 0.5,
        "templates": {marks("baseline", port): {"zero_shot": {"acc": 0.4}, "few_shot": {"acc": 0.6}},
                      "other": {"zero_shot": {"acc": 0.3}}}}))  # two templates: the lines are named after them
    lines = [{"step": s, "loss": 1.0 / s, "val_loss": 1.2 / s, "acc": 0.5, "split": "val"} for s in (1, 2, 3)]
    lines.append({"kind": "nearest_tokens", "step": 3, "tokens": [[marks("token", port)]], "drift": [0.1]})
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    (run / "log.txt").write_text(marks("log", port) + "\n")

    saved = {k: os.environ.get(k) for k in ("PROMPTLAB_RUNS", "PROMPTLAB_TEMPLATES")}
    os.environ.update(PROMPTLAB_RUNS=str(root / "runs"), PROMPTLAB_TEMPLATES=str(templates))
    app, url = serve_app(str(tiny_model_dir))
    try:
        yield url, data
    finally:
        app.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---- page helpers ----------------------------------------------------------------------------------------------

def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick(page, elem_id: str, typed: str) -> None:
    """Type `typed` into the dropdown `#elem_id` and click the first option showing it (options are redrawn as the
    filter applies: retried until one holds still)."""
    box = page.locator(f"#{elem_id} input")
    for attempt in range(5):
        box.click()
        box.fill("")
        box.press_sequentially(typed, delay=20)
        try:
            page.get_by_role("option").filter(has_text=typed).first.click(timeout=5_000)
            break
        except Exception:
            if attempt == 4:
                raise
            page.keyboard.press("Escape")
    page.keyboard.press("Escape")


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def retype(box, text: str) -> None:
    box.fill(text[:-1])
    box.press_sequentially(text[-1])


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def wait_text(page, elem_id: str, *texts: str, timeout: float = 60_000) -> None:
    page.wait_for_function("([id, texts]) => { const el = document.querySelector(`#${id}`);"
                           " return !!el && texts.every(t => el.innerText.includes(t)); }",
                           arg=[elem_id, list(texts)], timeout=timeout)


def plot_text(page, elem_id: str) -> str:
    """Every text drawn in a plotly figure (titles, legend, ticks, annotations), as the SVG holds it."""
    page.wait_for_function(f"() => document.querySelector('#{elem_id} .js-plotly-plot text')")
    # a label wrapped over several lines (tspans) reads as one line, the breaks being spaces
    return page.evaluate(f"() => [...document.querySelectorAll('#{elem_id} .js-plotly-plot text')]"
                         ".map(t => t.querySelector('tspan.line') ? [...t.querySelectorAll('tspan.line')]"
                         ".map(s => s.textContent).join(' ') : t.textContent).join(' | ')")


def planted_links(page, port: int) -> list[str]:
    """Links (HTML or SVG) that lead to javascript: or to the pixel server."""
    return page.evaluate("""port => [...document.querySelectorAll('a')]
        .map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')
        .filter(h => /^\\s*javascript:/i.test(h) || h.includes(':' + port + '/'))""", port)


# ---- the test --------------------------------------------------------------------------------------------------

def test_no_outside_text_can_script_or_track_a_visitor(hostile, pixel, page):
    url, data = hostile
    port = pixel.port
    page.goto(url)
    page.locator("#data-summary").get_by_text("demo-reviews").wait_for()
    unreadable = []  # (where, element) pairs whose marker does not read as text

    def expect_shown(text: str, where: str, element: str) -> None:
        if not shown(text, where):
            unreadable.append(f"{where} in #{element}: {text[:300]!r}")

    # Data: an error toast quoting a typed path, then the hostile folder.
    source = page.locator("#data-source textarea, #data-source input").first
    source.fill(f"/nonexistent/{marks('toast', port)}.jsonl")
    page.locator("#data-load").click()
    toast = page.locator("[data-testid='toast-body']").first
    toast.wait_for()
    expect_shown(toast.inner_text(), "toast", "toast")
    page.locator("[data-testid='toast-close']").first.click()
    source.fill(str(data))
    page.locator("#data-load").click()
    page.wait_for_function("() => { const t = document.querySelector('#data-summary').innerText;"
                           " return t.includes('validation') && !t.includes('demo-reviews'); }")
    summary = text_of(page, "data-summary")
    for where in ("column", "label1", "label2"):
        expect_shown(summary, where, "data-summary")
    if "window.__pwned='dsname'" not in summary or "window.__pwned='split'" not in summary:
        unreadable.append(f"dataset and split names in #data-summary: {summary[:300]!r}")
    expect_shown(text_of(page, "data-preview"), "cell", "data-preview")
    expect_shown(plot_text(page, "data-distribution"), "label1", "data-distribution")

    # Studio: the hostile library template rendered on the hostile rows, a preview, then a problem naming columns.
    open_tab(page, "2 · Template studio")
    pick(page, "studio-library", "hostile")
    page.locator("#studio-load").click()
    prompt = page.locator("#studio-prompt textarea")
    page.wait_for_function("() => document.querySelector('#studio-prompt textarea').value.includes('prompt.png')")
    wait_text(page, "studio-rendered", "Row 1")
    rendered = text_of(page, "studio-rendered")
    for where in ("prompt", "instruction", "cell", "label1"):
        expect_shown(rendered, where, "studio-rendered")
    set_number(page, "studio-rows", 4)
    page.locator("#studio-run").click()
    wait_text(page, "studio-metrics", "accuracy")
    expect_shown(text_of(page, "studio-results"), "label1", "studio-results")
    good = prompt.input_value()
    retype(prompt, good + " {{ nope }}")
    wait_text(page, "studio-problems", "nope")
    expect_shown(text_of(page, "studio-problems"), "column", "studio-problems")
    retype(prompt, good)
    wait_text(page, "studio-problems", "No problems")

    # Compare: the library template and the draft, side by side.
    open_tab(page, "3 · Compare")
    pick(page, "compare-pick", "hostile")
    pick(page, "compare-pick", "current draft")
    page.locator("#compare-run").click()
    wait_text(page, "compare-metrics", "accuracy")
    expect_shown(text_of(page, "compare-metrics"), "tplname", "compare-metrics")
    examples = text_of(page, "compare-examples")
    for where in ("tplname", "label1"):  # (the input column is cut in the middle: long cells are shortened)
        expect_shown(examples, where, "compare-examples")
    expect_shown(plot_text(page, "compare-chart"), "tplname", "compare-chart")
    confusion = plot_text(page, "compare-confusion")
    for where in ("tplname", "label1"):
        expect_shown(confusion, where, "compare-confusion")

    # Tune: what a job would use, then the hand-written failed run.
    open_tab(page, "4 · Tune")
    wait_text(page, "tune-using", "hostile")
    using = text_of(page, "tune-using")
    expect_shown(using, "tplname", "tune-using")
    if "window.__pwned='dsname'" not in using:
        unreadable.append(f"dataset name in #tune-using: {using[:300]!r}")
    pick(page, "tune-watch", RUN_ID)
    wait_text(page, "tune-status", "failed")
    expect_shown(text_of(page, "tune-status"), "error", "tune-status")
    expect_shown(plot_text(page, "tune-accuracy"), "baseline", "tune-accuracy")
    expect_shown(text_of(page, "tune-nearest"), "token", "tune-nearest")

    # Runs: the table, the run's details, curves and log.
    open_tab(page, "5 · Runs")
    wait_text(page, "runs-table", RUN_ID)
    expect_shown(text_of(page, "runs-table"), "runtpl", "runs-table")  # (the task column keeps the path's end)
    pick(page, "runs-pick", RUN_ID)
    page.get_by_text("Details and log").click()
    wait_text(page, "runs-details", RUN_ID)
    details = text_of(page, "runs-details")
    for where in ("runtpl", "rundata", "error", "device"):
        expect_shown(details, where, "runs-details")
    expect_shown(plot_text(page, "runs-accuracy"), "baseline", "runs-accuracy")
    page.wait_for_timeout(1000)  # let late images (if any were injected) load

    problems = []
    pwned = page.evaluate("() => window.__pwned")
    if pwned is not None:
        problems.append(f"a marker script ran in the page: window.__pwned = {pwned!r}")
    if pixel.hits:
        problems.append(f"the page requested planted URLs: {sorted(set(pixel.hits))}")
    links = planted_links(page, port)
    if links:
        problems.append(f"planted links are in the page: {links}")
    if unreadable:
        problems.append("markers do not read as text:\n  " + "\n  ".join(unreadable))
    assert not problems, "\n".join(problems)
