"""Template engine: values, YAML files, rendering layout, variables, validation, the sandbox."""

import time

import pytest

from promptlab.prompts.files import (
    dump_template,
    find_template,
    library_file_name,
    list_templates,
    load_template,
    parse_template,
    save_template,
)
from promptlab.prompts.render import render, render_content_free, validate, variables
from promptlab.prompts.sandbox import MAX_CHARS
from promptlab.prompts.values import Example, Problem, Template

SST2 = Template("sst2-test", "Review: {{ sentence }}\nSentiment:", "{{ label }}", ("negative", "positive"))
VERBALIZED = Template("sst2-verbal", "{{ sentence }} It was",
                      '{{ {"negative": "terrible", "positive": "great"}[label] }}', ("terrible", "great"))
ROW = {"sentence": "a charming journey .", "label": "positive"}
SHOTS = [{"sentence": "dull .", "label": "negative"}, {"sentence": "fun !", "label": "positive"}]
COLUMNS = ["label", "sentence"]


# ---------------------------------------------------------------------------------------------------------------
# values

def test_mode_and_list_choices_become_a_tuple():
    assert SST2.mode == "rank"
    assert Template("g", "Q: {{ q }}\nA:", "{{ a }}").mode == "generate"
    assert Template("t", "p", answer_choices=["a", "b"]).answer_choices == ("a", "b")


def test_problem_str_names_field_position_message_and_hint():
    problem = Problem("prompt", "Unknown column 'sentense'.", "Use one of: label, sentence.", 2, 5)
    assert str(problem) == "prompt, line 2, column 5: Unknown column 'sentense'. Use one of: label, sentence."
    assert str(Problem("target", "No target.", "Add one.")) == "target: No target. Add one."


# ---------------------------------------------------------------------------------------------------------------
# render

def test_render_zero_shot():
    assert render(SST2, ROW) == Example("Review: a charming journey .\nSentiment:", "positive",
                                        ("negative", "positive"), 1, " ")


def test_render_few_shot_layout_is_instruction_shots_query():
    t = Template("t", SST2.prompt, SST2.target, SST2.answer_choices, instruction="Classify the reviews.")
    assert render(t, ROW, SHOTS).prompt == (
        "Classify the reviews.\n\n"
        "Review: dull .\nSentiment: negative\n\n"
        "Review: fun !\nSentiment: positive\n\n"
        "Review: a charming journey .\nSentiment:")


def test_render_uses_the_template_delimiters_and_skips_empty_parts():
    t = Template("t", "{{ sentence }} =", "{{ label }}", ("negative", "positive"), instruction="{{ '' }}",
                 target_delimiter="", fewshot_delimiter="\n---\n")
    example = render(t, ROW, SHOTS[:1])
    assert example.prompt == "dull . =negative\n---\na charming journey . ="
    assert example.delimiter == ""


def test_gold_is_the_index_of_the_verbalized_target():
    assert render(VERBALIZED, ROW).gold == 1
    assert render(VERBALIZED, {"sentence": "bad", "label": "negative"}) == Example(
        "bad It was", "terrible", ("terrible", "great"), 0)


def test_gold_is_none_when_target_not_among_choices_or_label_missing():
    t = Template("t", "{{ sentence }}", "{{ label }}", ("bad", "good"))
    assert render(t, ROW).gold is None
    unlabelled = render(SST2, {"sentence": "ok"})
    assert (unlabelled.target, unlabelled.gold) == ("", None)
    assert render(SST2, {"sentence": "ok", "label": None}).target == ""


def test_expression_choices_are_split_stripped_and_matched_after_strip():
    t = Template("t", "{{ question }}", " {{ answer }} ", "{{ options|join(' ||| ') }}")
    example = render(t, {"question": "2+2?", "options": ["three", "four"], "answer": "four"})
    assert (example.choices, example.target, example.gold) == (("three", "four"), "four", 1)


def test_answer_choices_is_a_variable_in_every_field():
    t = Template("t", "{{ sentence }} ({{ answer_choices|join(' or ') }})", "{{ answer_choices[1] }}",
                 ("no", "yes"), instruction="Answer {{ answer_choices[0] }} or {{ answer_choices[1] }}.")
    example = render(t, ROW)
    assert example.prompt == "Answer no or yes.\n\na charming journey . (no or yes)"
    assert example.gold == 1


