"""Every shipped template parses, validates and renders against the data it was written for."""

import json
import os
import re
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from promptlab import settings
from promptlab.data.datasets import load_dataset
from promptlab.prompts.files import list_templates, load_template
from promptlab.prompts.render import render, validate

SHARED = ("sst2", "ag_news", "trec", "rte", "chnsenticorp", "emotion")
DEMO = {"demo-reviews": 3, "demo-reviews-zh": 2}
N_ROWS = 50

LIBRARY = settings.templates_dir()
PATHS = sorted(LIBRARY.glob("*.yaml"))
TEMPLATES = list_templates(LIBRARY)


def _shared_rows(task: str) -> tuple[list[str], list[dict]]:
    root = settings.shared_datasets_dir()
    if root is None:
        pytest.skip("shared datasets not found (settings.shared_datasets_dir() is None; set PROMPTLAB_SHARED_DATASETS)")
    with open(Path(root) / task / "validation.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in islice(f, N_ROWS)]
    return sorted({column for row in rows for column in row}), rows


def _demo_rows(task: str) -> tuple[list[str], list[dict]]:
    dataset = load_dataset(task)
    split = "validation" if "validation" in dataset.splits else next(iter(dataset.splits))
    return list(dataset.columns), dataset.rows(split)[:N_ROWS]


def _rows(task: str) -> tuple[list[str], list[dict]]:
    return _shared_rows(task) if task in SHARED else _demo_rows(task)


def test_library_is_not_empty_and_every_file_loads():
    assert len(PATHS) == len(TEMPLATES) >= 6 * 3 + 5


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_file_name_matches_kebab_case_name_prefixed_by_task(path):
    t = load_template(path)
    assert path.name == f"{t.name}.yaml"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", t.name), t.name
    assert t.task in (*SHARED, *DEMO), f"{t.name}: unknown task {t.task!r}"
    assert t.name.startswith(t.task.replace("_", "-") + "-")
    assert t.description.strip() and "\n" not in t.description
    assert t.language in ("en", "zh")


def test_names_are_unique():
    duplicates = [name for name, n in Counter(t.name for t in TEMPLATES).items() if n > 1]
    assert duplicates == []


@pytest.mark.parametrize("task", [*SHARED, *DEMO])
def test_enough_templates_per_task(task):
    count = sum(t.task == task for t in TEMPLATES)
    assert count == DEMO[task] if task in DEMO else count >= 3


def test_templates_per_task_are_worded_differently():
    for task in (*SHARED, *DEMO):
        prompts = [(t.instruction, t.prompt) for t in TEMPLATES if t.task == task]
        assert len(set(prompts)) == len(prompts), task


def test_generation_templates_exist():
    generate = {t.name for t in TEMPLATES if t.mode == "generate"}
    assert "ag-news-headline" in generate and len(generate) >= 2


def test_zhao_sst2_template():
    t = next(t for t in TEMPLATES if t.name == "sst2-review-sentiment")
    assert (t.prompt, t.target, t.answer_choices) == ("Review: {{ sentence }}\nSentiment:", "{{ label }}",
                                                      ("negative", "positive"))
    assert "Zhao" in t.reference


def test_chinese_templates_are_worded_in_chinese():
    for t in TEMPLATES:
        if t.language == "zh":
            assert re.search(r"[\u4e00-\u9fff]", t.prompt) and all(
                re.search(r"[\u4e00-\u9fff]", c) for c in t.answer_choices), t.name
    assert {t.task for t in TEMPLATES if t.language == "zh"} == {"chnsenticorp", "demo-reviews-zh", "ag_news"}


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.name)
def test_prompt_ends_cleanly_and_choices_are_plain_words(t):
    # A trailing newline or space (e.g. from a YAML "|" block) would sit between the prompt and the answer.
    assert t.prompt == t.prompt.rstrip() and t.prompt == t.prompt.lstrip()
    assert isinstance(t.answer_choices, tuple)
    assert all(c == c.strip() and c and " " not in c for c in t.answer_choices)


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.name)
def test_template_validates_and_renders_every_sample_row(t):
    columns, rows = _rows(t.task)
    assert rows, f"no rows for {t.task}"
    assert [str(p) for p in validate(t, columns, rows)] == []
    for number, row in enumerate(rows, 1):
        example = render(t, row, shots=[rows[number % len(rows)]])
        assert example.prompt.strip() and example.target, f"{t.name}, row {number}"
        if t.mode == "rank":
            assert example.gold is not None, f"{t.name}, row {number}: {example.target!r} not in {example.choices}"
            assert example.choices[example.gold] == example.target


