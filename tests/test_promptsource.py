"""Import of PromptSource templates.yaml files."""

import time

import pytest

from promptlab.prompts.promptsource import import_promptsource
from promptlab.prompts.render import render, validate
from promptlab.prompts.values import Template

# Two templates in PromptSource's own format (modelled on promptsource/templates/glue/sst2/templates.yaml).
SST2_PROMPTSOURCE = """\
dataset: glue
subset: sst2
templates:
  11d1c505-9232-4c35-82a4-4c3642843e2e: !Template
    answer_choices: negative ||| positive
    id: 11d1c505-9232-4c35-82a4-4c3642843e2e
    jinja: '{{sentence}}

      Question: Was that sentence {{"positive"}} or {{"negative"}}? Answer: ||| {{ answer_choices[label] }}'
    metadata: !TemplateMetadata
      choices_in_prompt: true
      languages:
      - en
      metrics:
      - Accuracy
      original_task: true
    name: positive negative after
    reference: ''
  63c6b2be-8ecd-42ad-88c7-0d1dc1a8323a: !Template
    answer_choices: sad ||| happy
    id: 63c6b2be-8ecd-42ad-88c7-0d1dc1a8323a
    jinja: 'Someone sent me an email with the sentence "{{sentence}}". Do you think
      they are feeling {{"good"}} or {{"bad"}}? ||| {% if label == 1 %}happy{% else %}sad{% endif %}'
    metadata: !TemplateMetadata
      choices_in_prompt: false
      languages:
      - en
      metrics:
      - Accuracy
      original_task: false
    name: happy or mad
    reference: Sanh et al. 2022
"""


def test_import_maps_fields():
    first, second = import_promptsource(SST2_PROMPTSOURCE)
    assert first == Template(
        name="sst2-positive-negative-after",
        prompt='{{sentence}}\nQuestion: Was that sentence {{"positive"}} or {{"negative"}}? Answer:',
        target="{{ answer_choices[label] }}",
        answer_choices=("negative", "positive"),
        task="sst2",
        language="en",
        description="PromptSource template 'positive negative after' for glue/sst2 (metrics: Accuracy; original task).",
        class_labels={"label": ("negative", "positive")},  # glue/sst2's ClassLabel: label names read as numbers
    )
    assert (second.name, second.answer_choices, second.reference) == ("sst2-happy-or-mad", ("sad", "happy"),
                                                                      "Sanh et al. 2022")
    assert second.target == "{% if label == 1 %}happy{% else %}sad{% endif %}"
    assert second.description.endswith("(metrics: Accuracy).")


def test_imported_templates_render_with_integer_labels():
    first, second = import_promptsource(SST2_PROMPTSOURCE)
    row = {"sentence": "a gorgeous film .", "label": 1}
    example = render(first, row)
    assert example.prompt == "a gorgeous film .\nQuestion: Was that sentence positive or negative? Answer:"
    assert (example.target, example.gold) == ("positive", 1)
    assert render(second, {"sentence": "dull .", "label": 0}).gold == 0
    assert validate(first, ["sentence", "label"], [row, {"sentence": "dull .", "label": 0}]) == []


def test_imported_templates_render_with_label_names():
    """Issue 13: answer_choices[label] failed on every row PromptLab loads (label names, not integers)."""
    first, second = import_promptsource(SST2_PROMPTSOURCE)
    rows = [{"sentence": "a gorgeous film .", "label": "positive"}, {"sentence": "dull .", "label": "negative"}]
    assert validate(first, ["sentence", "label"], rows) == validate(second, ["sentence", "label"], rows) == []
    assert [(render(first, row).target, render(first, row).gold) for row in rows] == [("positive", 1), ("negative", 0)]
    assert [render(second, row).target for row in rows] == ["happy", "sad"]
    two_shot = render(first, rows[0], shots=rows)
    assert two_shot.prompt.count("Answer: positive") == 1 and two_shot.prompt.count("Answer: negative") == 1


def test_class_labels_given_at_import_override_the_known_ones():
    (first, _) = import_promptsource(SST2_PROMPTSOURCE, class_labels={"label": ["bad", "good"]})
    assert first.class_labels == (("label", ("bad", "good")),)
    assert render(first, {"sentence": "x", "label": "good"}).target == "positive"
    with pytest.raises(ValueError, match=r"^class_labels: Column 'label' holds 'positive', which is not one of the "
                                         r"template's class labels for it \(bad, good\)\. List the data's label names"):
        render(first, {"sentence": "x", "label": "positive"})