def test_missing_cell_renders_empty_not_none():
    t = Template("t", "[{{ title }}] {{ sentence }}")
    assert render(t, {"title": None, "sentence": "x"}).prompt == "[] x"


def test_undefined_placeholder_error_names_field_column_and_columns():
    t = Template("t", "Review: {{ sentense }}")
    with pytest.raises(ValueError) as error:
        render(t, ROW)
    assert str(error.value) == ("prompt: prompt uses {{ sentense }}, but the row has no column 'sentense'. "
                                "Columns: label, sentence.")


def test_unmapped_label_error_hints_at_the_mapping():
    with pytest.raises(ValueError, match=r"target: .*'neutral'.*needs a key for every value"):
        render(VERBALIZED, {"sentence": "meh", "label": "neutral"})


def test_syntax_error_at_render_time_is_a_value_error_with_position():
    with pytest.raises(ValueError, match=r"^target, line 1, column 10: Jinja syntax error: unexpected '}'"):
        render(Template("t", "{{ sentence }}", "{{ label }", ("negative", "positive")), ROW)


def test_demonstration_without_label_is_an_error():
    with pytest.raises(ValueError, match="demonstration has no target"):
        render(SST2, ROW, [{"sentence": "no label here"}])


def test_chinese_template_and_values_render():
    t = Template("zh", "评论：{{ text }}\n情感：", '{{ {"negative": "负面", "positive": "正面"}[label] }}',
                 ("负面", "正面"), language="zh", target_delimiter="")
    shot = {"text": "房间太小。", "label": "negative"}
    example = render(t, {"text": "服务很好！", "label": "positive"}, [shot])
    assert example.prompt == "评论：房间太小。\n情感：负面\n\n评论：服务很好！\n情感："
    assert (example.target, example.gold) == ("正面", 1)


# ---------------------------------------------------------------------------------------------------------------
# content-free calibration

def test_content_free_replaces_every_prompt_variable_and_keeps_shots():
    t = Template("t", "Premise: {{ premise }}\nHypothesis: {{ hypothesis }}\nAnswer:", "{{ label }}", ("yes", "no"))
    shot = {"premise": "A cat sat.", "hypothesis": "An animal sat.", "label": "yes"}
    example = render_content_free(t, [shot])
    assert example.prompt == ("Premise: A cat sat.\nHypothesis: An animal sat.\nAnswer: yes\n\n"
                              "Premise: N/A\nHypothesis: N/A\nAnswer:")
    assert (example.target, example.choices, example.gold) == ("", ("yes", "no"), None)
    assert render_content_free(SST2, filler="[MASK]").prompt == "Review: [MASK]\nSentiment:"


def test_content_free_needs_fixed_choices():
    with pytest.raises(ValueError, match="needs fixed answer choices"):
        render_content_free(Template("t", "{{ q }}", "{{ a }}", "{{ options|join('|||') }}"))
    constant = Template("t", "{{ q }}", "{{ a }}", "no ||| yes")  # an expression that ignores the row is fine
    assert render_content_free(constant).choices == ("no", "yes")


# ---------------------------------------------------------------------------------------------------------------
# variables

def test_variables_are_the_columns_used_in_all_jinja_fields():
    t = Template("t", "{% for w in range(2) %}{{ premise }}{% endfor %} {{ answer_choices[0] }}",
                 "{{ {'a': 'b'}[label] }}", "{{ options|join('|||') }}", instruction="{{ topic }}")
    assert variables(t) == {"premise", "label", "options", "topic"}


def test_variables_skip_fields_with_syntax_errors():
    assert variables(Template("t", "{{ broken", "{{ label }}")) == {"label"}


# ---------------------------------------------------------------------------------------------------------------
# validate: one test per problem kind

def test_valid_template_has_no_problems():
    assert validate(SST2, COLUMNS, [ROW, *SHOTS]) == []
    assert validate(VERBALIZED, COLUMNS, [ROW, *SHOTS]) == []


