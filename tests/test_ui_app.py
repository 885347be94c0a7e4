"""The assembled app: model-bound events share one queue, the state holds no model, the launch function works."""

from __future__ import annotations

import urllib.request

import pytest

from promptlab.ui import state
from promptlab.ui.app import build_app

MODEL_BOUND = {"preview", "compare", "pick"}  # pick: the header's model picker loads the model


@pytest.fixture(scope="module")
def app():
    state.configure()
    return build_app()


def handler_names(app) -> list[tuple[str, object]]:
    return [(getattr(fn.fn, "__name__", ""), fn) for fn in app.fns.values() if fn.fn is not None]


def test_model_bound_events_share_one_bounded_queue(app):
    """Model-bound events run side by side up to a bound (their model calls take turns in FairShare)."""
    bound = [fn for name, fn in handler_names(app) if name in MODEL_BOUND]
    assert len(bound) >= 4  # Preview, Compare, and Score in Compare from Tune and from Runs
    for fn in bound:
        assert fn.concurrency_id == state.MODEL_QUEUE and fn.concurrency_limit == state.MODEL_EVENTS


def test_other_events_do_not_wait_for_the_model(app):
    """Validation, plots and run polling must stay responsive while someone scores."""
    others = [fn for name, fn in handler_names(app) if name not in MODEL_BOUND]
    assert others and all(fn.concurrency_id != state.MODEL_QUEUE for fn in others)


def test_states_start_empty_and_hold_no_model(app):
    import gradio as gr

    states = [block for block in app.blocks.values() if isinstance(block, gr.State)]
    assert states and all(state.value is None or isinstance(state.value, (int, float)) for state in states)


def test_every_tab_is_there(app):
    config = app.get_config_file()
    tabs = [c["props"].get("label") for c in config["components"] if c.get("type") == "tabitem"]
    assert tabs == ["1 · Data", "2 · Template studio", "3 · Compare", "4 · Tune", "5 · Runs"]


def test_launch_serves_the_page_without_blocking(tiny_model_dir):
    import socket

    from promptlab.ui.app import launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = launch(port=port, model_id=str(tiny_model_dir), preload=False, prevent_thread_lock=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200 and b"PromptLab" in response.read()
        assert state.model_id() == str(tiny_model_dir)
    finally:
        app.close()
        state.configure()
