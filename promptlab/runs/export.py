"""Export a run: a zip bundle that explains itself, and (with a token and a network) a push to the Hub. Torch-free.

Bundle layout:
    README.md           the model card (`runs.card`): base model (hub id), template, data, method, init, steps,
                        scores, and how to load it
    template.yaml       the hard prompt the soft prompt was trained with (and is evaluated with)
    tune_config.json    the TuneConfig
    dataset.json        data source, splits, eval subset size, label column, model id
    spec.json           the whole job spec
    baselines.json      manual-prompt baselines on the same validation subset
    metrics.jsonl       every training / evaluation / probe line
    status.json         final status and best evaluation
    adapter/            PeftModel.from_pretrained(base_model, "adapter"); its README.md is the card too
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from promptlab.messages import UserError
from promptlab.runs.card import model_card, portable_config
from promptlab.runs.layout import existing_run, open_regular, problem, read_dict
from promptlab.runs.store import adapter_dir

_COPIED = ("template.yaml", "spec.json", "baselines.json", "metrics.jsonl", "status.json", "log.txt")


def export_bundle(run_id: str, out_path, runs_dir=None, owner: str | None = None) -> Path:
    """Write the run's bundle zip to `out_path`; return its path (`owner`: only that owner's run)."""
    adapter_dir(run_id, runs_dir, owner)  # the owner check, and "no adapter yet" before anything is written
    return write_bundle(existing_run(run_id, runs_dir), Path(out_path))


def export_adapter_zip(run_id: str, out_path, runs_dir=None, owner: str | None = None) -> Path:
    """Zip the run's adapter folder alone (its files at the top level, as the app offers it for download), plain
    files only: a link planted in the folder is left out, never followed. Its adapter_config.json names the base
    model's hub id and its README.md is our model card (`runs.card`). Written privately, then renamed."""
    adapter = adapter_dir(run_id, runs_dir, owner)
    with _private_zip(Path(out_path)) as (z, _out):
        _add_adapter(z, adapter.parent, "", [])
    return _out


def write_bundle(run_dir: Path, out: Path) -> Path:
    """Zip the run's template, config, dataset spec, baselines, metrics and adapter into `out`.

    Only regular files go in: a link or anything else in the run folder is left out (never followed), and the
    README says what was left out. The zip is written to a private temp file beside `out`, then renamed."""
    adapter = run_dir / "adapter"
    if os.path.islink(adapter) or not stat.S_ISREG(_mode(adapter / "adapter_config.json")):
        raise UserError("run.nothing_to_export", run=run_dir.name)
    spec = read_dict(run_dir / "spec.json")
    left_out: list[str] = []
    with _private_zip(out) as (z, out):
        for name in _COPIED:
            _add(z, run_dir / name, name, left_out)
        z.writestr("tune_config.json", json.dumps(spec.get("config", {}), indent=1))
        z.writestr("dataset.json", json.dumps(_dataset_spec(spec), indent=1))
        _add_adapter(z, run_dir, "adapter/", left_out)
        z.writestr("README.md", model_card(run_dir, adapter_path="adapter", left_out=left_out))
    return out


def _add_adapter(z: zipfile.ZipFile, run_dir: Path, prefix: str, left_out: list[str]) -> None:
    """The adapter folder's files under `prefix`, made portable: adapter_config.json names the base model's hub id
    (also for runs of older versions, whose config names a local cache path) and README.md is our model card."""
    adapter = run_dir / "adapter"
    for f in sorted(adapter.iterdir()):
        if f.name not in ("README.md", "adapter_config.json"):
            _add(z, f, f"{prefix}{f.name}", left_out)
    spec = read_dict(run_dir / "spec.json")
    config = portable_config(read_dict(adapter / "adapter_config.json"), spec.get("model"))
    z.writestr(f"{prefix}adapter_config.json", json.dumps(config, indent=2, sort_keys=True))
    z.writestr(f"{prefix}README.md", model_card(run_dir, adapter_path="."))


@contextmanager
def _private_zip(out: Path):
    """`with _private_zip(out) as (zipfile, final_path)`: a zip written to a fresh private temp file beside `out`
    (never a fixed name a stranger could plant a link at), renamed to `out` when complete, removed otherwise."""
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)  # O_EXCL, mode 0600
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as z:
            yield z, out
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _mode(path: Path) -> int:
    try:
        return path.lstat().st_mode
    except OSError:
        return 0


def _add(z: zipfile.ZipFile, path: Path, name: str, left_out: list[str]) -> None:
    """Copy a regular file into the zip, streaming; note anything else (a link, a folder) in `left_out`."""
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return
    except OSError as err:
        left_out.append(f"{name}: it is {problem(err)}")
        return
    with os.fdopen(fd, "rb") as src, z.open(name, "w", force_zip64=True) as dst:
        shutil.copyfileobj(src, dst, 2**20)


def _dataset_spec(spec: dict) -> dict:
    keys = ("data", "train_split", "eval_split", "eval_size", "label_column", "model")
    return {k: spec.get(k) for k in keys}


def push_to_hub(run_dir: Path, repo_id: str, token: str | None = None, private: bool = True) -> str:
    """Upload the adapter and the bundle files to a Hub model repo; return its URL.

    Offline or without a token this raises a ValueError saying so; the run folder is never touched.
    """
    try:
        from huggingface_hub import HfApi, get_token
    except ImportError:
        raise UserError("run.push_needs_hub") from None
    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise UserError("run.push_no_token", folder=run_dir)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bundle = write_bundle(run_dir, Path(tmp) / "bundle.zip")
        staged = Path(tmp) / "repo"
        with zipfile.ZipFile(bundle) as z:
            z.extractall(staged)
        try:
            api = HfApi(token=token)
            api.create_repo(repo_id, private=private, exist_ok=True)
            api.upload_folder(folder_path=str(staged), repo_id=repo_id, commit_message=f"PromptLab run {run_dir.name}")
        except Exception as err:  # noqa: BLE001 - offline, auth, and hub errors all end here
            raise UserError("run.push_failed", error=type(err).__name__,
                            detail=str(err).splitlines()[0][:200] if str(err) else "no network?", folder=run_dir) \
                from None
    return f"https://huggingface.co/{repo_id}"