def test_syntax_error_has_line_and_computed_column():
    t = Template("t", "Review:\n  {{ review sentence }}", "{{ label }}", ("negative", "positive"))
    [problem] = validate(t, COLUMNS)
    assert (problem.field, problem.line, problem.column) == ("prompt", 2, 13)
    assert problem.message == "Jinja syntax error: expected token 'end of print statement', got 'sentence'."
    assert "{{ has a matching }}" in problem.hint


def test_syntax_error_column_for_unclosed_brace_and_unknown_tag():
    [brace] = validate(Template("t", "Review: {{ sentence }\nSentiment:"), COLUMNS)
    assert (brace.line, brace.column, brace.message) == (1, 21, "Jinja syntax error: unexpected '}'.")
    [tag] = validate(Template("t", "{% for x in sentence %}{{ x }}\n{% endif %}"), COLUMNS)
    assert (tag.line, tag.column) == (2, 4)
    assert tag.message.startswith("Jinja syntax error: Encountered unknown tag 'endif'.")


def test_unknown_column_names_columns_and_closest_with_position():
    t = Template("t", "Text:\n {{ sentense }}", "{{ label }}", ("negative", "positive"))
    [problem] = validate(t, COLUMNS)
    assert str(problem) == ("prompt, line 2, column 5: Unknown column 'sentense'. Did you mean 'sentence'? "
                            "Use one of: label, sentence.")
    [far] = validate(Template("t", "{{ xyz }}"), COLUMNS)
    assert far.hint == "Use one of: label, sentence."


def test_unknown_columns_in_every_field_are_all_reported():
    t = Template("t", "{{ sentence }}", "{{ lable }}", "{{ opts|join('|||') }}", instruction="{{ topic }}")
    found = {(p.field, p.message) for p in validate(t, COLUMNS)}
    assert found == {("instruction", "Unknown column 'topic'."), ("target", "Unknown column 'lable'."),
                     ("answer_choices", "Unknown column 'opts'.")}


def test_columns_none_skips_the_column_check():
    assert validate(Template("t", "{{ anything }}"), None) == []


def test_empty_prompt():
    [problem] = validate(Template("t", "  \n"), COLUMNS)
    assert (problem.field, problem.message) == ("prompt", "The prompt is empty.")


def test_empty_and_duplicate_choices():
    t = Template("t", "{{ sentence }}", "{{ label }}", ("negative", " ", "negative"))
    assert [(p.field, p.message) for p in validate(t, COLUMNS)] == [
        ("answer_choices", "Choice 2 is empty."),
        ("answer_choices", "Choice 'negative' appears more than once.")]


def test_rank_template_without_target():
    [problem] = validate(Template("t", "{{ sentence }}", "", ("negative", "positive")), COLUMNS)
    assert problem.field == "target" and "no target" in problem.message and "{{ label }}" in problem.hint


def test_gold_not_among_choices_names_value_choices_and_rows():
    t = Template("t", "{{ sentence }}", "{{ label }}", ("bad", "good"))
    problems = validate(t, COLUMNS, [ROW, SHOTS[0], SHOTS[1]])
    assert [(p.field, p.message) for p in problems] == [
        ("target", "The target 'positive' is not one of the answer choices: bad, good. (rows 1, 3)"),
        ("target", "The target 'negative' is not one of the answer choices: bad, good. (row 2)")]


def test_choice_expression_that_fails_or_renders_nothing():
    t = Template("t", "{{ q }}", "{{ a }}", "{{ options|join(' ||| ') }}")
    rows = [{"q": "?", "a": "x", "options": None}, {"q": "?", "a": "x", "options": []},
            {"q": "?", "a": "x", "options": ["x", "x"]}]
    problems = validate(t, ["q", "a", "options"], rows)
    assert [p.field for p in problems] == ["answer_choices"] * 3
    assert problems[0].message.startswith("Rendering failed: TypeError") and problems[0].message.endswith("(row 1)")
    assert problems[1].message == "The answer-choice expression rendered nothing. (row 2)"
    assert problems[2].message == "Choice 'x' appears more than once in the rendered choices 'x ||| x'. (row 3)"


