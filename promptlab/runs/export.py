"""Export a run: a zip bundle that explains itself, and (with a token and a network) a push to the Hub. Torch-free.

Bundle layout:
    README.md           what this is, how to load it, the headline numbers
    template.yaml       the hard prompt the soft prompt was trained with (and is evaluated with)
    tune_config.json    the TuneConfig
    dataset.json        data source, splits, eval subset size, label column, model id
    spec.json           the whole job spec
    baselines.json      manual-prompt baselines on the same validation subset
    metrics.jsonl       every training / evaluation / probe line
    status.json         final status and best evaluation
    adapter/            PeftModel.from_pretrained(base_model, "adapter")
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from promptlab.models.families import family_for_task_type
from promptlab.runs.layout import existing_run, read_json

_COPIED = ("template.yaml", "spec.json", "baselines.json", "metrics.jsonl", "status.json", "log.txt")


def export_bundle(run_id: str, out_path, runs_dir=None) -> Path:
    """Write the run's bundle zip to `out_path`; return its path."""
    return write_bundle(existing_run(run_id, runs_dir), Path(out_path))


def write_bundle(run_dir: Path, out: Path) -> Path:
    """Zip the run's template, config, dataset spec, baselines, metrics and adapter into `out`."""
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise ValueError(f"Run {run_dir.name} has no adapter yet (it is written at the first evaluation), "
                         "so there is nothing to export.")
    spec = read_json(run_dir / "spec.json", {})
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in _COPIED:
            if (run_dir / name).is_file():
                z.write(run_dir / name, name)
        z.writestr("tune_config.json", json.dumps(spec.get("config", {}), indent=1))
        z.writestr("dataset.json", json.dumps(_dataset_spec(spec), indent=1))
        z.writestr("README.md", model_card(run_dir))
        for f in sorted(adapter.iterdir()):
            if f.is_file():
                z.write(f, f"adapter/{f.name}")
    os.replace(tmp, out)
    return out


def _dataset_spec(spec: dict) -> dict:
    keys = ("data", "train_split", "eval_split", "eval_size", "label_column", "model")
    return {k: spec.get(k) for k in keys}


def model_card(run_dir: Path) -> str:
    """A short README: what was trained, on what, how well against the manual prompt, and how to load it."""
    spec = read_json(run_dir / "spec.json", {})
    status = read_json(run_dir / "status.json", {})
    base = read_json(run_dir / "baselines.json", {}) or {}
    config = spec.get("config", {})
    best = status.get("best") or {}
    metric = base.get("metric", "acc")
    # the adapter's PEFT task type says which model class it goes on (masked LMs: FEATURE_EXTRACTION)
    family = family_for_task_type(read_json(run_dir / "adapter" / "adapter_config.json", {}).get("task_type"))
    lines = [
        f"# PromptLab soft prompt: {run_dir.name}",
        "",
        f"- method: {config.get('method')} ({config.get('num_virtual_tokens')} virtual tokens, "
        f"init {config.get('init')})",
        f"- base model: {spec.get('model')} ({family.title}, loaded with {family.auto_class})",
        f"- data: {spec.get('data')} (train split {spec.get('train_split')}, "
        f"validation: {spec.get('eval_size')} rows of {spec.get('eval_split')})",
        f"- best validation {metric}: {_pct(best.get(metric))} at step {best.get('step')}",
        f"- manual template zero-shot {metric}: {_pct(base.get(f'zero_shot_{metric}'))}; "
        f"few-shot: {_pct(base.get(f'few_shot_{metric}'))} ± {_pct(base.get(f'few_shot_{metric}_std'))}",
        "",
        "Load it:",
        "",
        "```python",
        "from peft import PeftModel",
        f"from transformers import {family.auto_class}",
        f"base = {family.auto_class}.from_pretrained(BASE_MODEL_DIR)",
        'model = PeftModel.from_pretrained(base, "adapter")',
        "```",
        "",
        "or score it with PromptLab: `promptlab score --template template.yaml --adapter adapter ...`.",
    ]
    return "\n".join(lines) + "\n"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def push_to_hub(run_dir: Path, repo_id: str, token: str | None = None, private: bool = True) -> str:
    """Upload the adapter and the bundle files to a Hub model repo; return its URL.

    Offline or without a token this raises a ValueError saying so; the run folder is never touched.
    """
    try:
        from huggingface_hub import HfApi, get_token
    except ImportError:
        raise ValueError("Pushing needs the huggingface_hub package: pip install huggingface_hub.") from None
    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise ValueError(f"No Hugging Face token: set HF_TOKEN or run `huggingface-cli login`, then push again. "
                         f"Nothing was lost: the run is still in {run_dir}, and `runs export` writes a zip.")
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
            raise ValueError(f"Could not push to the Hugging Face Hub ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:200] if str(err) else 'no network?'}). Nothing was lost: "
                             f"the run is still in {run_dir}; export a zip with `runs export`.") from None
    return f"https://huggingface.co/{repo_id}"
