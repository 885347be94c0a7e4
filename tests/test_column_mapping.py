"""Column mapping: a template written for `sentence` used on data whose column is `text`, by renaming its
placeholders through Jinja's lexer and parser (never a text replace), proposed for the Studio and Compare.

Renders are real: a mapped template on the new data renders exactly what the original renders on the old data."""

from __future__ import annotations

import csv

import gradio as gr
import pytest

from promptlab.prompts import files, render
from promptlab.prompts.mapping import (
    fitting_mapping,
    missing_columns,
    propose_mapping,
    rename_in_source,
    rename_placeholders,
)
from promptlab.prompts.values import Template
from promptlab.settings import templates_dir
from promptlab.ui import column_map, editor, state
from promptlab.ui.tabs import compare, data, studio

SST2 = files.find_template("sst2-review-sentiment")  # Review: {{ sentence }} / {{ label }}
TO_TEXT = {"sentence": "text"}


# ---- renaming: only the placeholders, whatever else shares their name ------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("Review: {{ sentence }}", "Review: {{ text }}"),
    ("{{ sentence }} and {{ sentence_id }} and {{ my_sentence }}",
     "{{ text }} and {{ sentence_id }} and {{ my_sentence }}"),
    ('{{ "sentence" }} {{ \'sentence\' }} {{ sentence }}', '{{ "sentence" }} {{ \'sentence\' }} {{ text }}'),
    ("{{ row.sentence }} {{ sentence.strip() }}", "{{ row.sentence }} {{ text.strip() }}"),
    ('{{ meta["sentence"] }} {{ meta[sentence] }}', '{{ meta["sentence"] }} {{ meta[text] }}'),
    ("{{ sentence | truncate(length=5) }} {{ x | default(sentence) }}",
     "{{ text | truncate(length=5) }} {{ x | default(text) }}"),
    ("{{ f(sentence=1) }} {{ f(sentence) }}", "{{ f(sentence=1) }} {{ f(text) }}"),
    ("{{ a is sameas sentence }}", "{{ a is sameas text }}"),
    ("sentence: {# the sentence #}{% raw %}{{ sentence }}{% endraw %} {{ sentence }}",
     "sentence: {# the sentence #}{% raw %}{{ sentence }}{% endraw %} {{ text }}"),
    ("A  {{- sentence -}}  B\n{%- if sentence %} yes {%- endif %}\n",
     "A  {{- text -}}  B\n{%- if text %} yes {%- endif %}\n"),
    ("{% for w in sentence.split() %}{{ loop.index }}:{{ w }} {% endfor %}",
     "{% for w in text.split() %}{{ loop.index }}:{{ w }} {% endfor %}"),
    ("第一句：{{ sentence }}\n{{sentence}}{{sentence~'。'}}", "第一句：{{ text }}\n{{text}}{{text~'。'}}"),
    ("{% set n = sentence|length %}{{ n }}", "{% set n = text|length %}{{ n }}"),
])
def test_only_the_placeholder_is_renamed(source, expected):
    assert rename_in_source(source, TO_TEXT) == expected


def test_several_placeholders_at_once_and_a_swap():
    source = "P: {{ premise }} H: {{ hypothesis }} ({{ premise|length }})"
    assert rename_in_source(source, {"premise": "sentence1", "hypothesis": "sentence2"}) == \
        "P: {{ sentence1 }} H: {{ sentence2 }} ({{ sentence1|length }})"
    assert rename_in_source("{{ a }}-{{ b }}", {"a": "b", "b": "a"}) == "{{ b }}-{{ a }}"


def test_a_name_the_template_binds_itself_is_left_alone_or_refused():
    # a loop variable that shadows nothing the row has: not a placeholder, not renamed
    assert rename_in_source("{% for sentence in xs %}{{ sentence }}{% endfor %}", TO_TEXT) == \
        "{% for sentence in xs %}{{ sentence }}{% endfor %}"
    for source in ("{% for sentence in xs %}{{ sentence }}{% endfor %}{{ sentence }}",  # both a column and a variable
                   "{% for text in sentence %}{{ text }}{% endfor %}",                 # the new name is taken
                   "{% macro m(sentence) %}{{ sentence }}{% endmacro %}{{ m(sentence) }}"):
        with pytest.raises(ValueError, match="as a variable of its own"):
            rename_in_source(source, TO_TEXT)


