"""Browser fixtures: the app served in this process on a free port, and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium (installed by scripts/install.sh).
The app gets its own runs and templates folders, so a test never touches the checkout's library or runs.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from promptlab.settings import templates_dir

CHROMIUM = os.environ.get("PROMPTLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/install.sh --test installs Debian's chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_env(tmp_path_factory):
    """Private runs and templates folders for the served app (and the tuning workers it starts)."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(templates_dir(), root / "templates")
    saved = {k: os.environ.get(k) for k in ("PROMPTLAB_RUNS", "PROMPTLAB_TEMPLATES", "PROMPTLAB_ALLOW_TRAINING")}
    os.environ.update(PROMPTLAB_RUNS=str(root / "runs"), PROMPTLAB_TEMPLATES=str(root / "templates"),
                      PROMPTLAB_ALLOW_TRAINING="1")
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def serve(model_id: str | None):
    """Launch the app in this process (gradio serves from a thread); returns (app, url)."""
    from promptlab.ui.app import launch

    port = free_port()
    app = launch(host="127.0.0.1", port=port, model_id=model_id, allow_training=True, prevent_thread_lock=True)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def serve_app():
    """`serve` itself, for tests that start the app on another model."""
    return serve


@pytest.fixture(scope="session")
def tiny_app(app_env, tiny_model_dir):
    """The app on the tiny random model: fast enough for a whole journey on a laptop CPU."""
    app, url = serve(str(tiny_model_dir))
    yield url
    app.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
