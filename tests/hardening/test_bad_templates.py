"""Hardening: templates typed by strangers, through the engine API (render / validate / score_template) and the
CLI (`promptlab score`). Each case asserts the message a user sees and that a valid request still works after."""

from __future__ import annotations

import time

import pytest
from helpers import toy_rows as rows

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
    bad.write_text('name: bad\nprompt: "{{ sentense }} {{ sentence.__class__ }}"\ntarget: "{{ label }}"\n'
                   "answer_choices: [negative, negative]\n", encoding="utf-8")
    result = run_cli("score", "--template", bad, "--data", data_dir, "--model", tiny_model_dir)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"promptlab: error: Template 'bad' does not fit {data_dir}:")
    assert "Unknown column 'sentense'. Did you mean 'sentence'?" in result.err
    assert "Choice 'negative' appears more than once." in result.err
    assert "Traceback" not in result.err


def test_cli_scores_after_refusing_and_with_ssti_in_data_cells(run_cli, tmp_path, template_file, tiny_model_dir):
    """A cell holding a Jinja payload is data, never code: it is shown literally."""
    from helpers import write_jsonl

    folder = tmp_path / "ssti-data"
    write_jsonl(folder / "validation.jsonl", [{"sentence": "{{ 7*7 }} {{ cycler.__init__ }}", "label": "positive"},
                                              *rows(3)])
    result = run_cli("score", "--template", template_file, "--data", folder, "--model", tiny_model_dir, "--json",
                     "--val-fraction", "0")  # one split, scored whole (no validation split held out)
    assert result.code == 0, result.err
    import json

    assert json.loads(result.out)["n"] == 4
    assert render(tpl("{{ text }}"), {"text": "{{ 7*7 }}", "label": "positive"}).prompt == "{{ 7*7 }}"


# ---------------------------------------------------------------------------------------------------------------
# Issue 12, class 2: a short template must not take the server down or hold it; class 6: clear messages