def test_render_errors_on_sample_rows_are_problems_per_field():
    t = Template("t", '{{ {"a": "A"}[kind] }}', "{{ label }}", ("x", "y"), instruction="{{ 1 / zero }}")
    problems = validate(t, ["kind", "label", "zero"], [{"kind": "b", "label": "x", "zero": 0}])
    assert [p.field for p in problems] == ["instruction", "prompt"]
    assert problems[0].message == "Rendering failed: ZeroDivisionError: division by zero. (row 1)"
    assert "'b'" in problems[1].message and problems[1].message.endswith("(row 1)")


def test_many_rows_with_the_same_problem_are_reported_once():
    t = Template("t", "{{ sentence }}", "{{ label }}", ("bad", "good"))
    [problem] = validate(t, COLUMNS, [ROW] * 8)
    assert problem.message.endswith("(rows 1, 2, 3, 4, 5 and 3 more)")


def test_validate_never_raises_for_hostile_templates():
    t = Template("t", "{{ ''.__class__.__mro__ }}{{ 'a' * 10**9 }}", "{{ label }}", ("negative", "positive"))
    problems = validate(t, COLUMNS, [ROW])
    assert len(problems) == 1 and "not allowed in templates" in problems[0].message


# ---------------------------------------------------------------------------------------------------------------
# sandbox: escapes are refused with a clear message, resource use is bounded

@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self.__init__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ namespace.__init__ }}",
    "{{ sentence.format.__globals__ }}",
    "{{ answer_choices.append('x') }}",
    "{{ ('\\t' * 1000).expandtabs(100000) }}",  # str methods outside a safe list can multiply sizes
    "{{ ('a' * 1000).translate({97: 'b' * 1000}) }}",
])
def test_sandbox_escapes_are_refused(source):
    with pytest.raises(ValueError) as error:
        render(Template("t", source, "{{ label }}", ("negative", "positive")), ROW)
    message = str(error.value)
    assert message.startswith("prompt: That expression is not allowed in templates")
    assert "<module" not in message and "<function" not in message  # nothing leaks


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ 'a' * 10**9 }}", "1,000,000,000 copies of a value of length 1 is too long; the limit is 100,000"),
    ("{{ [0] * 10**6 }}", "1,000,000 copies of a value of length 1 is too long"),
    ("{{ 10**10**10 }}", "is too large a number"),
    ("{{ 2 ** 100000 }}", "2 ** 100000 is too large a number"),
    ("{% for i in range(5000) %}{% endfor %}", "range() of 5,000 items is too long; the limit is 1,000"),
    ("{{ range(10**9)|list }}", "range() of 1,000,000,000 items is too long"),
    ("{{ 'x'|center(10**9) }}", "The number 1,000,000,000 is too large for center()"),
    ("{{ 'x'.ljust(10**9) }}", "The number 1,000,000,000 is too large for ljust()"),
    ("{{ '{:>999999999}'.format(1) }}", "asks for a width over 100,000"),
    ("{{ '%999999999s' % 1 }}", "asks for a width over 100,000"),
    ("{{ '%(a)999999999s' % {'a': 1} }}", "asks for a width over 100,000"),
    ("{{ '%999999999s'|format(1) }}", "asks for a width over 100,000"),
    ("{{ ('a' * 1000)|replace('a', 'a' * 1000) }}", "replace() would build a text over 100,000 characters"),
    ("{{ range(1000)|join('a' * 100000) }}", "join() would build a text over 100,000 characters"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{{ 'x' * 100 }}{% endfor %}{% endfor %}",
     "The template writes more than 100,000 characters"),
    ("{% set x %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}{{ x|length }}",
     "The template writes more than 100,000 characters"),
    ("{% macro f() %}{% for i in range(1000) %}" + "x" * 1000 + "{% endfor %}{% endmacro %}{{ f()|length }}",
     "The template writes more than 100,000 characters"),
    ("{% filter length %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endfilter %}",
     "The template writes more than 100,000 characters"),
    ("{{ ('a' * 1000).replace('a', 'a' * 1000) }}", "replace() would build a text over 100,000 characters"),
    ("{{ ('x' * 1000).join(['a'] * 200) }}", "join() would build a text over 100,000 characters"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "Joining texts with ~ would build over 100,000 characters"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
     "The template built a value of over 100,000 characters or items"),
    ("{{ [['x' * 1000] * 1000] * 10 }}", "The template built a value of over 100,000 characters or items"),
    ("{{ ([[0] * 100000] * 1000)|sum(start=[]) }}", "The template built a value of over 100,000"),
    ("{% set s = 'a' * 100000 %}{% for x in s %}{% for y in s %}{% endfor %}{% endfor %}",
     "more than 20,000 loop steps or calls"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
     "more than 20,000 loop steps or calls"),
])
def test_resource_exhaustion_is_refused_quickly(source, expected):
    start = time.monotonic()
    with pytest.raises(ValueError) as error:
        render(Template("t", source), ROW)
    assert expected in str(error.value)
    assert "cannot exhaust the server" in str(error.value)
    assert time.monotonic() - start < 10


