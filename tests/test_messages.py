"""The engine's messages: every text a visitor can read exists in English and Chinese with the same parameters, keys
used in the code exist, and errors raised by the engine are said in either language (and survive pickling, which the
model process and gradio's states do)."""

from __future__ import annotations

import pickle
import re
import string
from pathlib import Path

import pytest

import promptlab
from promptlab import messages
from promptlab.messages import Message, UserError, say
from promptlab.prompts import render
from promptlab.prompts.values import Template
from promptlab.runs import store

HAN = re.compile(r"[\u4e00-\u9fff]")
KEY_USE = re.compile(r"""(?:UserError|Message|problem|RenderError)\(\s*(?:[a-z_]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']""")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_parameters():
    assert len(messages.CATALOGUE) > 200  # the catalogue is the engine's, not a sample
    for key, (en, zh) in messages.CATALOGUE.items():
        assert en.strip() and zh.strip(), key
        assert fields(en) == fields(zh), f"{key}: {fields(en)} vs {fields(zh)}"


def test_chinese_texts_are_chinese():
    """A Chinese text with no Chinese character is an English one left over; only names and JSON words stay Latin."""
    latin = [key for key, (en, zh) in messages.CATALOGUE.items()
             if not HAN.search(zh) and re.search(r"[A-Za-z]{4,}", re.sub(r"\{[^}]*\}", "", zh))]
    assert set(latin) <= {"data.json_bool", "method.p_tuning"}, latin


def test_every_key_the_engine_uses_is_in_the_catalogue():
    engine = Path(promptlab.__file__).parent
    used = {match.group(1) for path in engine.rglob("*.py") if "ui" not in path.parts
            for match in KEY_USE.finditer(path.read_text(encoding="utf-8"))}
    assert len(used) > 100  # the scan itself works
    missing = sorted(key for key in used if key not in messages.CATALOGUE)
    assert not missing, missing


def test_a_message_is_its_english_text_and_says_itself_in_chinese():
    message = Message("run.not_yours", run="r1")
    assert message == "Run r1 was started by someone else: you can see and change only your own runs here."
    assert HAN.search(say(message, "zh")) and "r1" in say(message, "zh")
    error = UserError("run.cannot_start", run="r1", reason=Message("run.read_only"))
    assert isinstance(error, ValueError) and str(error).endswith("the runs folder is read-only here.")
    assert say(error, "zh") == "无法开始运行 r1：这里的运行文件夹是只读的。"  # the nested reason in 中文 too


def test_messages_and_errors_survive_pickling_and_json():
    error = UserError("run.cannot_start", run="r1", reason=Message("run.read_only"))
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is UserError and say(again, "zh") == say(error, "zh") and str(again) == str(error)
    assert messages.from_dict(messages.to_dict(error.message)) == error.message
    assert say(messages.from_dict(messages.to_dict(error.message)), "zh") == say(error, "zh")


@pytest.mark.parametrize("data", [
    {"key": "no.such.key", "params": {}},  # a run folder written by another version, or tampered with
    {"key": "run.not_yours", "params": {}},  # a parameter missing
    {"key": "run.not_yours", "params": "run"},
    ["run.not_yours"],
])
def test_a_damaged_stored_message_is_read_as_text_never_an_error(data):
    assert isinstance(messages.from_dict(data), str)


def test_template_problems_are_said_in_chinese():
    template = Template(name="t", prompt="Review: {{ review }}\nAnswer:", target="{{ label }}")
    problems = render.validate(template, ["text", "label"], [{"text": "good", "label": "positive"}])
    assert problems, "an unknown column is a problem"
    english, chinese = say(problems[0].as_message(), "en"), say(problems[0].as_message(), "zh")
    assert "review" in english and "review" in chinese and HAN.search(chinese) and not HAN.search(english)


def test_a_run_store_refusal_is_said_in_chinese(tmp_path):
    with pytest.raises(ValueError) as refused:
        store.get_run("no-such-run", tmp_path)
    assert HAN.search(say(refused.value, "zh")) and not HAN.search(str(refused.value))