def refused_within(prompt: str, max_mb: float = 5) -> str:
    """Refused like `refused`, and without building a large value first (tracemalloc peak)."""
    import tracemalloc

    tracemalloc.start()
    try:
        message = refused(prompt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < max_mb * 1_000_000, f"built {peak / 1e6:.0f} MB before refusing"
    return message


def refused_row(prompt: str, row: dict) -> str:
    start = time.perf_counter()
    with pytest.raises(RenderError) as info:
        render(tpl(prompt), row)
    assert time.perf_counter() - start < 5
    still_renders()
    return str(info.value)


@pytest.mark.parametrize("payload, expected", [
    ("{{ '{:{}}'.format(text, '999999999') }}", "The format string '{:{}}' asks for a width over 100,000."),
    ("{{ ('{:99999}' * 1000).format(*range(1000)) }}", "asks for widths adding up to over 100,000 characters."),
    ("{{ ('%99999s' * 1000) % ((text,) * 1000) }}", "asks for widths adding up to over 100,000 characters."),
    ("{{ ('%*s' * 1000)|format(*((99999, text) * 1000)) }}", "asks for widths adding up to over 100,000 characters."),
    ("{{ range(1000)|list|tojson(indent=99999) }}", "tojson(indent=99999) is too wide; the limit is 100."),
    ("{% for i in range(1000) %}{% set x = text.center(99999) %}{% endfor %}",
     "The template builds more than 500,000 characters or items in all."),
])
def test_widths_and_growth_are_refused_before_anything_large_exists(payload, expected):
    """Each built 100 MB to 1 GB (a width from a string argument: any size) before it was refused, or ran."""
    message = refused_within(payload)
    assert expected in message and "Templates are limited so that one prompt cannot exhaust the server." in message


def test_a_loop_over_slow_filters_stops_at_the_deadline():
    """These rendered for 5 to 30 s (a Compare of 500 rows: hours) holding a server thread."""
    message = refused("{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|max }}{% endfor %}")
    assert message == ("prompt: The template takes more than 0.5 s to render (loops over slow filters such as sort "
                       "on long lists?). Templates are limited so that one prompt cannot exhaust the server. Make "
                       "the template smaller.")
    sorts = refused("{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|sort|length }}{% endfor %}")
    assert "takes more than 0.5 s to render" in sorts or "builds more than 500,000 characters or items" in sorts


def test_a_request_of_many_rows_is_bounded_by_its_render_budget():
    from promptlab.prompts.sandbox import render_budget

    slow = tpl("{% set b = range(1000)|list * 10 %}{% for i in range(3) %}{{ b|sort|length }}{% endfor %}")
    start = time.perf_counter()
    with render_budget(0.4), pytest.raises(RenderError, match=r"Rendering took more than 0.4 s in total for this "
                                                              r"request\. Use fewer rows, shots or seeds"):
        for _ in range(5000):
            render(slow, ROW, shots=[ROW] * 4)
    assert time.perf_counter() - start < 5
    still_renders()


def test_deeply_nested_template_is_refused_naming_the_field(run_cli, tmp_path, data_dir, tiny_model_dir):
    """Was a RecursionError traceback from the CLI (and from validate in the app's live check)."""
    nested = "{{ " + "(" * 500 + "text" + ")" * 500 + " }}"
    (problem,) = validate(tpl(nested), COLUMNS)
    assert str(problem) == ("prompt: Expressions or blocks are nested more than 40 levels deep. Split the "
                            "expression into steps with {% set name = ... %}, or nest fewer blocks.")
    assert refused("Review:\n{{ text" + " + text" * 50 + " }}").startswith(
        "prompt, line 2: Expressions or blocks are nested more than 40 levels deep.")
    bad = tmp_path / "deep.yaml"
    bad.write_text(f"name: deep\nprompt: '{nested}'\ntarget: '{{{{ label }}}}'\nanswer_choices: [negative, positive]\n",
                   encoding="utf-8")
    result = run_cli("score", "--template", bad, "--data", data_dir, "--model", tiny_model_dir)
    assert result.code == 2 and "Traceback" not in result.err
    assert "  - prompt: Expressions or blocks are nested more than 40 levels deep." in result.err


@pytest.mark.parametrize("name", ["range", "dict", "cycler", "joiner", "namespace"])
def test_a_column_named_like_a_jinja_function_is_named_in_the_message(name):
    """Was "Rendering failed: TypeError: 'str' object is not callable"."""
    prompt = f"{{{{ {name}() }}}} {{{{ text }}}}"
    if name == "range":
        prompt = "{% for i in range(2) %}{{ text }}{% endfor %}"
    expected = (f"prompt: The data's column '{name}' hides the Jinja function {name}(), so {name}(...) calls the "
                f"column's value instead. Rename the column (e.g. to '{name}_value'), or write this field without "
                f"{name}().")
    assert refused_row(prompt, {**ROW, name: "x"}) == expected
    (problem,) = validate(tpl(prompt), [*COLUMNS, name])  # said before any row is rendered
    assert str(problem) == expected


def test_a_long_data_cell_is_named_not_blamed_on_the_template():
    """Was "The template writes more than 100,000 characters" for a template that only writes {{ text }}."""
    message = refused_row("Review: {{ text }}", {"text": "x" * 150_000, "label": "positive"})
    assert message == ("prompt: Column 'text' of this row is 150,000 characters long; a rendered field may hold at "
                       "most 100,000 characters. Leave such rows out or shorten them, or cut the cell in the "
                       "template, e.g. {{ text|truncate(2000) }}.")
    assert render(tpl("Review: {{ text|truncate(20) }}"), {"text": "x" * 150_000, "label": "positive"}).prompt == \
        "Review: " + "x" * 17 + "..."


def test_an_oversized_template_is_refused_with_its_length():
    """A 20 MB template was accepted and compiled (38-150 MB in the compile cache)."""
    start = time.perf_counter()
    message = refused("Review: {{ text }} " + "x" * 20_000_000)
    assert time.perf_counter() - start < 5
    assert message == ("prompt: This field is 20,000,019 characters long; a template field may have at most 10,000. "
                       "Shorten it: the data fills in the rest of the prompt.")
    problems = validate(tpl("{{ text }}", fewshot_delimiter="\n" * 20_000), COLUMNS)
    assert [str(p) for p in problems] == ["fewshot_delimiter: This field is 20,000 characters long; a template field "
                                          "may have at most 10,000. Shorten it."]


def test_a_broken_file_in_the_library_breaks_neither_listing_nor_scoring(run_cli, tmp_path, monkeypatch, data_dir,
                                                                         tiny_model_dir):
    """One unparsable YAML in the library stopped the app from starting, `templates list` and scoring any template."""
    from conftest import TEMPLATE_YAML

    library = tmp_path / "library"
    library.mkdir()
    (library / "hard-sentiment.yaml").write_text(TEMPLATE_YAML, encoding="utf-8")
    (library / "broken.yaml").write_text("name: broken\nprompt: {{ text }}\n", encoding="utf-8")
    monkeypatch.setenv("PROMPTLAB_TEMPLATES", str(library))
    listed = run_cli("templates", "list")
    assert listed.code == 0 and listed.out.split()[0] == "hard-sentiment"
    assert listed.err.startswith("promptlab: skipped broken.yaml: ") and "line 2, column 10: invalid YAML" in listed.err
    scored = run_cli("score", "--template", "hard-sentiment", "--data", data_dir, "--model", tiny_model_dir, "--json")
    assert scored.code == 0, scored.err
    assert (library / "broken.yaml").read_text(encoding="utf-8") == "name: broken\nprompt: {{ text }}\n"  # untouched
