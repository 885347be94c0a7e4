"""Files the app writes for downloads (YAML drafts, Compare CSVs, run zips) go to a private folder of the process:
never through a name another local user could plant a link at, never through a link, and only a bounded number.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from promptlab.prompts import files
from promptlab.prompts.values import Template
from promptlab.runs.store import RunInfo
from promptlab.ui import private_files, run_view
from promptlab.ui.editor import fields_from_template
from promptlab.ui.tabs import compare, studio


@pytest.fixture
def system_tmp(tmp_path, monkeypatch):
    """The system temp folder, as the app sees it, is a fresh folder of this test (as /tmp is shared by users)."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setattr(private_files, "_slots", private_files._Slots())
    return shared


def download_of(template: Template) -> str:
    """The YAML download the studio's live check offers for `template`."""
    return studio.check(*fields_from_template(template), None, "en")[5]["value"]


def assert_private(path: str, shared: Path, modes=(0o600,)) -> None:
    """`path` is a new regular file (0600 unless `modes` says otherwise) in a 0700 folder of ours under the system
    temp folder (the folder is what keeps it private)."""
    file = Path(path)
    assert stat.S_ISREG(os.lstat(file).st_mode) and stat.S_IMODE(os.lstat(file).st_mode) in modes
    folder = next(p for p in file.parents if p.parent == shared)
    info = os.lstat(folder)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()


def test_a_link_planted_in_the_shared_temp_folder_is_not_followed(system_tmp, tmp_path):
    """Another user plants links where the app used to write (/tmp/promptlab-yaml/<digest>/<name>.yaml): the
    download goes elsewhere and the link's target is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    template = Template("mine", "Q: {{ text }}", "{{ label }}", ("a", "b"))
    yaml_text = files.dump_template(template)  # what the studio offers, planted for before the first check
    planted = system_tmp / "promptlab-yaml" / hashlib.sha1(yaml_text.encode()).hexdigest()[:10] / "mine.yaml"
    planted.parent.mkdir(parents=True)
    planted.symlink_to(victim)
    path = download_of(template)
    assert victim.read_text() == "precious"
    assert Path(path).read_text(encoding="utf-8") == yaml_text and Path(path).name == "mine.yaml"
    assert_private(path, system_tmp)


def test_new_files_never_write_through_a_link(system_tmp):
    target = private_files.new_path("x", ".txt")
    target.symlink_to(target.parent / "elsewhere.txt")
    with pytest.raises(FileExistsError):
        private_files.open_new(target)
    assert not (target.parent / "elsewhere.txt").exists()


def test_downloads_are_bounded_however_many_drafts_are_typed(system_tmp):
    """One YAML per distinct draft (every keystroke) and a CSV pair per comparison: only the newest are kept."""
    for i in range(3 * private_files.MAX_KEPT):
        download_of(Template(f"draft-{i}", f"Q{i}: {{{{ text }}}}", "{{ label }}", ("a", "b")))
    csv = compare._csv(pd.DataFrame({"name": ["=cmd"], "acc": [0.5]}), "comparison-metrics")
    files = [p for p in system_tmp.rglob("*") if p.is_file()]
    assert len(files) <= private_files.MAX_KEPT
    assert Path(csv) in files and pd.read_csv(csv)["name"].tolist() == ["'=cmd"]
    assert_private(csv, system_tmp)


def test_a_long_template_name_still_gets_its_download(system_tmp):
    """A 300-character name made the live check fail (file name too long); the file name is shortened."""
    name = "n" * 150 + "<img src=x>" + "é" * 139
    path = download_of(Template(name, "Q: {{ text }}", "{{ label }}", ("a", "b")))
    assert len(Path(path).name.encode()) < 255 and Path(path).name.startswith("n" * 50)
    assert Path(path).read_text(encoding="utf-8").startswith("name:")


def test_run_zips_leave_out_links_planted_in_the_run_folder(system_tmp, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    run_id = "20200101-000000-prompt-tuning-beef"
    adapter = runs / run_id / "adapter"
    (adapter / "sub").mkdir(parents=True)
    (runs / run_id / "spec.json").write_text("{}")
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "sub" / "weights.bin").write_bytes(b"w")
    secret = tmp_path / "secret"
    (secret / "inner").mkdir(parents=True)
    (secret / "key.txt").write_text("SECRET")
    (secret / "inner" / "key2.txt").write_text("SECRET")
    (adapter / "key.txt").symlink_to(secret / "key.txt")
    (adapter / "linked").symlink_to(secret / "inner")
    os.mkfifo(adapter / "pipe")  # would block a reader that opened it
    monkeypatch.setenv("PROMPTLAB_RUNS", str(runs))
    monkeypatch.setattr(run_view, "_files", type(run_view._files)())
    run = RunInfo(run_id=run_id, status="done", created=0.0, started=0.0, finished=1.0, spec={}, step=1,
                  total_steps=1)
    adapter_zip, bundle_zip = run_view.downloads(run)
    with zipfile.ZipFile(adapter_zip) as z:  # a PEFT adapter folder is flat: its plain files, nothing linked
        assert sorted(z.namelist()) == ["README.md", "adapter_config.json"]  # README: our model card
    assert_private(adapter_zip, system_tmp, modes=(0o600, 0o644))  # an export zip, in our private folder
    assert Path(bundle_zip).is_file() and Path(bundle_zip).parent.parent == Path(adapter_zip).parent.parent


@pytest.mark.jobs  # imports the app in a child process
def test_gradios_own_upload_folder_is_private_to_the_app():
    """gradio's default cache is a fixed shared folder (/tmp/gradio); the app gives it a private one first."""
    import os
    import subprocess
    import sys

    code = ("import os, promptlab.ui.app, gradio.route_utils as r\n"
            "print(r.DEFAULT_TEMP_DIR, oct(os.stat(r.DEFAULT_TEMP_DIR).st_mode & 0o777))")
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    folder, mode = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  timeout=120, check=True).stdout.split()
    assert "promptlab-gradio-" in folder and mode == "0o700"