def test_filters_that_only_multiply_sizes_are_not_available():
    [problem] = validate(Template("t", "{{ sentence|indent(100000) }}"), COLUMNS)
    assert problem.message == "Jinja syntax error: No filter named 'indent'."


def test_endless_recursion_is_a_value_error():
    with pytest.raises(ValueError, match="calls itself too deeply"):
        render(Template("t", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), ROW)


def test_long_prompt_is_refused_with_its_length_and_the_limit():
    long_row = {"sentence": "x" * 30_000, "label": "positive"}
    with pytest.raises(ValueError) as error:
        render(SST2, long_row, [long_row] * 3)
    length = 4 * len("Review: " + "x" * 30_000 + "\nSentiment:") + 3 * (len(" positive") + 2)
    assert f"The rendered prompt is {length:,} characters long; the limit is {MAX_CHARS:,}." in str(error.value)


def test_safe_jinja_features_still_work():
    t = Template("t", "{% for w in sentence.split()[:2] %}{{ w|upper }}{{ loop.index }} {% endfor %}"
                      "{{ range(3)|join(',') }} {{ 2 ** 10 }} {{ '%05d' % 42 }} {{ '{}-{}'.format('a', 'b') }}")
    assert render(t, ROW).prompt == "A1 CHARMING2 0,1,2 1024 00042 a-b"


def test_compiled_templates_are_cached():
    from promptlab.prompts.sandbox import compile_source as _compile

    t = Template("t", "Cached {{ sentence }} " + str(time.time()))
    render(t, ROW)
    hits = _compile.cache_info().hits
    render(t, ROW)
    assert _compile.cache_info().hits > hits


# ---------------------------------------------------------------------------------------------------------------
# YAML files

def test_dump_parse_round_trip_keeps_chinese_readable():
    t = Template("chnsenticorp-test", "评论：{{ text }}\n情感：",
                 '{{ {"negative": "负面", "positive": "正面"}[label] }}', ("负面", "正面"),
                 instruction="判断评论的情感。", task="chnsenticorp", language="zh", target_delimiter="",
                 fewshot_delimiter="\n", chat=True, description="中文模板")
    text = dump_template(t)
    assert parse_template(text) == t
    assert "评论：{{ text }}" in text and "\\u" not in text  # allow_unicode: no escapes
    assert "prompt: |-\n  评论：{{ text }}\n  情感：\n" in text  # literal block for multi-line text


def test_dump_leaves_out_defaults_and_round_trips_awkward_strings():
    t = Template("t", "  indented\nline  \n", "{{ a }}", "{{ b }}|||c", target_delimiter="\n")
    assert parse_template(dump_template(t)) == t
    assert "language" not in dump_template(SST2) and "answer_choices: [negative, positive]" in dump_template(SST2)
    choices = Template("t", "p", answer_choices=("yes", "no", "1"))
    assert parse_template(dump_template(choices)).answer_choices == ("yes", "no", "1")


