"""Your own templates beside the shipped ones (issue 13, item 4 and "Library management"): shipped templates are
read-only, yours are saved, asked about before being overwritten, renamed, deleted, imported, found by name, and on
a public app kept per visitor. Real files in temporary folders."""

from __future__ import annotations

import json
import os

import pytest

from promptlab import settings
from promptlab.cli import main
from promptlab.prompts import library
from promptlab.prompts.files import find_template, load_template, save_template
from promptlab.prompts.values import Template

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

SHIPPED = "demo-reviews-sentiment"
MINE = Template("my-review", "Review: {{ text }}\nSentiment:", "{{ label }}", ("negative", "positive"))
PROMPTSOURCE = """\
dataset: my_reviews
templates:
  a1: !Template
    answer_choices: bad ||| good
    jinja: '{{ text }} Was it good or bad? ||| {{ answer_choices[label] }}'
    name: good or bad
  b2: !Template
    answer_choices: no ||| yes
    jinja: 'Did they like it? {{ text }} ||| {{ answer_choices[label] }}'
    name: liked
"""


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_USER_TEMPLATES", str(tmp_path / "mine"))
    return tmp_path / "mine"


def test_saved_templates_are_listed_as_yours_and_found_by_name(own_folder):
    """`--template NAME` found only shipped templates: one you saved was 'Unknown template'."""
    path = library.save(MINE)
    assert path == own_folder / "my-review.yaml" and load_template(path) == MINE
    view = library.read()
    assert view.entries[SHIPPED].shipped and not view.entries["my-review"].shipped
    assert list(view.entries)[-1] == "my-review"  # shipped first, then yours
    assert find_template("my-review") == MINE
    with pytest.raises(ValueError, match=rf"Unknown template 'my-reviw'\. Did you mean: my-review\? .* yours in "
                                         rf"{own_folder}\."):
        find_template("my-reviw")


def test_a_shipped_name_is_refused_and_the_shipped_file_stays(own_folder):
    before = (settings.templates_dir() / f"{SHIPPED}.yaml").read_bytes()
    with pytest.raises(ValueError, match=rf"^{SHIPPED} is a shipped template; shipped templates are read-only and "
                                         r"cannot be overwritten\. Save under another name\.$"):
        library.save(Template(SHIPPED, "{{ text }}"), overwrite=True)
    assert (settings.templates_dir() / f"{SHIPPED}.yaml").read_bytes() == before
    assert not own_folder.exists() or not list(own_folder.iterdir())
    with pytest.raises(ValueError, match=r"cannot be renamed\. Only your own templates can be\.$"):
        library.rename(SHIPPED, "x")
    with pytest.raises(ValueError, match=r"cannot be deleted\. Only your own templates can be\.$"):
        library.delete(SHIPPED)
    assert (settings.templates_dir() / f"{SHIPPED}.yaml").read_bytes() == before


def test_saving_over_your_own_asks_first():
    library.save(MINE)
    changed = Template(MINE.name, "Verdict on {{ text }}:", "{{ label }}", ("negative", "positive"))
    with pytest.raises(library.Exists) as asked:
        library.save(changed)
    assert asked.value.names == ["my-review"] and str(asked.value) == "You already have a template named my-review."
    assert library.templates()["my-review"] == MINE  # nothing written before the yes
    library.save(changed, overwrite=True)
    assert library.templates()["my-review"] == changed


def test_rename_and_delete_your_own(own_folder):
    library.save(MINE)
    library.save(Template("other", "{{ text }}"))
    assert library.rename("my-review", "better-review") == own_folder / "better-review.yaml"
    assert "my-review" not in library.templates() and library.templates()["better-review"].prompt == MINE.prompt
    with pytest.raises(ValueError, match="You already have a template named other"):
        library.rename("better-review", "other")
    with pytest.raises(ValueError, match=r"cannot be a file name"):
        library.rename("better-review", "../escaped")
    with pytest.raises(ValueError, match=r"You have no template named 'nope'"):
        library.delete("nope")
    library.delete("better-review")
    assert sorted(p.name for p in own_folder.iterdir()) == ["other.yaml"]


