"""Outside text (data, templates, runs, typed paths) reaches the page as text, never as markup.

The markdown the tabs build is rendered here by markdown-it with raw HTML on (as gradio's renderer has it), and the
HTML is parsed: no tag may come from the outside text, and the text must read as typed. The browser test
(tests/browser/test_injection.py) checks the same in gradio's own renderer.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import gradio as gr
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from promptlab.prompts import render
from promptlab.prompts.values import Template
from promptlab.runs.store import RunInfo
from promptlab.ui import format, run_view
from promptlab.ui.editor import fields_from_template
from promptlab.ui.tabs import compare, data, runs, studio, tune

IMG = '<img src=x onerror="alert(1)">'
HOSTILE = [
    IMG, "<script>alert(1)</script>", "![px](http://evil.test/p.png)", "[go](javascript:alert(1))",
    '<a href="http://evil.test">a</a>', "<https://evil.test>", "http://evil.test www.evil.test a@evil.test",
    "**bold** _it_ ~~s~~ `code` ``` fence ````", "# heading", "- item", "1. item", "> quote",
    "| a | b |\n|---|---|\n| c | d |", "$$x^2$$", "trailing \\", "&amp; &lt; &#60; &copy;",
    "line1\n\n    indented\n===",
    "---", "<!-- comment -->", "[ref]: http://evil.test", "\\<img src=x onerror=alert(1)>", "*", "``", " `x` ",
]
# Tags our own markdown makes (paragraphs, headings, lists, bold, code); anything else came from outside text.
OURS = {"p", "br", "strong", "em", "code", "pre", "h3", "ul", "li"}


class Page(HTMLParser):
    """The tags and the visible text of an HTML fragment."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.chunks = [], []
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, text):
        self.chunks.append(text)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def markdown_page(source: str) -> Page:
    return Page(MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(source))


def squash(text: str) -> str:
    return " ".join(text.split())


def assert_text_only(page: Page, *texts: str) -> None:
    assert set(page.tags) <= OURS, f"markup from outside text: {set(page.tags) - OURS}"
    for text in texts:
        assert squash(text) in squash(page.text), (text, page.text)


# ---- the helpers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_md_text_reads_as_typed_and_makes_no_markup(value):
    page = markdown_page(f"**Name**: {format.md_text(value)}")
    assert set(page.tags) <= {"p", "br", "strong"}
    assert squash(page.text) == squash(f"Name: {value}")


@pytest.mark.parametrize("value", HOSTILE)
def test_md_code_is_one_code_span_that_cannot_be_closed(value):
    page = markdown_page(f"Column {format.md_code(value)} here")
    assert page.tags == ["p", "code"]
    assert page.chunks[1] == re.sub(r"\r\n|\r|\n", " ", value)


@pytest.mark.parametrize("value", HOSTILE)
def test_md_block_is_one_code_block_that_cannot_be_closed(value):
    page = markdown_page(f"Row 1\n{format.md_block(value)}\n\nafter")
    assert page.tags == ["p", "pre", "code", "p"]
    assert page.chunks[2] == value + "\n"


def test_html_text_and_plot_text_show_tags_as_text():
    for helper in (format.html_text, format.plot_text):
        page = Page(f"<div>{helper(IMG + ' & <b>x</b>')}</div>")
        assert page.tags == ["div"] and page.text == IMG + " & <b>x</b>"


# ---- where outside text is shown ------------------------------------------------------------------------------