def test_answer_choices_label_with_label_names_explains_the_integer_convention():
    """A dataset PromptLab knows no class names for: the import keeps the text, rendering says what to do."""
    first, _ = import_promptsource(SST2_PROMPTSOURCE.replace("dataset: glue", "dataset: my_glue"))
    assert first.class_labels == ()
    with pytest.raises(ValueError, match=r"target: .*answer_choices\[label\] needs an integer label .* list them in "
                                         r"class order under class_labels"):
        render(first, {"sentence": "a gorgeous film .", "label": "positive"})


def test_jinja_answer_choices_stay_an_expression_and_prompt_only_templates_have_no_target(tmp_path):
    text = """\
dataset: super_glue
subset: copa
templates:
  abc: !Template
    answer_choices: '{{ choice1 }} ||| {{ choice2 }}'
    jinja: '{{ premise }} What happened next? ||| {{ answer_choices[label] }}'
    metadata: !TemplateMetadata
      languages: [en]
    name: What happened NEXT?!
  def: !Template
    answer_choices: null
    jinja: 'Summarize: {{ premise }}'
    name: summarize
"""
    path = tmp_path / "templates.yaml"
    path.write_text(text, encoding="utf-8")
    choice, summary = import_promptsource(path)
    assert (choice.name, choice.answer_choices, choice.task) == ("copa-what-happened-next",
                                                                 "{{ choice1 }} ||| {{ choice2 }}", "copa")
    row = {"premise": "It rained.", "choice1": "The grass got wet.", "choice2": "The sun shone.", "label": 0}
    assert render(choice, row).choices == ("The grass got wet.", "The sun shone.")
    assert render(choice, row).gold == 0
    assert (summary.target, summary.mode) == ("", "generate")
    assert import_promptsource(str(path))[0] == choice


@pytest.mark.parametrize(("text", "expected"), [
    ("dataset: x\ntemplates:\n  a: !!python/object/apply:os.system ['echo hi']\n", "invalid PromptSource YAML"),
    ("dataset: x\ntemplates: [1, 2]\n", "not a PromptSource templates file"),
    ("dataset: x\ntemplates:\n  a: !Template\n    name: n\n", "template a has no 'jinja' field"),
    ("dataset: x\ntemplates:\n  a: !Template\n    name: n\n    jinja: a ||| b ||| c\n", "more than one '|||'"),
])
def test_bad_files_are_value_errors(text, expected):
    with pytest.raises(ValueError, match=expected):
        import_promptsource(text)


def test_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="Cannot read PromptSource file"):
        import_promptsource(str(tmp_path / "templates.yaml"))


def test_colliding_names_get_an_id_suffix():
    text = ("dataset: d\ntemplates:\n  aaaa1111-x: !Template\n    jinja: a\n    name: same\n"
            "  bbbb2222-y: !Template\n    jinja: b\n    name: Same\n")
    assert [t.name for t in import_promptsource(text)] == ["d-same", "d-same-bbbb2222"]


def test_a_long_one_line_text_is_read_as_yaml_not_as_a_path():
    """A line too long for a file name raised OSError: File name too long."""
    with pytest.raises(ValueError, match="not a PromptSource templates file"):
        import_promptsource("x" * 300)


def test_deeply_nested_yaml_is_a_value_error():
    with pytest.raises(ValueError, match=r"<PromptSource text>: the YAML nests lists or mappings too deeply"):
        import_promptsource("dataset: d\ntemplates: " + "[" * 5000 + "]" * 5000 + "\n")


def test_a_list_where_text_belongs_is_refused_not_written_out():
    """An alias bomb in `jinja` (small in memory, 2.6 million items written out) was turned into text."""
    levels = ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 7)]
    text = f"dataset: d\nbomb: [{', '.join(levels)}]\ntemplates:\n  a: !Template\n    jinja: *a6\n    name: n\n"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"^<PromptSource text>: template 'n': jinja: expected text, found a list\.$"):
        import_promptsource(text)
    assert time.perf_counter() - start < 5


def test_files_are_read_up_to_a_limit(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("dataset: d\n# " + "x" * 1_000_000 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"the file is over 1,000,000 characters long; a PromptSource file may have "
                                         r"at most 1,000,000"):
        import_promptsource(path)
