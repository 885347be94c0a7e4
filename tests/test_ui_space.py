"""What a Hugging Face Space needs: app.py, a requirements.txt that agrees with pyproject.toml, the README's
front matter, and the app building with training switched off."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def requirement_names(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-")
            out[name] = line
    return out


def test_package_data_names_files_that_exist():
    """What a wheel carries besides code: each pattern matches files (the demo task moved once, and a wheel built
    then had no demo data: `--data demo-reviews` and the app's first page failed after `pip install .`)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["promptlab"]
    for pattern in patterns:
        assert list((ROOT / "promptlab").glob(pattern)), pattern
    covered = {p for pattern in patterns for p in (ROOT / "promptlab").glob(pattern)}
    assert {p for p in (ROOT / "promptlab").rglob("*") if p.suffix in {".jsonl", ".md"}} <= covered


def test_requirements_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = requirement_names(project["dependencies"])
    listed = requirement_names((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert wanted == listed  # same packages, same version bounds


def test_readme_front_matter_runs_app_py_with_gradio():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---", 2)[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert (ROOT / front["app_file"]).is_file()


def load_app_module():
    spec = importlib.util.spec_from_file_location("space_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the launch is under `if __name__ == "__main__"`
    return module


def test_space_model_choice(monkeypatch):
    app = load_app_module()
    monkeypatch.delenv("PROMPTLAB_MODEL", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert app.model_id() is None  # locally: the bundled default
    monkeypatch.setenv("SPACE_ID", "someone/promptlab")
    monkeypatch.setattr(app, "bundled_available", lambda name: False)
    assert app.model_id() == app.HUB_MODEL  # a Space without the offline bundle: the same model from the Hub
    monkeypatch.setenv("PROMPTLAB_MODEL", "/models/mine")
    assert app.model_id() == "/models/mine"


def test_public_space_app_builds_with_training_off(monkeypatch):
    from promptlab.ui import state
    from promptlab.ui.app import build_app

    monkeypatch.setenv("SPACE_ID", "someone/promptlab")
    monkeypatch.delenv("PROMPTLAB_ALLOW_TRAINING", raising=False)
    try:
        app = build_app()
        assert state.CONFIG.allow_training is False
        config = app.get_config_file()
        launch = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "tune-launch")
        assert launch["props"]["interactive"] is False
        notice = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "tune-disabled")
        assert "disabled" in notice["props"]["value"]
    finally:
        state.configure()


def test_a_browsers_owner_token_outlives_a_restart(monkeypatch, tmp_path):
    """The key that encrypts each browser's owner token is made once and kept beside the runs (this user only):
    an app built again (a restart) reads the tokens its visitors' browsers hold, so they keep their runs."""
    import stat

    import gradio as gr

    from promptlab.ui import state
    from promptlab.ui.app import build_app

    monkeypatch.setenv("PROMPTLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("PROMPTLAB_SECRET", raising=False)

    def key_of_a_built_app() -> str:
        try:
            app = build_app()
            return next(b.secret for b in app.blocks.values() if isinstance(b, gr.BrowserState))
        finally:
            state.configure()

    first = key_of_a_built_app()
    assert key_of_a_built_app() == first and len(first) >= 32
    key_file = tmp_path / "runs" / ".browser-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.read_text() == first
    monkeypatch.setenv("PROMPTLAB_SECRET", "an operator's own key, shared by several servers")
    assert key_of_a_built_app() == "an operator's own key, shared by several servers"


def test_a_public_app_off_a_space_has_a_spaces_bounds(monkeypatch):
    """PROMPTLAB_PUBLIC=1 on one's own server, or `serve --share` (a link anyone can open): no typed server paths
    and no training unless the operator allows them, as on a Space."""
    from promptlab import settings
    from promptlab.cli import main
    from promptlab.ui import app

    for name in ("SPACE_ID", "PROMPTLAB_PUBLIC", "PROMPTLAB_ALLOW_TRAINING", "PROMPTLAB_ALLOW_LOCAL_FILES"):
        monkeypatch.delenv(name, raising=False)
    assert settings.training_allowed() and settings.local_files_allowed()  # a private app
    monkeypatch.setenv("PROMPTLAB_PUBLIC", "1")
    assert not settings.training_allowed() and not settings.local_files_allowed()
    monkeypatch.setenv("PROMPTLAB_ALLOW_TRAINING", "1")
    assert settings.training_allowed() and not settings.local_files_allowed()

    monkeypatch.delenv("PROMPTLAB_PUBLIC")
    seen = {}
    monkeypatch.setattr(app, "launch", lambda **kwargs: seen.update(kwargs, public=settings.public()))
    main(["serve", "--share"])
    assert seen["share"] and seen["public"]
