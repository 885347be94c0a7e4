"""Hardening: templates typed by strangers, through the engine API (render / validate / score_template) and the
CLI (`promptlab score`). Each case asserts the message a user sees and that a valid request still works after."""

from __future__ import annotations

import time

import pytest
from conftest import rows

from promptlab.prompts.render import render, validate
from promptlab.prompts.values import RenderError, Template

ROW = {"text": "great fun", "label": "positive"}
COLUMNS = ["text", "label"]


def tpl(prompt: str, choices=("negative", "positive"), target="{{ label }}", **kw) -> Template:
    return Template("t", prompt, target, choices, **kw)


def still_renders() -> None:
    """The engine keeps serving: a valid template renders right after a refused one."""
    assert render(tpl("Review: {{ text }}\nSentiment:"), ROW).prompt == "Review: great fun\nSentiment:"


def refused(prompt: str, **kw) -> str:
    start = time.perf_counter()
    with pytest.raises(RenderError) as info:
        render(tpl(prompt, **kw), ROW)
    assert time.perf_counter() - start < 5, "a refused template must fail fast, not after exhausting the server"
    still_renders()
    return str(info.value)


def test_syntax_error_names_field_line_column_and_fix():
    problems = validate(tpl("Review: {{ text }}\nSentiment: {{ label "), COLUMNS)
    assert [(p.field, p.line) for p in problems] == [("prompt", 2)]
    assert "Jinja syntax error" in problems[0].message and "matching }}" in problems[0].hint
    assert refused("{% for w in text %}{{ w }}").startswith("prompt, line 1")


def test_undefined_placeholder_suggests_the_close_column():
    (problem,) = validate(tpl("Review: {{ txt }}"), COLUMNS)
    assert str(problem) == ("prompt, line 1, column 12: Unknown column 'txt'. Did you mean 'text'? "
                            "Use one of: label, text.")
    assert refused("{{ sentence }}") == ("prompt: prompt uses {{ sentence }}, but the row has no column 'sentence'. "
                                         "Columns: label, text.")


@pytest.mark.parametrize("payload", [
    "{{ text.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__['__builtins__'] }}",
    "{{ text.upper.__self__ }}",
])
def test_ssti_payloads_are_refused(payload):
    message = refused(payload)
    assert message.startswith("prompt: That expression is not allowed in templates")
    assert "is unsafe" in message and "Use the row's columns" in message


def test_imports_and_includes_have_no_loader():
    message = refused("{% include '/etc/passwd' %}")
    assert message.startswith("prompt: Rendering failed") and "root:" not in message


@pytest.mark.parametrize("payload, expected", [
    ("{% for i in range(10**9) %}x{% endfor %}", "range() of 1,000,000,000 items is too long; the limit is 1,000."),
    ("{{ 'a' * 10**9 }}", "1,000,000,000 copies of a value of length 1 is too long"),
    ("{{ 10 ** 10 ** 10 }}", "is too large a number"),
    ("{{ '%999999999d' % 1 }}", "asks for a width over 100,000"),
    ("{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}",
     "The template runs more than 20,000 loop steps or calls."),
])
def test_resource_exhaustion_is_refused_quickly(payload, expected):
    message = refused(payload)
    assert expected in message and "Templates are limited so that one prompt cannot exhaust the server." in message


def test_runaway_recursion_is_refused():
    assert refused("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}") == (
        "prompt: A macro or recursive loop calls itself too deeply. Give the recursion a condition that ends it.")


def test_enormous_rendered_prompt_is_refused_with_the_limit():
    message = refused("{% for i in range(900) %}{{ text * 100 }}{% endfor %}")
    assert "The template writes more than 100,000 characters." in message
    with pytest.raises(RenderError, match=r"The rendered prompt is 1\d\d,\d\d\d characters long; the limit is "
                                          r"100,000\. Use fewer or shorter demonstrations\."):
        render(tpl("{{ text }}"), ROW, shots=[{"text": "x" * 60_000, "label": "negative"}] * 2)
    still_renders()


@pytest.mark.parametrize("choices, message", [
    (("positive", "positive"), "Choice 'positive' appears more than once."),
    (("negative", "  "), "Choice 2 is empty."),
    (("", "positive"), "Choice 1 is empty."),
])
def test_duplicate_and_empty_choices_are_found_and_refused_at_scoring(choices, message):
    t = tpl("Review: {{ text }}\nSentiment:", choices=choices)
    assert [p.message for p in validate(t, COLUMNS, [ROW])] == [message]  # reported once, not once per row
    with pytest.raises(RenderError, match=message):  # scoring never ranks an empty or doubled choice
        render(t, ROW)
    still_renders()


def test_choice_expression_rendering_nothing_for_a_row():
    t = tpl("{{ text }}", choices="{{ label }}|||{{ text }}")
    with pytest.raises(RenderError, match=r"Choice 2 is empty in the rendered choices 'positive\|\|\|'"):
        render(t, {"text": "", "label": "positive"})
    assert render(t, ROW).choices == ("positive", "great fun")


def test_label_missing_from_choices_is_reported_with_a_mapping_hint():
    t = tpl("{{ text }}", choices=("bad", "good"))
    problems = validate(t, COLUMNS, [ROW, {"text": "meh", "label": "negative"}])
    assert [p.message for p in problems] == [
        "The target 'positive' is not one of the answer choices: bad, good. (row 1)",
        "The target 'negative' is not one of the answer choices: bad, good. (row 2)"]
    assert all('{"negative": "bad", "positive": "good"}[label]' in p.hint for p in problems)


def test_cli_refuses_a_broken_template_with_every_problem(run_cli, tmp_path, data_dir, tiny_model_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text('name: bad\nprompt: "{{ txt }} {{ text.__class__ }}"\ntarget: "{{ label }}"\n'
                   "answer_choices: [negative, negative]\n", encoding="utf-8")
    result = run_cli("score", "--template", bad, "--data", data_dir, "--model", tiny_model_dir)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"promptlab: error: Template 'bad' does not fit {data_dir}:")
    assert "Unknown column 'txt'. Did you mean 'text'?" in result.err
    assert "Choice 'negative' appears more than once." in result.err
    assert "Traceback" not in result.err


def test_cli_scores_after_refusing_and_with_ssti_in_data_cells(run_cli, tmp_path, template_file, tiny_model_dir):
    """A cell holding a Jinja payload is data, never code: it is shown literally."""
    from conftest import write_jsonl

    folder = tmp_path / "ssti-data"
    write_jsonl(folder / "validation.jsonl", [{"text": "{{ 7*7 }} {{ cycler.__init__ }}", "label": "positive"},
                                              *rows(3)])
    result = run_cli("score", "--template", template_file, "--data", folder, "--model", tiny_model_dir, "--json")
    assert result.code == 0, result.err
    import json

    assert json.loads(result.out)["n"] == 4
    assert render(tpl("{{ text }}"), {"text": "{{ 7*7 }}", "label": "positive"}).prompt == "{{ 7*7 }}"