@pytest.fixture
def hostile_folder(tmp_path):
    """A dataset folder whose name, split names, column names, labels and cells carry markup."""
    folder = tmp_path / "evil <img src=x onerror=alert(1)>"
    folder.mkdir()
    labels = ("good " + IMG, "bad ![px](http://evil.test/l.png)")
    for split in ("train", "validation", "<b title=odd>"):  # (no / in a file name)
        rows = [{"text": f"```\n{IMG}\n```", "label": labels[i % 2], "col <script>x</script>": "y"} for i in range(4)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder, labels


def test_data_summary_and_distribution_show_names_as_text(hostile_folder):
    folder, labels = hostile_folder
    sel = data.load_source(str(folder), None, "en")
    summary, _, _, _, _, plot, _ = data.show(sel, "en")
    assert_text_only(markdown_page(summary), folder.name, "col <script>x</script>", labels[0], labels[1],
                     "<b title=odd>")
    assert {trace.name for trace in plot.data} == {"train", "validation"}
    assert {html.unescape(x) for x in plot.data[0].x} == set(labels)
    assert all("<" not in x for trace in plot.data for x in trace.x)


def test_studio_shows_prompts_problems_and_placeholders_as_text(hostile_folder):
    folder, labels = hostile_folder
    sel = data.load_source(str(folder), None, "en")
    template = Template("t", "Review: {{ text }}\nAnswer:", "{{ label }}", labels)
    _, placeholders, problems, rendered, _, _ = studio.check(*fields_from_template(template), sel, "en")
    page = markdown_page(rendered)
    assert_text_only(page, IMG)
    assert page.tags.count("pre") == studio.RENDERED_ROWS  # the cell's ``` did not close its block
    broken = Template("t", "{{ nope }} <img src=x onerror=alert(2)>", "{{ label }}", labels)
    _, placeholders, problems, *_ = studio.check(*fields_from_template(broken), sel, "en")
    assert_text_only(markdown_page(problems), "Unknown column 'nope'", "col <script>x</script>")
    assert_text_only(markdown_page(placeholders))


def test_a_failing_live_check_shows_its_error_as_text(monkeypatch):
    def explode(*args):
        raise RuntimeError(IMG)

    monkeypatch.setattr(render, "validate", explode)
    template = Template("t", "{{ text }}", "{{ label }}", ("a", "b"))
    problems = studio.check(*fields_from_template(template), None, "en")[2]
    assert_text_only(markdown_page(problems), IMG)


def test_toasts_show_engine_messages_as_text():
    @format.guarded("data.load_failed")
    def handler(lang):
        raise ValueError(f"No file named '{IMG}'")

    with pytest.raises(gr.Error) as caught:
        handler("en")
    page = Page(caught.value.message)
    assert page.tags == [] and IMG in page.text


def run_info(**fields) -> RunInfo:
    spec = {"template": "name: t\nprompt: x\ntarget: '{{ label }}'\nanswer_choices: [a, b]",
            "data": "/data/![px](http://evil.test/d.png)", "model": "<b>m</b>",
            "train_split": "train", "eval_split": "<i>v</i>", "eval_size": 4,
            "config": {"method": "prompt_tuning", "device": "`` <img src=x onerror=alert(3)> ``"}}
    values = dict(run_id="20200101-000000-prompt-tuning-beef", status="failed", created=0.0, started=0.0,
                  finished=1.0, spec=spec, step=3, total_steps=10, template="tpl " + IMG, task="t",
                  best={"step": 2, "acc": 0.5}, error=f"Internal error:\n{IMG}\n<script>alert(4)</script>",
                  baselines={"metric": "<b>acc</b>", "templates": {IMG: {"zero_shot": {"acc": 0.4}},
                                                                  "other": {"zero_shot": {"acc": 0.3}}}})
    return RunInfo(**{**values, **fields})


def test_run_status_shows_the_error_as_text():
    run = run_info()
    metric = run_view.metric_of(run, [{"step": 1, "acc": 0.5}])
    assert metric == "acc"  # a metric name is a word: the run's odd one is not used
    page = Page(run_view.status_html(run, metric, "en"))
    assert set(page.tags) <= {"div", "b"} and IMG in page.text and "<script>alert(4)</script>" in page.text


def test_run_details_show_every_run_text_as_text():
    run = run_info()
    assert_text_only(markdown_page(runs.details_markdown(run, "en")), "tpl " + IMG, run.spec["data"], "<b>m</b>",
                     "<i>v</i>", "Device: `` <img src=x onerror=alert(3)> ``", IMG, "<script>alert(4)</script>")


def test_run_curves_name_baselines_as_text():
    accuracy, _ = run_view.curves(run_info(), [{"step": 1, "acc": 0.5, "split": "val"}], "en")
    names = [trace.name for trace in accuracy.data]
    assert all("<" not in name for name in names)
    assert any(html.unescape(name).startswith(IMG) for name in names)


def test_tune_form_names_template_and_data_as_text(monkeypatch):
    template = Template("tpl " + IMG, "{{ text }}", "{{ label }}", ("a", "b"))
    sel = {"name": "data ![px](http://evil.test/d.png)", "train": "<b>t</b>", "eval": "`v`", "eval_size": 4}
    assert_text_only(markdown_page(tune.describe_job(template, sel, "en")), template.name, sel["name"],
                     "<b>t</b>", "`v`")


def test_compare_names_the_rows_it_scores_as_text():
    sel = {"name": "data ![px](http://evil.test/d.png)", "eval": "<b>v</b>", "eval_size": 4}
    assert_text_only(markdown_page(compare.rows_text(sel, "en")), sel["name"], "<b>v</b>")


def test_compare_figures_name_prompts_and_labels_as_text():
    name = "tpl " + IMG
    confusion = pd.DataFrame([[1, 0], [0, 1]], index=["<b>a</b>", "b"], columns=["<b>a</b>", "b"])
    result = {"metrics": pd.DataFrame({"name": [name], "n": [2], "shots": [0], "seconds": [0.1], "acc": [1.0]}),
              "examples": pd.DataFrame({"row": [1], "gold": ["a"], name: ["a ✓"], "agree": [True]}),
              "majority": 0.5, "bars": ["acc"], "confusion": {name: confusion}}
    metrics, bars, matrices, examples = compare.render(result, "en")
    assert [html.unescape(x) for x in bars.data[0].x] == [name] and "<" not in bars.data[0].x[0]
    titles = [a.text for a in matrices.layout.annotations]
    assert html.escape(name, quote=False) in titles
    assert list(matrices.data[0].x) == ["&lt;b&gt;a&lt;/b&gt;", "b"]
    assert list(metrics.iloc[:, 0]) == [name]  # tables show cells as text themselves: kept as typed
