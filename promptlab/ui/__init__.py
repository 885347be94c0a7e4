"""The web app (gradio): one module per tab, assembled in `assemble.py`. The only package that imports gradio.

    from promptlab.ui import launch
    launch()                       # http://127.0.0.1:7860, the bundled model, the demo task
"""

from __future__ import annotations


def build_app(model_id: str | None = None, allow_training: bool | None = None, device: str = "auto"):
    """The app's Blocks, configured for `model_id` (None: the bundled default); not launched."""
    from promptlab.ui import assemble, session

    session.configure(model_id=model_id, allow_training=allow_training, device=device)
    return assemble.build_app()


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, model_id: str | None = None,
           allow_training: bool | None = None, *, device: str = "auto", preload: bool = True,
           prevent_thread_lock: bool = False):
    """Build and serve the app. `allow_training=None` follows PROMPTLAB_ALLOW_TRAINING / SPACE_ID (see
    session.training_allowed). With `preload` the model starts loading right away, in a process of its own
    (session.start_model); without, it loads in this process on first use."""
    from promptlab.ui import session

    session.configure(model_id=model_id, allow_training=allow_training, device=device)
    if preload:  # first: the model process then imports torch on the other core while this one imports gradio
        session.start_model()
    from promptlab import data
    from promptlab.ui import assemble

    app = assemble.build_app()
    # Non-model events (validation, plots, run polling) run side by side; model-bound ones queue on MODEL_QUEUE.
    app.queue(default_concurrency_limit=8)
    app.launch(server_name=host, server_port=port, share=share, theme=assemble.THEME, css=assemble.CSS,
               max_file_size=data.MAX_UPLOAD_BYTES, prevent_thread_lock=True)
    if not prevent_thread_lock:
        app.block_thread()
    return app
