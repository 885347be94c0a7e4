"""What makes an exported adapter portable: its adapter_config.json names the base model as a stranger finds it
(the Hugging Face Hub id; a local folder stays a path, and the card says so), records a text initialisation as
PEFT's TEXT init, and its README.md is our model card (PEFT writes an empty template card): base model, template,
data, method, init, steps and scores, and the lines that load it. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

from promptlab.models.families import family_for_task_type
from promptlab.models.peft_methods import METHODS
from promptlab.models.registry import BUNDLED, hub_id
from promptlab.runs.layout import read_dict, read_jsonl

KEEP_INIT = object()  # portable_config(init_text=KEEP_INIT): leave the init fields as they are (older runs)
INIT_WORDS = {"template": "the template's own text", "class_labels": "the answer choices' words, then frequent "
              "tokens", "sample_vocab": "frequent vocabulary tokens drawn at random", "random": "random vectors at "
              "the scale of the model's word embeddings"}


def base_reference(model_id) -> str:
    """What `from_pretrained` takes to get the base model elsewhere: its hub id, else the local folder's path."""
    model_id = str(model_id or "")
    return hub_id(model_id) or model_id


def portable_config(config: dict, model_id, *, init: str = "", init_text=KEEP_INIT) -> dict:
    """`adapter_config.json` as a stranger needs it: `base_model_name_or_path` is the base model's hub id (a local
    folder stays its path); a prompt-tuning adapter initialised from text (`init` "template", `init_text` the text
    its vectors started from) says TEXT, with that text and the tokenizer to read it with. Other inits have no
    PEFT name (class-label words, frequent tokens): they stay RANDOM, the card says what they were."""
    out = dict(config)
    base = base_reference(model_id)
    out["base_model_name_or_path"] = base
    if out.get("peft_type") != "PROMPT_TUNING" or init_text is KEEP_INIT:
        return out
    if init == "template" and init_text:
        out.update(prompt_tuning_init="TEXT", prompt_tuning_init_text=init_text, tokenizer_name_or_path=base)
    else:
        out.update(prompt_tuning_init="RANDOM", prompt_tuning_init_text=None, tokenizer_name_or_path=None)
    out.pop("tokenizer_kwargs", None)  # PEFT refuses tokenizer_kwargs without a TEXT init
    return out


def model_card(run_dir: Path, *, adapter_path: str = "adapter", best: dict | None = None,
               adapter_config: dict | None = None, left_out=()) -> str:
    """The README of an exported run (`adapter_path` "adapter") or of its adapter folder (`adapter_path` "."):
    what was trained, on what, how well against the manual prompt, which checkpoint this is, and how to load it.
    `best` and `adapter_config`: those of an adapter being written (default: the run folder's)."""
    spec = read_dict(run_dir / "spec.json")
    status = read_dict(run_dir / "status.json")
    baselines = read_dict(run_dir / "baselines.json")
    if adapter_config is None:
        adapter_config = read_dict(run_dir / "adapter" / "adapter_config.json")
    notes = read_dict(run_dir / "notes.json")
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    best = best if best is not None else (status.get("best") if isinstance(status.get("best"), dict) else {})
    metric = str(baselines.get("metric") or ("acc" if "acc" in best else "exact_match"))
    family = family_for_task_type(adapter_config.get("task_type"))
    model_id = str(spec.get("model") or "")
    base = base_reference(model_id)
    name = str(notes.get("name") or spec.get("name") or run_dir.name)
    lines = [f"# PromptLab soft prompt: {name}", "",
             f"Run `{run_dir.name}` ({status.get('status', '?')}), trained with PromptLab.", "",
             f"- base model: {_base_words(model_id, base)} ({family.title}, loaded with {family.auto_class})",
             f"- template: `{_template_name(spec)}` (template.yaml in the run bundle); the soft prompt goes before "
             "the prompt this template renders, and is scored with it",
             f"- data: `{spec.get('data')}` (trained on split `{spec.get('train_split')}`; validation: "
             f"{spec.get('eval_size')} rows of split `{spec.get('eval_split')}`)",
             f"- method: {_method_words(config)}",
             f"- init: {_init_words(config, adapter_config)}",
             f"- steps: {_steps_words(status, spec, best)}",
             *_score_lines(run_dir, metric, best, baselines)]
    if notes.get("note"):
        lines += ["", "Note:", "", *[f"> {line}" for line in str(notes["note"]).splitlines()]]
    folder = "adapter" if adapter_path == "adapter" else "ADAPTER_FOLDER"
    lines += ["", "## Load it", "", *_load_lines(family.auto_class, base, model_id, adapter_path), "",
              f"or score it with PromptLab: `promptlab score --template template.yaml --adapter {folder} --model "
              f"{model_id or base}` (template.yaml is in the run bundle)."]
    if left_out:
        lines += ["", "Left out of this bundle (PromptLab copies only plain files, never what a link points to):", ""]
        lines += [f"- {note}" for note in left_out]
    return "\n".join(lines) + "\n"


