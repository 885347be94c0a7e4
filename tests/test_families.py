"""Three families behind one interface: the family is found from the config, a template a family cannot serve is
refused with what to do, cloze templates render with the model's mask token and score end to end (few-shot,
calibration), adapters of another family are refused, and `promptlab score` scores with several models."""

from __future__ import annotations

import json

import pytest

from promptlab.cli import main
from promptlab.models.families import CAUSAL, MASKED, SEQ2SEQ, detect_family, read_family
from promptlab.models.lm import load_lm
from promptlab.models.requests import Request
from promptlab.prompts.render import is_cloze, render, render_content_free, validate
from promptlab.prompts.values import Template
from promptlab.scoring.experiment import Protocol, content_free_examples, score_template

CLOZE = Template("cloze", "{{ sentence }} It was {{ mask }}.", '{{ {"negative": "terrible", "positive": "great"}'
                 '[label] }}', ("terrible", "great"))
PLAIN = Template("plain", "Review: {{ sentence }}\nSentiment:", "{{ label }}", ("negative", "positive"))
GENERATE = Template("gen", "Review: {{ sentence }}\nSentiment:", "{{ label }}")
ROWS = [{"sentence": f"a {'great' if i % 2 else 'terrible'} movie {i}",
         "label": "positive" if i % 2 else "negative"} for i in range(8)]


def test_the_family_comes_from_the_config(tiny_model_dir, tiny_t5_dir, tiny_bert_dir, tiny_roberta_dir):
    assert [read_family(d) for d in (tiny_model_dir, tiny_t5_dir, tiny_bert_dir, tiny_roberta_dir)] == \
        [CAUSAL, SEQ2SEQ, MASKED, MASKED]
    assert detect_family({"model_type": "bert"}) == MASKED  # no architectures saved: BERT-likes are masked LMs
    assert detect_family({"model_type": "bert", "is_decoder": True}) == CAUSAL
    assert detect_family({"model_type": "llama"}) == CAUSAL
    assert detect_family({"model_type": "t5", "is_encoder_decoder": True}) == SEQ2SEQ
    with pytest.raises(ValueError, match="'vit'\\) is not a language model PromptLab can score"):
        detect_family({"model_type": "vit", "architectures": ["ViTModel"]})


def test_a_models_family_is_known_without_loading_it(tiny_bert_dir, tiny_t5_dir):
    from promptlab.models.registry import list_models, model_family

    assert model_family(str(tiny_bert_dir)) == MASKED and model_family(str(tiny_t5_dir)) == SEQ2SEQ
    assert model_family("smollm2-135m-instruct") == CAUSAL and {m.family for m in list_models()} == {CAUSAL}
    with pytest.raises(ValueError, match="not available offline"):
        model_family("no-such-org/no-such-model-xyz")


def test_cloze_templates_render_the_models_mask_and_show_answers_in_demonstrations():
    assert is_cloze(CLOZE) and not is_cloze(PLAIN)
    example = render(CLOZE, ROWS[1], shots=[ROWS[0]], mask="<mask>")
    assert example.prompt == "a terrible movie 0 It was terrible.\n\na great movie 1 It was <mask>."
    assert (example.choices, example.gold) == (("terrible", "great"), 1)
    assert render(CLOZE, ROWS[1]).prompt == "a great movie 1 It was [MASK]."  # without a model: readable default
    assert render_content_free(CLOZE, filler="N/A").prompt == "N/A It was [MASK]."
    # calibration's "[MASK]" filler would be a second slot for BERT: left out for cloze templates
    assert [e.prompt for e in content_free_examples(CLOZE)] == ["N/A It was [MASK].", " It was [MASK]."]
    assert len(content_free_examples(CLOZE, mask="<mask>")) == 3


def test_validation_keeps_the_mask_in_cloze_prompts():
    assert validate(CLOZE, ["sentence", "label"], ROWS) == []  # mask is not a column
    problems = [str(p) for p in validate(Template("t", "{{ sentence }} It was {{ mask }}.", "{{ label }}",
                                                  instruction="Fill {{ mask }}."), ["sentence", "label"])]
    assert any(p.startswith("instruction: {{ mask }} is the answer slot of a cloze prompt") for p in problems)
    assert any("A cloze template ({{ mask }} in the prompt) needs answer choices" in p for p in problems)


