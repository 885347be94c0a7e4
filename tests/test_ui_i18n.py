"""The language switch covers every text: each key the UI uses exists in English and Chinese, with the same fields."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from promptlab.runs import queue
from promptlab.scoring import metrics
from promptlab.tuning import config as tuning_config
from promptlab.ui import format, i18n, state
from promptlab.ui.tabs import tune

UI_DIR = Path(i18n.__file__).parent
KEY_USE = re.compile(r"""(?:\bt|t_metric|guarded|warn)\(\s*["']([a-z_]+\.[a-z_.]+)["']"""
                     r"""|_key=["']([a-z_]+\.[a-z_.]+)["']""")


def used_keys() -> set[str]:
    keys = set()
    for path in UI_DIR.rglob("*.py"):
        for match in KEY_USE.finditer(path.read_text(encoding="utf-8")):
            keys.add(match.group(1) or match.group(2))
    return keys


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_used_key_is_translated():
    keys = used_keys()
    assert len(keys) > 100  # the scan itself works
    missing = sorted(k for k in keys if not i18n.has(k))
    assert not missing, f"keys used in promptlab/ui but missing from i18n.STRINGS: {missing}"


@pytest.mark.parametrize("family, values", [
    ("status", queue.STATUSES),
    ("method", tuning_config.METHODS),
    ("init", tuning_config.INITS),
    ("preset", tuple(tune.presets())),
    ("sampler", format.SAMPLERS),
    ("metric", tuple(m.name for m in metrics.METRICS)),
])
def test_keys_built_from_engine_values_exist(family, values):
    """Keys made at run time (f"status.{run.status}") cover every value the engine can produce."""
    missing = [v for v in values if not i18n.has(f"{family}.{v}")]
    assert not missing, f"{family}: no text for {missing}"


def test_both_languages_have_text_and_the_same_fields():
    for key, (en, zh) in i18n.STRINGS.items():
        assert en.strip() and zh.strip(), key
        assert fields(en) == fields(zh), f"{key}: {fields(en)} vs {fields(zh)}"


def test_chinese_texts_are_chinese():
    """Only names that are the same in both languages (P-tuning, ROUGE-L, a run label pattern) stay Latin."""
    latin = [k for k, (en, zh) in i18n.STRINGS.items() if not re.search(r"[\u4e00-\u9fff]", zh)]
    assert set(latin) <= {"method.p_tuning", "metric.rouge_l", "compare.run_label"}, latin


def test_t_fills_fields_and_falls_back_to_english():
    assert i18n.t("tune.step", "zh", step=3, total=10, share="30%") == "第 3 / 10 步（30%）"
    assert i18n.t("tab.data", "fr") == "1 · Data"
    assert i18n.language_of("zh") == "zh" and i18n.language_of(None) == "en"


def test_switch_relabels_every_registered_component():
    """Components built through Labels get English texts, and one update each with the Chinese ones."""
    import gradio as gr

    labels = i18n.Labels()
    with gr.Blocks():
        button = labels(gr.Button, value_key="compare.run")
        box = labels(gr.Textbox, label_key="studio.prompt", info_key="studio.prompt_info")
        labels(gr.Dropdown, label_key="tune.method", choices_fn=tune.method_choices, value="lora")
    assert button.value == "Compare" and box.label == "Prompt"
    updates = labels.updates("zh")
    assert len(updates) == len(labels.components) == 3
    assert updates[0]["value"] == "开始对比"
    assert updates[1]["label"] == "提示" and updates[1]["info"] == "模型对每一行读取的内容"
    assert ("LoRA（参照）", "lora") in updates[2]["choices"]


def test_the_app_registers_its_texts(monkeypatch):
    from promptlab.ui import app

    seen = []
    original = i18n.Labels.__init__

    def record(self):
        original(self)
        seen.append(self)

    monkeypatch.setattr(i18n.Labels, "__init__", record)
    state.configure()
    app.build_app()
    (labels,) = seen
    assert len(labels.components) > 80
    zh = labels.updates("zh")
    assert all(update for update in zh)  # every registered component has something to switch
