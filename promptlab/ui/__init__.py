"""The web app (gradio): one module per tab under `tabs/`, assembled and launched by `app.py`. The only package
that imports gradio.

    from promptlab.ui.app import launch
    launch()                       # http://127.0.0.1:7860, the bundled model, the demo task
"""