def test_save_and_load_file(tmp_path):
    path = tmp_path / "zh.yaml"
    t = Template("zh", "评论：{{ text }}", language="zh")
    save_template(t, path)
    assert load_template(path) == t
    assert "评论" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("text", "expected"), [
    ("name: t\nprompt: {{ text }}\n", "bad.yaml, line 2, column 10: invalid YAML"),
    ("name: t\nprompt: [a\n", "bad.yaml, line 3, column 1: invalid YAML"),
    ("name: t\nprompt: a\ntarget: {{ label }}\n", "quote values that start with '{'"),
    ("name: t\npromt: a\n", "bad.yaml, line 2: unknown key 'promt'. Did you mean 'prompt'? Allowed keys: name, prompt"),
    ("name: t\nprompt: a\nanswer_choices: [yes, no]\n", "bad.yaml, line 3, field 'answer_choices': choice 1 is True"),
    ("name: t\nprompt: a\nchat: maybe\n", "field 'chat': must be true or false"),
    ("name: t\nprompt: 3\n", "bad.yaml, line 2, field 'prompt': must be text, not 3. Fix: quote it"),
    ("name: t\nprompt: a\nanswer_choices: 3\n", "must be a list of choices or text"),
    ("prompt: a\n", "bad.yaml: missing required key 'name:'"),
    ("- a\n- b\n", "bad.yaml: a template file must be a YAML mapping"),
    ("", "must be a YAML mapping with keys such as name: and prompt:, not an empty file"),
])
def test_yaml_errors_name_file_place_and_fix(text, expected):
    with pytest.raises(ValueError) as error:
        parse_template(text, "bad.yaml")
    assert expected in str(error.value)


def test_yaml_null_fields_take_defaults_and_int_choices_become_text():
    t = parse_template("name: t\nprompt: p\ntarget:\nanswer_choices: [1, 2]\n")
    assert (t.target, t.answer_choices, t.target_delimiter) == ("", ("1", "2"), " ")


def test_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="Cannot read template file"):
        load_template(tmp_path / "nope.yaml")


def test_list_and_find_templates(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_TEMPLATES", str(tmp_path))
    save_template(Template("b-second", "{{ x }}"), tmp_path / "b-second.yaml")
    save_template(Template("a-first", "{{ x }}"), tmp_path / "zzz.yaml")
    assert [t.name for t in list_templates()] == ["a-first", "b-second"]
    assert find_template("b-second").name == "b-second"
    assert find_template(tmp_path / "zzz.yaml").name == "a-first"
    with pytest.raises(ValueError, match=r"Unknown template 'b-secnd'. Did you mean: b-second\?"):
        find_template("b-secnd")
    assert list_templates(tmp_path / "missing") == []


# ---------------------------------------------------------------------------------------------------------------
# YAML files from strangers: bounded sizes, readable errors for deep nesting and aliases, names that fit files

def test_yaml_files_and_fields_have_a_size_limit():
    with pytest.raises(ValueError, match=r"^big\.yaml: the file is 100,\d\d\d characters long; a template file may "
                                         r"have at most 100,000\. Shorten its fields\.$"):
        parse_template("name: t\nprompt: a\ndescription: '" + "x" * 100_000 + "'\n", "big.yaml")
    with pytest.raises(ValueError, match=r"^big\.yaml, line 3, field 'instruction': 10,001 characters is too long; "
                                         r"a template field may have at most 10,000\.$"):
        parse_template("name: t\nprompt: a\ninstruction: '" + "x" * 10_001 + "'\n", "big.yaml")
    with pytest.raises(ValueError, match=r"field 'answer_choices': 10,002 characters is too long"):
        parse_template("name: t\nprompt: a\nanswer_choices: ['" + "x" * 5001 + "', '" + "y" * 5001 + "']\n")


def test_deeply_nested_yaml_is_a_readable_error():
    """Was a RecursionError traceback."""
    with pytest.raises(ValueError, match=r"^deep\.yaml: the YAML nests lists or mappings too deeply to read\."):
        parse_template("name: t\nprompt: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")


@pytest.mark.parametrize("key", ["answer_choices", "chat", "prompt"])
def test_yaml_aliases_never_blow_up_a_message(key):
    """An alias bomb is small in memory (shared lists) but huge written out (13 MB here): messages show an excerpt."""
    levels = ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 7)]
    start = time.perf_counter()
    with pytest.raises(ValueError) as error:
        parse_template(f"name: t\nprompt: p\n{key}: [[{', '.join(levels)}]]\n", "bomb.yaml")
    assert time.perf_counter() - start < 5
    assert str(error.value).startswith(f"bomb.yaml, line 3, field '{key}': ") and len(str(error.value)) < 500