@pytest.mark.parametrize("mapping, message", [
    ({"sentence": "review text"}, "Column 'review text' cannot be a placeholder"),
    ({"sentence": "mask"}, "Column 'mask' cannot be a placeholder"),
    ({"sentence": "true"}, "Column 'true' cannot be a placeholder"),
    ({"premise": "text"}, r"no placeholder \{\{ premise \}\} to map; it reads label, sentence"),
])
def test_what_cannot_be_mapped_is_said(mapping, message):
    with pytest.raises(ValueError, match=message):
        rename_placeholders(SST2, mapping)


def test_a_template_with_a_syntax_error_is_not_mapped():
    broken = Template("b", "Review: {{ sentence }", "{{ label }}", ("a", "b"))
    with pytest.raises(ValueError, match="syntax error"):
        rename_in_source(broken.prompt, TO_TEXT, "prompt")


def test_every_jinja_field_is_mapped_and_renders_as_the_original_did():
    template = Template("t", "{{ premise }}\nQ: {{ hypothesis }}?", '{{ {"entailment": "yes"}.get(label, "no") }}',
                        "{{ choice_a }} ||| {{ choice_b }}", instruction="Read {{ premise|wordcount }} words.")
    new = {"premise": "sentence1", "hypothesis": "sentence2", "label": "gold", "choice_a": "a", "choice_b": "b"}
    mapped = rename_placeholders(template, new)
    assert mapped.name == template.name and mapped.target_delimiter == template.target_delimiter
    old_row = {"premise": "It rains.", "hypothesis": "It is wet", "label": "entailment", "choice_a": "yes",
               "choice_b": "no"}
    new_row = {new[k]: v for k, v in old_row.items()}
    assert render.render(mapped, new_row) == render.render(template, old_row)
    assert render.validate(mapped, list(new_row), [new_row]) == []
    assert missing_columns(mapped, list(new_row)) == []


def test_every_library_template_maps_and_renders_the_same():
    """A real library: each template's placeholders renamed to col_<name> render the same prompts and targets."""
    for template in files.list_templates(templates_dir()):
        row = {"sentence": "a fine film", "text": "好", "label": None, "premise": "p", "hypothesis": "h",
               "question": "q?", "description": "d", "title": "t"}
        names = render.variables(template)
        row = {name: row.get(name, "x") for name in names}
        for name in names:  # a label value the template's target accepts
            if name == "label":
                row[name] = _a_working_label(template, row)
        mapped = rename_placeholders(template, {name: f"col_{name}" for name in names})
        moved = {f"col_{name}": value for name, value in row.items()}
        assert render.render(mapped, moved) == render.render(template, row), template.name


def _a_working_label(template, row):
    for label in ("negative", "positive", "entailment", "not_entailment", "joy", "World", "description", "0",
                  "abbreviation", "human", "sadness", "1"):
        try:
            render.render(template, {**row, "label": label})
            return label
        except ValueError:
            continue
    raise AssertionError(template.name)


# ---- proposing ----------------------------------------------------------------------------------------------------

def test_the_label_and_the_one_text_column_are_proposed():
    assert propose_mapping(SST2, ["review", "sentiment"], "sentiment") == {"label": "sentiment", "sentence": "review"}
    assert propose_mapping(SST2, ["idx", "Sentence", "label"], "label") == {"sentence": "Sentence"}  # same name
    assert fitting_mapping(SST2, ["sentence", "label"], "label") == {}


