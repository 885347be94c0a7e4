"""The web app (gradio): one module per tab under `tabs/`, assembled and launched by `app.py`. The only package
that imports gradio.

    from promptlab.ui.app import launch
    launch()                       # http://127.0.0.1:7860, the bundled model, the demo task
"""

import os
import tempfile

# gradio keeps uploads and copies of downloads in $GRADIO_TEMP_DIR, else in a fixed shared folder (/tmp/gradio)
# where another local user could plant links. It reads the variable when it is first imported, so this package,
# imported before any of its modules imports gradio, makes a private one (0700) unless the operator set their own.
if not os.environ.get("GRADIO_TEMP_DIR"):
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="promptlab-gradio-")