def test_library_file_name_rule():
    assert library_file_name("sst2-review_2.v1") == "sst2-review_2.v1.yaml"
    assert library_file_name("情感-评论") == "情感-评论.yaml"
    for bad in ("../../escaped", "a/b", "..", ".hidden", "-x", "a b", ""):
        with pytest.raises(ValueError, match=r"cannot be a file name: use letters, digits, '-', '_' and '\.'"):
            library_file_name(bad)
    with pytest.raises(ValueError, match=r"^The template name is 300 characters long; a library template's name "
                                         r"\(its file name\) may have at most 100"):
        library_file_name("a" * 300)
    with pytest.raises(ValueError, match="is 90 characters long"):
        library_file_name("情" * 90)  # 270 bytes in UTF-8: too long for a file name


def test_names_too_long_for_a_file_give_a_message_not_an_os_error(tmp_path, monkeypatch):
    """find_template("a" * 300) raised OSError: File name too long."""
    monkeypatch.setenv("PROMPTLAB_TEMPLATES", str(tmp_path))
    with pytest.raises(ValueError, match=r"^Unknown template 'a+\.\.\.a+'\. Give a shipped template's name"):
        find_template("a" * 300)
    with pytest.raises(ValueError, match=r"^Cannot read template file .*: File name too long\."):
        find_template("a" * 300 + ".yaml")