def test_of_several_text_columns_the_long_one_is_proposed_else_none():
    rows = [{"text": "a long review of a blender that works", "product": "blender", "label": "positive"}] * 3
    assert propose_mapping(SST2, ["text", "product", "label"], "label", rows) == {"sentence": "text"}
    similar = [{"text": "short one", "title": "another", "label": "positive"}] * 3
    assert propose_mapping(SST2, ["text", "title", "label"], "label", similar) == {}
    assert fitting_mapping(SST2, ["text", "title", "label"], "label", similar) is None


def test_close_names_and_no_guess_for_two_placeholders():
    rte = files.find_template("rte-premise-hypothesis-yes-no")
    assert propose_mapping(rte, ["premises", "hypotheses", "gold"], "gold") == \
        {"hypothesis": "hypotheses", "label": "gold", "premise": "premises"}
    assert propose_mapping(rte, ["sentence1", "sentence2", "label"], "label") == {}  # which is which: the visitor's


def test_a_generated_target_is_not_taken_for_the_label():
    headline = files.find_template("ag-news-headline")  # Story: {{ description }} -> {{ title }}
    assert propose_mapping(headline, ["text", "label"], "label") == {}


# ---- the Studio ---------------------------------------------------------------------------------------------------

@pytest.fixture()
def reviews(tmp_path):
    """An uploaded single file whose columns are `review` and `sentiment` (the label): as the Data tab leaves it."""
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "product", "sentiment"])
        for i in range(30):
            good = i % 3 == 0
            writer.writerow([f"{'Loved' if good else 'Hated'} it, a long honest review number {i}", f"p{i % 4}",
                             "positive" if good else "negative"])
    return data.load_upload(str(path), None, "en")


def test_loading_a_template_written_for_other_columns_maps_them_and_the_editor_shows_it(reviews):
    fields = studio.load_template("sst2-review-sentiment", "en")
    *mapped_fields, mapped = column_map.map_loaded(*fields, reviews, "en")
    template = editor.template_from_fields(*mapped_fields)
    assert template.prompt == "Review: {{ review }}\nSentiment:" and template.target == "{{ sentiment }}"
    assert mapped == {"template": "sst2-review-sentiment", "pairs": {"label": "sentiment", "sentence": "review"}}
    draft, placeholders, problems, rendered, yaml_text, _ = studio.check(*mapped_fields, reviews, "en")
    assert "No problems" in problems and "Review: Hated it, a long honest review number 2" in rendered
    assert "{{ review }}" in yaml_text and files.parse_template(yaml_text) == template  # what is saved and tuned
    box, note, *slots, shown = column_map.show(draft, reviews, mapped, "en")
    assert box["visible"] and "Mapped to this data's columns" in note and "`sentence` → `review`" in note
    assert [s["value"] for s in slots[:2]] == ["sentiment", "review"] and not slots[2]["visible"]
    assert slots[1]["label"] == "{{ sentence }} reads column" and "product" in slots[1]["choices"]
    assert shown == [["label", "sentiment"], ["sentence", "review"]]


def test_a_template_that_fits_is_loaded_as_written_and_shows_no_mapping(reviews):
    demo = data.load_source("demo-reviews", None, "en")
    fields = studio.load_template("demo-reviews-sentiment", "en")
    out = column_map.map_loaded(*fields, demo, "en")
    assert all(value is gr.skip() or value == gr.skip() for value in out[:-1]) and out[-1] is None
    draft = editor.template_from_fields(*fields)
    assert column_map.show(draft, demo, None, "en")[0]["visible"] is False