def test_each_visitor_of_a_public_app_has_a_library_of_their_own(own_folder):
    library.save(MINE, owner="secret-of-alice")
    library.save(Template("my-review", "Bob's {{ text }}"), owner="secret-of-bob")  # the same name: no clash
    assert library.templates("secret-of-alice")["my-review"] == MINE
    assert library.templates("secret-of-bob")["my-review"].prompt == "Bob's {{ text }}"
    assert "my-review" not in library.templates()  # nor in the local library
    with pytest.raises(ValueError, match="You have no template named"):
        library.delete("my-review", owner="secret-of-mallory")
    folders = sorted(p.name for p in (own_folder / "visitors").iterdir())
    assert len(folders) == 2 and all(len(name) == 64 and "secret" not in name for name in folders)  # SHA-256 hex


def test_an_import_is_all_or_nothing(own_folder):
    library.save(Template("b", "{{ text }}"))
    with pytest.raises(library.Exists, match="named b"):
        library.save_all([Template("a", "{{ text }}"), Template("b", "new {{ text }}")])
    assert "a" not in library.templates()
    with pytest.raises(ValueError, match="is a shipped template"):
        library.save_all([Template("a", "{{ text }}"), Template(SHIPPED, "x")], overwrite=True)
    assert sorted(p.name for p in own_folder.iterdir()) == ["b.yaml"]


def test_the_library_size_is_bounded(monkeypatch):
    monkeypatch.setattr(library, "MAX_OWN_TEMPLATES", 2)
    library.save_all([Template("a", "{{ text }}"), Template("b", "{{ text }}")])
    with pytest.raises(ValueError, match=r"Your library holds 2 templates; it keeps at most 2\. Delete some first\."):
        library.save(Template("c", "{{ text }}"))
    library.save(Template("a", "new {{ text }}"), overwrite=True)  # replacing one is fine


def test_a_file_that_appears_meanwhile_is_not_overwritten_silently(own_folder):
    """Two visitors saving one new name at once: the second's write finds the first's file and asks."""
    own_folder.mkdir(parents=True)
    (own_folder / "race.yaml").write_text("name: race\nprompt: first\n", encoding="utf-8")
    with pytest.raises(library.Exists):
        library._write(own_folder / "race.yaml", "name: race\nprompt: second\n", replace=False)
    assert load_template(own_folder / "race.yaml").prompt == "first"
    assert [p.name for p in own_folder.iterdir()] == ["race.yaml"]  # no temporary file left behind


def test_a_broken_file_of_yours_is_reported_and_can_be_replaced(own_folder):
    own_folder.mkdir(parents=True)
    (own_folder / "broken.yaml").write_text("name: broken\nprompt: {{ text }}\n", encoding="utf-8")
    save_template(Template(SHIPPED, "a copy"), own_folder / "copy.yaml")  # a shipped name: hidden, reported
    view = library.read()
    why = {path.name: reason for path, reason in view.skipped}
    assert "invalid YAML" in why["broken.yaml"] and "named like the shipped template" in why["copy.yaml"]
    assert view.entries[SHIPPED].shipped
    with pytest.raises(library.Exists):
        library.save(Template("broken", "{{ text }}"))
    library.save(Template("broken", "{{ text }}"), overwrite=True)
    assert library.templates()["broken"].prompt == "{{ text }}"


def test_two_files_of_yours_with_one_name_list_one_and_report_the_other(own_folder):
    own_folder.mkdir(parents=True)
    save_template(Template("twin", "first {{ text }}"), own_folder / "a.yaml")
    save_template(Template("twin", "second {{ text }}"), own_folder / "b.yaml")
    view = library.read()
    assert view.entries["twin"].template.prompt == "first {{ text }}" and view.entries["twin"].path.name == "a.yaml"
    assert [(p.name, why) for p, why in view.skipped] == [
        ("b.yaml", "it is named like another file of yours, 'twin'; rename it.")]
    library.delete("twin")  # the one listed
    assert library.templates()["twin"].prompt == "second {{ text }}"


# ---- the command line ----------------------------------------------------------------------------------------

