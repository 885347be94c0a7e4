"""Can the Hugging Face Hub be reached? One probe, used before loading a dataset or a model by its Hub name, so
that an offline machine fails in seconds with a clear message instead of hanging in a library's retries.
Whether the Hub is switched off altogether is an environment setting: `settings.hub_offline()`."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

from promptlab import settings


def hub_reachable(timeout: float = 3.0) -> bool:
    """Does the Hub ($HF_ENDPOINT) answer at all? A thread bounds the whole probe, DNS included (urlopen's own
    timeout does not cover name resolution). Any HTTP answer counts as reachable."""
    answer = []

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(settings.hub_endpoint(), method="HEAD"), timeout=timeout)
            answer.append(True)
        except urllib.error.HTTPError:  # the Hub answered, even if with an error status
            answer.append(True)
        except (OSError, ValueError):
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])
