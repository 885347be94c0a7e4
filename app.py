"""PromptLab web app entry point: `python app.py` (what a Hugging Face Space runs) or `promptlab serve`.

Settings come from the environment, so a Space is configured in its settings page:
  PROMPTLAB_MODEL           model id or local folder (default: the bundled SmolLM2-135M-Instruct)
  PROMPTLAB_ALLOW_TRAINING  1 / 0; on a Space (SPACE_ID set) training is off unless this is 1
  GRADIO_SERVER_NAME/PORT   where to listen (a Space listens on 0.0.0.0:7860)
"""

import os

from promptlab import settings
from promptlab.models.registry import bundled_available
from promptlab.ui.app import launch

# The same model as the offline bundle, from the Hub: a Space does not install the bundle (see requirements.txt).
HUB_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def model_id() -> str | None:
    if settings.served_model():
        return settings.served_model()
    if settings.on_space() and not bundled_available("smollm2-135m-instruct"):
        return HUB_MODEL
    return None  # the bundled default


if __name__ == "__main__":
    launch(host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if settings.on_space() else "127.0.0.1"),
           port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), model_id=model_id())
