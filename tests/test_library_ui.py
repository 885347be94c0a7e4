"""The Studio's library handlers called directly (no browser): save with the overwrite question, the per-page list,
rename and delete, YAML and PromptSource import, and each visitor's own library on a public app (issue 13, item 4)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from promptlab import settings
from promptlab.prompts import library
from promptlab.prompts.files import save_template
from promptlab.prompts.values import Template
from promptlab.ui import editor, library_view, state
from promptlab.ui.tabs import data, studio

SHIPPED = "demo-reviews-sentiment"
MINE = Template("my-review", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive"))
PROMPTSOURCE = """\
dataset: glue
subset: sst2
templates:
  a1: !Template
    answer_choices: negative ||| positive
    jinja: '{{sentence}} Was that sentence positive or negative? ||| {{ answer_choices[label] }}'
    name: positive negative after
  b2: !Template
    answer_choices: bad ||| good
    jinja: '{% if sentence %}{{sentence}} Good or bad? ||| {{ answer_choices[label] }}{% endif %}'
    name: good or bad
"""


def fields(template: Template) -> tuple:
    return editor.fields_from_template(template)


def page(session: str) -> SimpleNamespace:
    """A page's request (gradio gives handlers its session)."""
    return SimpleNamespace(session_hash=session)


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_USER_TEMPLATES", str(tmp_path / "mine"))
    return tmp_path / "mine"


def test_saving_over_a_shipped_template_is_refused_in_both_languages():
    """The Studio saved into the shipped library: any visitor of a Space overwrote it, silently."""
    path = settings.templates_dir() / f"{SHIPPED}.yaml"
    before = path.read_bytes()
    changed = Template(SHIPPED, "Vandalised {{ text }}", "{{ label }}", ("negative", "positive"))
    with pytest.raises(gr.Error, match=f"{SHIPPED} is a shipped template, and shipped templates are read-only"):
        studio.save_to_library(*fields(changed), "en")
    with pytest.raises(gr.Error, match="内置模板只读"):
        studio.save_to_library(*fields(changed), "zh")
    assert path.read_bytes() == before


def test_saving_over_your_own_asks_first(own_folder):
    message, pick, overwrite, asked = studio.save_to_library(*fields(MINE), "en")
    assert message == "Saved to your library as `my-review`" and pick["value"] == "my-review"
    assert ("my-review · yours", "my-review") in pick["choices"] and overwrite["visible"] is False
    changed = Template(MINE.name, "Verdict on {{ text }}:", "{{ label }}", ("negative", "positive"))
    message, pick, overwrite, asked = studio.save_to_library(*fields(changed), "en")
    assert message == "You already have a template named `my-review`. Overwrite it?"
    assert overwrite["visible"] is True and asked == "my-review" and pick is gr.skip() or pick == gr.skip()
    assert library.templates()["my-review"] == MINE  # nothing written yet
    # the name typed since the question is another template: it is asked about (or saved) on its own
    other = Template("another", "{{ text }}")
    message, *_ = studio.overwrite_in_library(*fields(other), asked, "en")
    assert message == "Saved to your library as `another`"
    message, _, overwrite, asked = studio.overwrite_in_library(*fields(changed), "my-review", "zh")
    assert message == "已保存到我的模板库：`my-review`" and overwrite["visible"] is False and asked is None
    assert library.templates()["my-review"] == changed


def test_the_list_is_this_visitors_and_read_again_for_every_page():
    """A saved template appeared in a new page's list only after a restart (the choices were fixed at build)."""
    pick, info = library_view.refresh(None, "en", page("first"))
    assert ("my-review · yours", "my-review") not in pick["choices"]
    library.save(MINE)  # saved by another page, or the command line
    pick, info = library_view.refresh(None, "en", page("second"))
    assert ("my-review · yours", "my-review") in pick["choices"] and (SHIPPED, SHIPPED) in pick["choices"]
    assert info.endswith("· 1 of yours")
    pick, info = library_view.refresh("my-review", "zh", page("second"))
    assert ("my-review · 我的", "my-review") in pick["choices"] and "value" not in pick  # the pick stays
    assert "是你的模板" in info
    library.delete("my-review")
    pick, _ = library_view.refresh("my-review", "en", page("second"))
    assert pick["value"] is None  # gone: nothing picked


def test_the_page_load_refreshes_the_list():
    from promptlab.ui.app import build_app

    app = build_app()
    loads = [fn for fn in app.fns.values() if getattr(fn.fn, "__name__", "") == "refresh"]
    assert loads and any(fn.outputs and fn.outputs[0].elem_id == "studio-library" for fn in loads)


def test_info_says_shipped_templates_are_read_only():
    assert "`demo-reviews-sentiment` is a shipped template: read-only" in \
        library_view.describe(SHIPPED, "en", page("p"))


