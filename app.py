"""PromptLab web app entry point: `python app.py` (what a Hugging Face Space runs) or `promptlab serve`.

Settings come from the environment, so a Space is configured in its settings page:
  PROMPTLAB_MODEL           model id or local folder (default: the bundled SmolLM2-135M-Instruct)
  PROMPTLAB_ALLOW_TRAINING  1 / 0; on a Space (SPACE_ID set) training is off unless this is 1
  GRADIO_SERVER_NAME/PORT   where to listen (a Space listens on 0.0.0.0:7860)
"""

import os

from promptlab.model_cache import bundled_available
from promptlab.ui import launch

# The same model as the offline bundle, from the Hub: a Space does not install the bundle (see requirements.txt).
HUB_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def model_id() -> str | None:
    if os.environ.get("PROMPTLAB_MODEL"):
        return os.environ["PROMPTLAB_MODEL"]
    if os.environ.get("SPACE_ID") and not bundled_available("smollm2-135m-instruct"):
        return HUB_MODEL
    return None  # the bundled default


if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    launch(host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
           port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), model_id=model_id())