def test_the_visitor_changes_a_proposed_column_and_applies_it(reviews):
    fields = studio.load_template("sst2-review-sentiment", "en")  # not mapped yet: the section proposes
    draft = editor.template_from_fields(*fields)
    box, note, *slots, shown = column_map.show(draft, reviews, None, "en")
    assert "This data has no column `label`, `sentence`" in note
    assert shown == [["label", "label"], ["sentence", "sentence"]]
    assert [s["value"] for s in slots[:2]] == ["sentiment", "review"]  # proposed
    chosen = ["sentiment", "product", None, None, None, None]  # the visitor picks `product` for the text
    *new_fields, mapped = column_map.apply(*fields, *chosen, shown, None, "en")
    template = editor.template_from_fields(*new_fields)
    assert template.prompt == "Review: {{ product }}\nSentiment:" and template.target == "{{ sentiment }}"
    # ...and changes it again: the section remembers which placeholder `product` stands for
    box, note, *slots, shown = column_map.show(template, reviews, mapped, "en")
    assert shown == [["label", "sentiment"], ["sentence", "product"]]
    *new_fields, mapped = column_map.apply(*new_fields, "sentiment", "review", None, None, None, None, shown,
                                           mapped, "en")
    assert editor.template_from_fields(*new_fields).prompt == "Review: {{ review }}\nSentiment:"
    assert mapped["pairs"] == {"label": "sentiment", "sentence": "review"}


def test_applying_nothing_or_a_bad_column_is_a_readable_toast(reviews):
    fields = studio.load_template("sst2-review-sentiment", "en")
    shown = [["label", "label"], ["sentence", "sentence"]]
    with pytest.raises(gr.Error, match="Pick a column for a placeholder first"):
        column_map.apply(*fields, None, None, None, None, None, None, shown, None, "en")
    with pytest.raises(gr.Error, match="无法映射列"):
        column_map.apply(*fields, "sentiment", "review text", None, None, None, None, shown, None, "zh")


# ---- Compare --------------------------------------------------------------------------------------------------------

def test_compare_lists_only_templates_that_fit_or_fit_after_mapping(reviews):
    offered = {value: label for label, value in compare.candidate_choices("en", sel=reviews, runs=False)}
    assert offered["tpl:sst2-review-sentiment"] == "sst2-review-sentiment (mapped: label → sentiment, sentence → " \
                                                   "review)"
    assert "tpl:ag-news-headline" not in offered          # description/title: no column for them
    assert "tpl:emotion-tweet-emotion" not in offered     # maps, but its choices are not this data's labels
    assert "tpl:rte-premise-hypothesis-yes-no" not in offered
    assert "draft" in offered
    demo = data.load_source("demo-reviews", None, "en")
    on_demo = {value: label for label, value in compare.candidate_choices("zh", sel=demo, runs=False)}
    assert on_demo["tpl:demo-reviews-sentiment"] == "demo-reviews-sentiment"
    assert on_demo["tpl:sst2-review-sentiment"] == "sst2-review-sentiment（已映射：sentence → text）"
    everything = compare.candidate_choices("en", runs=False)
    assert len(everything) == len(state.library()) + 1  # no data: every template


def test_picks_that_no_longer_fit_new_data_are_dropped(reviews):
    demo = data.load_source("demo-reviews", None, "en")
    update = compare.choices_for_data(["tpl:emotion-tweet-emotion", "tpl:sst2-review-sentiment", "draft"], "en",
                                      reviews)
    assert update["value"] == ["tpl:sst2-review-sentiment", "draft"]
    assert compare.choices_for_data(["tpl:demo-reviews-recommend"], "en", demo)["value"] == \
        ["tpl:demo-reviews-recommend"]


def test_compare_scores_a_mapped_library_template_under_its_mapped_name(reviews, tiny_model_dir, monkeypatch,
                                                                      tmp_path):
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    state.configure(model_id=str(tiny_model_dir), allow_training=True)
    try:
        sel = data.change_splits("train", "validation", 4, reviews, "en")
        blank = ("",) * len(editor.FIELD_NAMES)
        result, metrics, *_ = compare.compare(*blank, ["tpl:sst2-review-sentiment"], sel, 0, 1, "random", "en",
                                              progress=lambda *a, **k: None)
        assert list(metrics["prompt"]) == ["sst2-review-sentiment [label → sentiment, sentence → review]"]
        assert result["failed"] == {} and result["metrics"]["n"].tolist() == [4]
    finally:
        state.configure()