def test_template_files_that_are_no_regular_utf8_files(tmp_path):
    with pytest.raises(ValueError, match=r"^Cannot read template file .*: Is a directory\.$"):
        load_template(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\nprompt: x\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.yaml: it is not UTF-8 text \(byte 9\)\. Save it as UTF-8\.$"):
        load_template(tmp_path / "latin1.yaml")


# ---------------------------------------------------------------------------------------------------------------
# PromptSource's conventions (issue 13): class numbers, and "input ||| target" rendered whole, then split

CLASSY = Template("classy", "Review: {{ text }}\nSentiment:", "{{ answer_choices[label] }}", ("bad", "good"),
                  class_labels={"label": ["negative", "positive"]})


def test_class_labels_turn_label_names_into_class_numbers():
    """answer_choices[label] failed on every row with a label name (PromptLab's datasets)."""
    targets = [render(CLASSY, {"text": "x", "label": label}).target for label in ("negative", "positive")]
    assert targets == ["bad", "good"]
    assert render(CLASSY, {"text": "x", "label": 1}).gold == 1  # numbers stay numbers
    assert render(CLASSY, {"text": "x", "label": " 0 "}).target == "bad"  # integer labels read from a CSV
    demo = render(CLASSY, {"text": "x", "label": "positive"}, shots=[{"text": "y", "label": "negative"}])
    assert demo.prompt == "Review: y\nSentiment: bad\n\nReview: x\nSentiment:"
    with pytest.raises(ValueError, match=r"^class_labels: Column 'label' holds 'neutral', which is not one of the "
                                         r"template's class labels for it \(negative, positive\)\. List the data's "
                                         r"label names in class order"):
        render(CLASSY, {"text": "x", "label": "neutral"})
    assert render(CLASSY, {"text": "x", "label": None}).gold is None  # an unlabelled row stays unlabelled


def test_class_labels_are_checked_and_reported_per_row():
    rows = [{"text": "a", "label": "positive"}, {"text": "b", "label": "neutral"}, {"text": "c", "label": "meh"}]
    assert [str(p) for p in validate(CLASSY, ["text", "label"], rows)] == [
        "class_labels: Column 'label' holds 'neutral', which is not one of the template's class labels for it "
        "(negative, positive). (row 2) List the data's label names in class order (the first is class 0), e.g. "
        "label: negative ||| positive.",
        "class_labels: Column 'label' holds 'meh', which is not one of the template's class labels for it "
        "(negative, positive). (row 3) List the data's label names in class order (the first is class 0), e.g. "
        "label: negative ||| positive."]
    doubled = Template("t", "{{ text }}", "{{ answer_choices[label] }}", ("a", "b"), class_labels={"label": ["x", "x"]})
    assert "Class label 'x' of column 'label' appears more than once." in str(validate(doubled, None)[0])


def test_class_labels_in_yaml_round_trip_and_bad_ones_are_explained():
    text = dump_template(CLASSY)
    assert "class_labels:\n  label: [negative, positive]\n" in text and parse_template(text) == CLASSY
    with pytest.raises(ValueError, match=r"line 3, field 'class_labels': must map each column to its label names "
                                         r"in class order, e\.g\. class_labels: \{label: \[negative, positive\]\}"):
        parse_template("name: t\nprompt: x\nclass_labels: [negative, positive]\n")
    with pytest.raises(ValueError, match=r"'label' must be a column name with a list of label names"):
        parse_template("name: t\nprompt: x\nclass_labels: {label: negative}\n")
    with pytest.raises(ValueError, match=r"column 'label': label name 1 is False, not text"):
        parse_template("name: t\nprompt: x\nclass_labels: {label: [no, yes]}\n")


WHOLE = Template("whole", "{% if text %}Review: {{ text }}\nSentiment: ||| {{ answer_choices[label] }}{% endif %}",
                 answer_choices=("bad", "good"), class_labels={"label": ["negative", "positive"]})


def test_a_prompt_with_the_separator_is_rendered_whole_then_split():
    """An {% if %} that opens before '|||' and closes after it failed with "unknown tag 'endif'" (TREC)."""
    assert WHOLE.split_at_render and validate(WHOLE, ["text", "label"], [{"text": "a", "label": "positive"}]) == []
    example = render(WHOLE, {"text": "fun", "label": "positive"})
    assert (example.prompt, example.target, example.gold) == ("Review: fun\nSentiment:", "good", 1)
    shot = render(WHOLE, {"text": "fun", "label": "positive"}, shots=[{"text": "dull", "label": "negative"}])
    assert shot.prompt == "Review: dull\nSentiment: bad\n\nReview: fun\nSentiment:"
    # a row the template does not apply to renders nothing, as in PromptSource: no prompt, no gold, no problem
    assert render(WHOLE, {"text": "", "label": "negative"}).prompt == ""
    assert validate(WHOLE, ["text", "label"], [{"text": "", "label": "negative"}]) == []
    with pytest.raises(ValueError, match="The template renders nothing for a demonstration row"):
        render(WHOLE, {"text": "fun", "label": "positive"}, shots=[{"text": "", "label": "negative"}])
    # a value's own '|||' is text, not the separator
    assert render(WHOLE, {"text": "a ||| b", "label": "negative"}).prompt == "Review: a ||| b\nSentiment:"
    assert render_content_free(WHOLE).prompt == "Review: N/A\nSentiment:"  # label: only the target reads it


def test_problems_of_the_whole_form():
    both = Template("t", "{{ text }} ||| {{ label }}", "{{ label }}", ("a", "b"))
    assert not both.split_at_render
    assert any("The prompt has '|||' (PromptSource form: input ||| target) and the target field is set too."
               in str(p) for p in validate(both, None))
    twice = Template("t", "{{ text }} ||| a ||| b", answer_choices=("a", "b"))
    assert any("The prompt has '|||' 2 times" in str(p) for p in validate(twice, None))
    loop = Template("t", "{% for x in [1, 2] %}{{ text }} ||| {% endfor %}")
    with pytest.raises(ValueError, match=r"The prompt rendered '\|\|\|' 2 times"):
        render(loop, {"text": "a"})
    wrong = Template("t", "{{ text }} ||| {{ text }}", answer_choices=("a", "b"))
    assert [str(p) for p in validate(wrong, ["text"], [{"text": "c"}])] == [
        "prompt: The target 'c' (after '|||') is not one of the answer choices: a, b. (row 1) Make the part after "
        "'|||' render one of the choices."]