def _base_words(model_id: str, base: str) -> str:
    if model_id in BUNDLED:
        return (f"`{base}` on the Hugging Face Hub. PromptLab trained it on `{model_id}`, that model's GGUF build "
                "bundled with PromptLab (de-quantized to float32): on the Hub's full-precision weights the scores "
                "may differ slightly from those below")
    if base == model_id and hub_id(model_id):
        return f"`{base}` on the Hugging Face Hub"
    return (f"`{base}`, a local folder on the machine that trained it (it has no Hub id): put the path of a copy of "
            "that model in the lines below")


def _steps_words(status: dict, spec: dict, best: dict) -> str:
    total = status.get("total_steps") or spec.get("total_steps")
    if status.get("status") in ("queued", "running"):
        return f"{best.get('step', 0)} of {total} when this adapter was written, during training"
    return f"{status.get('step', 0)} of {total} ({status.get('status')})"


def _template_name(spec: dict) -> str:
    import yaml

    try:
        data = yaml.safe_load(spec.get("template") or "")
    except yaml.YAMLError:
        return "?"
    return str(data.get("name") or "?") if isinstance(data, dict) else "?"


def _method_words(config: dict) -> str:
    method = METHODS.get(str(config.get("method")))
    if method is None:
        return str(config.get("method"))
    if not method.virtual_tokens:
        return f"{method.title} (rank {config.get('lora_r')}, alpha {config.get('lora_alpha')})"
    return f"{method.title}, {config.get('num_virtual_tokens')} virtual tokens"


def _init_words(config: dict, adapter_config: dict) -> str:
    if config.get("method") == "lora":
        return "LoRA's own (the update starts at zero)"
    init = str(config.get("init"))
    words = INIT_WORDS.get(init, init)
    text = adapter_config.get("prompt_tuning_init_text") or config.get("init_text")
    if init == "template" and text:
        words += f': "{_short(text, 300)}"'
        if adapter_config.get("prompt_tuning_init") == "TEXT":
            words += " (recorded as PEFT's TEXT init in adapter_config.json)"
    return words


def _score_lines(run_dir: Path, metric: str, best: dict, baselines: dict) -> list[str]:
    evals = [m for m in read_jsonl(run_dir / "metrics.jsonl") if m.get("split", "val") == "val" and metric in m]
    start = next((m for m in evals if m.get("step") == 0), None)
    last = evals[-1] if evals else None
    rows = f"{baselines['n']} validation rows" if baselines.get("n") else "the validation rows"
    lines = [f"- scores ({metric} on {rows}):",
             f"  - this adapter: {_pct(best.get(metric))}, the best evaluation (step {best.get('step')})"]
    if start is not None:
        lines.append(f"  - the soft prompt at its start (step 0): {_pct(start[metric])}")
    if last is not None and last is not start:
        lines.append(f"  - at the last evaluation (step {last.get('step')}): {_pct(last[metric])}")
    if start is not None and last is not None and worse_than_start(metric, start[metric], last[metric]):
        lines.append(f"  - the run ended worse than it started: this adapter is the best evaluation, step "
                     f"{best.get('step')}, not the last one")
    if baselines:
        lines.append(f"  - the manual template alone: zero-shot {_pct(baselines.get(f'zero_shot_{metric}'))}; "
                     f"{baselines.get('shots')}-shot {_pct(baselines.get(f'few_shot_{metric}'))} ± "
                     f"{_pct(baselines.get(f'few_shot_{metric}_std'))} over {baselines.get('seeds')} seeds"
                     + (f"; majority class {_pct(baselines['majority'])}" if "majority" in baselines else ""))
    return lines


def worse_than_start(metric: str, start, last) -> bool:
    """Did a run end below where it started (by its metric; lower is better for a loss)?"""
    if not all(isinstance(v, (int, float)) for v in (start, last)):
        return False
    return last > start if metric.endswith("loss") else last < start


def _load_lines(auto_class: str, base: str, model_id: str, adapter_path: str) -> list[str]:
    where = ("  # this folder: the one holding adapter_config.json" if adapter_path == "." else
             "  # the adapter/ folder of the run bundle")
    return ["```python", "from peft import PeftModel",
            f"from transformers import {auto_class}, AutoTokenizer", "",
            f"base = {auto_class}.from_pretrained({base!r})",
            f"tokenizer = AutoTokenizer.from_pretrained({base!r})",
            f"model = PeftModel.from_pretrained(base, {adapter_path!r}){where}", "```"]


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pct(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"