def test_a_template_the_family_cannot_serve_is_refused_with_what_to_do(tiny_model_dir, tiny_t5_dir, tiny_bert_dir):
    bert, llama, t5 = load_lm(str(tiny_bert_dir)), load_lm(str(tiny_model_dir)), load_lm(str(tiny_t5_dir))
    cases = [(bert, GENERATE, "masked LM .* cannot generate text. Give the template answer choices"),
             (bert, PLAIN, "masked LM: it scores the answer at a mask slot, and this template has none"),
             (llama, CLOZE, "cloze template .* needs a masked LM such as bert-base-uncased; .* decoder-only"),
             (t5, CLOZE, "cloze template .* needs a masked LM .* encoder-decoder")]
    for lm, template, message in cases:
        with pytest.raises(ValueError, match=message):
            score_template(lm, template, ROWS)
    assert score_template(t5, PLAIN, ROWS).metrics["acc"] >= 0  # and the ones that fit are scored
    assert score_template(t5, GENERATE, ROWS[:2]).mode == "generate"


@pytest.mark.parametrize("mlm", ["bert", "roberta"])
def test_cloze_scoring_end_to_end_few_shot_and_calibrated(mlm, tiny_bert_dir, tiny_roberta_dir):
    lm = load_lm(str({"bert": tiny_bert_dir, "roberta": tiny_roberta_dir}[mlm]))
    report = score_template(lm, CLOZE, ROWS[:4], Protocol(shots=2, seeds=2, generate=True), pool=ROWS[4:],
                            label_column="label")
    assert report.mode == "rank" and len(report.per_seed) == 2
    assert {"acc", "acc_calibrated", "acc_std"} <= set(report.metrics)
    assert "generated" not in report.table  # a masked LM writes nothing: the studio's free answer is left out
    zh = Template("zh", "{{ sentence }}总的来说，体验很{{ mask }}。", "{{ label }}", ("差", "好"), target_delimiter="")
    zh_rows = [{"sentence": "这部电影很好看", "label": "好"}, {"sentence": "这部电影", "label": "差"}]
    assert score_template(lm, zh, zh_rows).metrics["acc"] in (0.0, 0.5, 1.0)


def test_an_adapter_of_another_family_is_refused(tmp_path, tiny_bert_dir, tiny_t5_dir):
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    t5 = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5_dir)
    get_peft_model(t5, PromptTuningConfig(task_type="SEQ_2_SEQ_LM", num_virtual_tokens=2,
                                          num_transformer_submodules=1)).save_pretrained(tmp_path / "adapter")
    with pytest.raises(ValueError, match="does not fit model .* SEQ_2_SEQ_LM adapter and the model is masked LM"):
        load_lm(str(tiny_bert_dir), adapter=tmp_path / "adapter")
    tuned = load_lm(str(tiny_t5_dir), adapter=tmp_path / "adapter")  # on its own family's model it loads
    assert tuned.family == SEQ2SEQ and tuned.loglikelihood([Request("a great movie", "great")])[0].logprob < 0


@pytest.fixture()
def cli_task(tmp_path):
    (tmp_path / "data").mkdir()
    for split, part in (("train", ROWS[:4]), ("validation", ROWS[4:])):
        (tmp_path / "data" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    (tmp_path / "t.yaml").write_text('name: plain\nprompt: "Review: {{ sentence }}\\nSentiment:"\n'
                                     'target: "{{ label }}"\nanswer_choices: [negative, positive]\n')
    return tmp_path


def test_score_with_several_models_names_each_model_and_family(cli_task, tiny_model_dir, tiny_t5_dir, capsys):
    argv = ["score", "--template", str(cli_task / "t.yaml"), "--data", str(cli_task / "data"),
            "--model", str(tiny_model_dir), "--model", str(tiny_t5_dir)]
    assert main([*argv, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["family"], r["n"]) for r in results] == [(str(tiny_model_dir), "causal", 4),
                                                                    (str(tiny_t5_dir), "seq2seq", 4)]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-3].split()[:3] == ["model", "family", "acc"]
    assert table[-1].split()[:2] == [str(tiny_t5_dir), "seq2seq"]


def test_score_names_a_model_that_cannot_serve_the_template_before_scoring(cli_task, tiny_model_dir, tiny_bert_dir,
                                                                           capsys):
    code = main(["score", "--template", str(cli_task / "t.yaml"), "--data", str(cli_task / "data"),
                 "--model", str(tiny_model_dir), "--model", str(tiny_bert_dir), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""  # nothing was scored
    assert f"Model {tiny_bert_dir} is a masked LM" in captured.err and "Traceback" not in captured.err


def test_an_adapter_goes_with_one_model(cli_task, tiny_model_dir, tiny_t5_dir, capsys):
    code = main(["score", "--template", str(cli_task / "t.yaml"), "--data", str(cli_task / "data"), "--model",
                 str(tiny_model_dir), "--model", str(tiny_t5_dir), "--adapter", str(cli_task)])
    assert code == 2 and "--adapter fits one base model: pass one --model with it" in capsys.readouterr().err