# ---------------------------------------------------------------------------------------------------------------
# A library folder with broken files (issue 12, class 4): the good templates load, the others are reported

def _library_with_broken_files(folder: Path) -> Path:
    from promptlab.prompts.files import save_template
    from promptlab.prompts.values import Template

    folder.mkdir(parents=True, exist_ok=True)
    save_template(Template("good-one", "Review: {{ text }}"), folder / "good-one.yaml")
    save_template(Template("renamed", "{{ text }}"), folder / "other-file.yaml")
    (folder / "broken.yaml").write_text("name: broken\nprompt: {{ text }}\n", encoding="utf-8")
    (folder / "deep.yaml").write_text("name: deep\nprompt: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    (folder / "huge.yaml").write_text("name: huge\nprompt: '" + "x" * 2_000_000 + "'\n", encoding="utf-8")
    (folder / "latin1.yml").write_bytes("name: caf\xe9\nprompt: x\n".encode("latin-1"))
    os.mkfifo(folder / "fifo.yaml")  # opening it for reading would wait for a writer forever
    return folder


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_broken_files_are_skipped_and_reported(tmp_path):
    from promptlab.prompts.files import read_library

    start = time.perf_counter()
    library = read_library(_library_with_broken_files(tmp_path / "lib"))
    assert time.perf_counter() - start < 10
    assert [t.name for t in library.templates] == ["good-one", "renamed"]
    assert list_templates(tmp_path / "lib") == list(library.templates)
    why = {path.name: reason for path, reason in library.skipped}
    assert sorted(why) == ["broken.yaml", "deep.yaml", "fifo.yaml", "huge.yaml", "latin1.yml"]
    assert why["broken.yaml"].endswith("broken.yaml, line 2, column 10: invalid YAML: found unhashable key. Fix: "
                                       "check the indentation, and quote values that start with '{' or contain "
                                       "': ' (or use a | block).")
    assert "the YAML nests lists or mappings too deeply to read" in why["deep.yaml"]
    assert "the file is over 100,000 characters long; a template file may have at most 100,000" in why["huge.yaml"]
    assert why["fifo.yaml"].endswith("fifo.yaml: it is not a regular file.")
    assert "it is not UTF-8 text (byte 9). Save it as UTF-8." in why["latin1.yml"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_find_and_list_work_whatever_else_is_broken(tmp_path, monkeypatch, capsys):
    from promptlab.cli import main
    from promptlab.prompts.files import find_template

    monkeypatch.setenv("PROMPTLAB_TEMPLATES", str(_library_with_broken_files(tmp_path / "lib")))
    assert find_template("good-one").prompt == "Review: {{ text }}"
    assert find_template("renamed").prompt == "{{ text }}"  # found by its name, not its file's
    with pytest.raises(ValueError, match=r"Unknown template 'good-on'\. Did you mean: good-one\? .* \(5 files there "
                                         r"could not be read: broken\.yaml, deep\.yaml, fifo\.yaml; `promptlab "
                                         r"templates list` says why\.\)"):
        find_template("good-on")
    with pytest.raises(ValueError, match="broken.yaml, line 2, column 10: invalid YAML"):
        find_template("broken")  # the template asked for is the broken one: its own error
    assert main(["templates", "list"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == ["good-one", "renamed"]
    assert err.count("promptlab: skipped ") == 5 and "promptlab: skipped broken.yaml: " in err