def test_cli_imports_lists_renames_and_deletes(tmp_path, own_folder, capsys):
    source = tmp_path / "templates.yaml"
    source.write_text(PROMPTSOURCE, encoding="utf-8")
    assert main(["templates", "import", str(source), "--labels", "label=negative,positive"]) == 0
    out = capsys.readouterr().out
    assert "my-reviews-good-or-bad" in out and "label: negative, positive" in out and "2 template(s) imported" in out
    template = find_template("my-reviews-good-or-bad")
    assert template.class_labels == (("label", ("negative", "positive")),)

    assert main(["templates", "import", str(source)]) == 2
    assert "You already have templates named my-reviews-good-or-bad, my-reviews-liked. Add --overwrite" in \
        capsys.readouterr().err
    assert main(["templates", "import", str(source), "--overwrite"]) == 0  # no labels given: none known
    assert find_template("my-reviews-good-or-bad").class_labels == ()
    capsys.readouterr()

    assert main(["templates", "list", "--json"]) == 0
    listed = {t["name"]: t["shipped"] for t in json.loads(capsys.readouterr().out)}
    assert listed[SHIPPED] is True and listed["my-reviews-liked"] is False
    assert main(["templates", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("my-reviews-liked "))
    assert " yours " in line

    assert main(["templates", "rename", "my-reviews-liked", "liked"]) == 0
    assert main(["templates", "delete", "liked"]) == 0
    assert main(["templates", "delete", SHIPPED]) == 2
    assert "shipped templates are read-only" in capsys.readouterr().err
    assert sorted(p.name for p in own_folder.iterdir()) == ["my-reviews-good-or-bad.yaml"]


def test_cli_imports_a_promptlab_template_file(tmp_path, own_folder, capsys):
    path = tmp_path / "draft.yaml"
    save_template(MINE, path)
    assert main(["templates", "import", str(path)]) == 0
    assert find_template("my-review") == MINE and (own_folder / "my-review.yaml").is_file()
    assert main(["templates", "import", str(tmp_path / "missing.yaml")]) == 2
    assert "Cannot read template file" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["label", "=a,b", "label=", "label=a,,b"])
def test_cli_labels_must_name_a_column_and_its_names(bad, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["templates", "import", str(tmp_path / "x.yaml"), "--labels", bad])
    assert "expected COLUMN=NAME,NAME,..." in capsys.readouterr().err


def test_the_default_own_folder_is_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("PROMPTLAB_USER_TEMPLATES")
    monkeypatch.setenv("PROMPTLAB_CACHE", str(tmp_path / "cache"))
    assert settings.user_templates_dir() == tmp_path / "cache" / "templates"
    assert library.own_dir("x").parent == tmp_path / "cache" / "templates" / "visitors"
    assert not os.path.exists(tmp_path / "cache")  # nothing is created by asking


def test_an_imported_promptsource_template_scores_and_tunes_by_name(tmp_path, task, tiny_model_dir):
    """The command line end to end: import a PromptSource file (integer-label templates), then `score` and `tune`
    find it by name and use it on data with label names (the class labels travel in the run's spec)."""
    import subprocess
    import sys

    source = tmp_path / "templates.yaml"
    source.write_text(PROMPTSOURCE.replace("my_reviews", "glue").replace("templates:", "subset: sst2\ntemplates:")
                      .replace("text", "sentence"), encoding="utf-8")

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "promptlab.cli", *args], capture_output=True, text=True,
                              timeout=300, env=os.environ)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "label: negative, positive" in cli("templates", "import", str(source))  # glue/sst2: known names
    scored = json.loads(cli("score", "--template", "sst2-good-or-bad", "--data", str(task), "--model",
                            str(tiny_model_dir), "--limit", "8", "--json"))
    assert scored["n"] == 8 and 0 <= scored["metrics"]["acc"] <= 1
    tuned = json.loads(cli("tune", "--template", "sst2-liked", "--data", str(task), "--model", str(tiny_model_dir),
                           "--method", "prompt_tuning", "--steps", "2", "--preset", "test", "--eval-size", "8",
                           "--runs-dir", str(tmp_path / "runs"), "--wait", "--json"))
    assert tuned["status"] == "done" and 0 <= tuned["baselines"]["zero_shot_acc"] <= 1