def test_rename_and_delete_only_your_own():
    library.save(MINE)
    message, pick, info, box, editor_name = library_view.rename("my-review", "better-review", "my-review", "en")
    assert message == "Renamed `my-review` to `better-review`" and pick["value"] == "better-review"
    assert box == "" and editor_name == "better-review"  # the editor showed it: its name follows
    *_, editor_name = library_view.rename("better-review", "best-review", "something else", "en")
    assert editor_name == gr.skip()
    with pytest.raises(gr.Error, match="only your own templates can be renamed or deleted"):
        library_view.rename(SHIPPED, "mine-now", "", "en")
    with pytest.raises(gr.Error, match="Pick one of your templates"):
        library_view.ask_delete(None, "en")
    question, confirm = library_view.ask_delete("best-review", "en")
    assert question == "Delete your template `best-review`? This cannot be undone." and confirm["visible"] is True
    message, pick, info, confirm = library_view.delete("best-review", "en")
    assert message == "Deleted `best-review`" and pick["value"] is None and confirm["visible"] is False
    assert library.templates().keys() == library.templates(None).keys() and "best-review" not in library.templates()
    with pytest.raises(gr.Error, match="only your own"):
        library_view.delete(SHIPPED, "en")
    assert (settings.templates_dir() / f"{SHIPPED}.yaml").is_file()


def test_a_promptlab_yaml_file_loads_into_the_editor(tmp_path):
    """There was no way to load a YAML file back into the editor."""
    path = tmp_path / "draft.yaml"
    save_template(MINE, path)
    *values, message, row, _, texts = library_view.import_file(str(path), "en")
    assert editor.template_from_fields(*values) == MINE and row["visible"] is False and texts is None
    assert message == "Loaded `my-review` from `draft.yaml` into the editor. Save it to keep it in your library."
    assert "my-review" not in library.templates()  # loaded, not saved
    path.write_text("name: x\nprompt: {{ text }}\n", encoding="utf-8")
    with pytest.raises(gr.Error, match=r"draft\.yaml, line 2, column 10: invalid YAML"):
        library_view.import_file(str(path), "en")


def test_a_promptsource_file_imports_one_into_the_editor_or_all_into_the_library(tmp_path):
    """PromptSource import was a Python function only: no Studio button."""
    path = tmp_path / "templates.yaml"
    path.write_text(PROMPTSOURCE, encoding="utf-8")
    *values, message, row, picker, texts = library_view.import_file(str(path), "en")
    assert all(v == gr.skip() for v in values) and row["visible"] is True
    assert picker["choices"] == ["sst2-positive-negative-after", "sst2-good-or-bad"] and len(texts) == 2
    assert "2 PromptSource templates for `sst2`" in message and "label\\: negative, positive" in message
    one = editor.template_from_fields(*library_view.load_imported(texts, "sst2-good-or-bad", "en"))
    assert one.split_at_render and one.class_labels == (("label", ("negative", "positive")),)
    assert fields(one)[-1] == "label: negative ||| positive"  # the editor shows (and keeps) the class labels

    message, pick, info, replace = library_view.import_all(texts, "en")
    assert message == "Imported 2 template(s) into your library" and replace["visible"] is False
    assert ("sst2-good-or-bad · yours", "sst2-good-or-bad") in pick["choices"]
    message, _, _, replace = library_view.import_all(texts, "zh")
    assert message.startswith("你已有以下名称的模板：`sst2-positive-negative-after`, `sst2-good-or-bad`")
    assert replace["visible"] is True
    message, *_ = library_view.replace_all(texts, "en")
    assert message == "Imported 2 template(s) into your library"


def test_an_imported_template_previews_on_label_names(tiny_model_dir, monkeypatch, tmp_path):
    """Loaded into the editor, a PromptSource template scores on PromptLab's data (label names): the editor keeps
    its class labels and its '|||' form."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    state.configure(model_id=str(tiny_model_dir), allow_training=True)
    try:
        path = tmp_path / "templates.yaml"
        path.write_text(PROMPTSOURCE.replace("sentence", "text"), encoding="utf-8")
        texts = library_view.import_file(str(path), "en")[-1]
        values = library_view.load_imported(texts, "sst2-good-or-bad", "en")
        sel = data.load_source("demo-reviews", None, "en")
        problems = studio.check(*values, sel, "en")[2]
        assert problems == "✓ **No problems**"
        metrics, table, _ = studio.preview(*values, sel, 4, 1, "random", 0, False, "en")
        assert set(table["value"]["gold"]) == {"bad", "good"} and "acc" in metrics
    finally:
        state.configure()


def test_each_visitor_of_a_public_app_sees_and_changes_only_their_own(monkeypatch):
    monkeypatch.setenv("PROMPTLAB_PUBLIC", "1")
    alice, bob = page("alice-page"), page("bob-page")
    state.remember_owner("alice-secret-" + "x" * 20, alice)
    state.remember_owner("bob-secret-" + "y" * 20, bob)
    studio.save_to_library(*fields(MINE), "en", request=alice)
    assert ("my-review · yours", "my-review") in library_view.refresh(None, "en", alice)[0]["choices"]
    assert ("my-review · yours", "my-review") not in library_view.refresh(None, "en", bob)[0]["choices"]
    with pytest.raises(gr.Error, match="Pick one of your templates"):
        library_view.delete("my-review", "en", request=bob)
    message, *_ = studio.save_to_library(*fields(Template("my-review", "Bob's {{ text }}")), "en", request=bob)
    assert message == "Saved to your library as `my-review`"  # his own, beside Alice's
    assert studio.load_template("my-review", "en", request=alice)[2] == MINE.prompt
    assert studio.load_template("my-review", "en", request=bob)[2] == "Bob's {{ text }}"
    assert "my-review" not in library.templates()  # the local library holds neither
