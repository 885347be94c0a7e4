"""Soft prompts vs manual prompts on SST-2 with the bundled SmolLM2-135M-Instruct on CPU (figures, not a test).

Run (from the repository root, with the project's venv):

    python benchmarks/tuning.py                      # the full table: ~45 min on 2 quiet CPU cores
    python benchmarks/tuning.py --json               # the same; the last stdout line is one JSON object
    python benchmarks/tuning.py --steps 100 --fewshot-rows 200 --methods pt-template,lora

What it measures, in one table:

* **Manual templates** (the shipped `sst2-*` templates) on the dev rows (`--eval-rows`, default all 872):
  zero-shot `acc` and contextual-calibrated `acc_calibrated` for every template; few-shot (`--shots` demonstrations
  from train, mean ± std over `--seeds` seeds) for the best zero-shot template, on `--fewshot-rows` dev rows.
* **Soft prompts**, each a real tuning job (`submit(..., launch=False)`, then `store.launch`: the worker the app uses)
  with the same fixed budget (`--steps` optimizer steps of `--batch-size` examples, 20 virtual tokens, each
  method's default learning rate from `promptlab.tuning.config.DEFAULT_LR`):
  prompt tuning from an instruction text (template init), from the answer choices' embeddings (class-label init)
  and from random vectors, P-tuning (MLP encoder),
  prefix tuning (key/values of the instruction text), and LoRA (r=8 on q/v) as a reference point. The template is
  `sst2-review-sentiment`; the loss is cross-entropy over the answer choices. Dev accuracy = the run's final
  evaluation on all `--eval-rows` (no selection on dev), wall time = the job's start to end (model load,
  step-0 and final evaluation included), peak RSS = the worker process's, polled every 0.5 s.
* **Training speed**: our loop's step (packed shared contexts, head only where the loss needs it) vs a reference
  PEFT + Hugging Face `Trainer` script (prompt + " " + gold label, labels masked to the label tokens, padded
  batches from its default random sampler), on the same examples (ours in the length-grouped batches our loop
  forms), batch size, lr and PEFT config, `--speed-steps` steps each, interleaved `--repeats`
  times, the best time kept (the machine is shared: other jobs only make a run slower). tokens/s counts each
  example's real tokens (prompt + label) once, for both, so the ratio is an examples/s ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from promptlab.prompts.files import dump_template, find_template  # noqa: E402
from promptlab.runs import layout, queue, store  # noqa: E402
from promptlab.tuning.config import preset  # noqa: E402
from promptlab.tuning.spec import submit  # noqa: E402

TEMPLATE = "sst2-review-sentiment"
INIT_TEXT = "Classify the sentiment of this movie review as positive or negative."
METHODS = {  # name -> (label, method, TuneConfig overrides)
    "pt-template": ("prompt tuning, template init", "prompt_tuning", {"init": "template", "init_text": INIT_TEXT}),
    "pt-labels": ("prompt tuning, class-label init", "prompt_tuning", {"init": "class_labels"}),
    "pt-random": ("prompt tuning, random init", "prompt_tuning", {"init": "random"}),
    "p-tuning": ("P-tuning (MLP), template init", "p_tuning", {"init": "template", "init_text": INIT_TEXT}),
    "prefix": ("prefix tuning, template init", "prefix_tuning", {"init": "template", "init_text": INIT_TEXT}),
    "lora": ("LoRA r=8 (q,v)", "lora", {}),
}


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


# ---- manual templates ---------------------------------------------------------------------------------------------


def manual_baselines(lm, dataset, args) -> dict:
    """Zero-shot and calibrated for every SST-2 template; few-shot for the best zero-shot one."""
    from promptlab.data.sampling import demonstration_pool, evaluation_rows
    from promptlab.prompts.files import list_templates
    from promptlab.prompts.render import is_cloze
    from promptlab.scoring.experiment import Protocol, score_template

    # the rows the tuning runs evaluate on too: all 872 by default
    dev = evaluation_rows(dataset.rows("validation"), args.eval_rows)
    train = dataset.rows("train")
    out = {}
    for template in [t for t in list_templates() if t.task == "sst2" and not is_cloze(t)]:  # cloze: masked LMs
        start = time.perf_counter()
        metrics = score_template(lm, template, dev, label_column="label").metrics
        out[template.name] = {"zero_shot": metrics["acc"], "calibrated": metrics.get("acc_calibrated"),
                              "seconds": round(time.perf_counter() - start, 1)}
        log(f"{template.name}: zero-shot {metrics['acc']:.3f}, calibrated {metrics.get('acc_calibrated')}")
    best = max(out, key=lambda name: out[name]["zero_shot"])
    if args.shots:
        start = time.perf_counter()
        few = score_template(lm, find_template(best), dev[: args.fewshot_rows], Protocol(args.shots, args.seeds),
                             pool=demonstration_pool(train, "label"), label_column="label").metrics
        out[best]["few_shot"] = few["acc"]
        out[best]["few_shot_std"] = few["acc_std"]
        out[best]["few_shot_seconds"] = round(time.perf_counter() - start, 1)
        log(f"{best}: {args.shots}-shot {few['acc']:.3f} ± {few['acc_std']:.3f}")
    return {"templates": out, "best_zero_shot": best}


# ---- soft prompts -------------------------------------------------------------------------------------------------


def soft_prompt(key: str, args, data: str, baselines: dict) -> dict:
    """One tuning job with the fixed budget; its final dev accuracy, wall time and peak RSS."""
    import psutil

    label, method, overrides = METHODS[key]
    config = preset("cpu", method, max_steps=args.steps, batch_size=args.batch_size, eval_size=args.eval_rows,
                    eval_every=0, checkpoint_every=0, baseline_shots=0, num_threads=args.threads, **overrides)
    spec = {"template": dump_template(find_template(TEMPLATE)), "data": data, "config": config.to_dict()}
    run_id = submit(spec, args.runs_dir, launch=False)
    # the manual baselines are measured above already: hand them to the run instead of measuring them again
    layout.write_json_atomic(layout.run_path(run_id, args.runs_dir) / "baselines.json", baselines)
    store.launch(run_id, args.runs_dir)
    peak = 0
    while (info := store.get_run(run_id, args.runs_dir)).status in queue.ACTIVE:
        record = layout.read_json(layout.run_path(run_id, args.runs_dir) / "worker.json") or {}
        try:
            proc = psutil.Process(record["pid"])
            peak = max(peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
        except (psutil.Error, KeyError):
            pass
        time.sleep(0.5)
    evals = [m for m in store.read_metrics(run_id, args.runs_dir) if m.get("split") == "val"]
    if info.status != "done" or not evals:
        log_text = store.read_log(run_id, args.runs_dir)
        raise SystemExit(f"{key}: run {run_id} ended {info.status}: {info.error}\n{log_text}")
    train_lines = [m for m in store.read_metrics(run_id, args.runs_dir) if "loss" in m]
    row = {"method": label, "run_id": run_id, "steps": args.steps, "dev_acc": evals[-1]["acc"],
           "dev_acc_step0": evals[0]["acc"], "wall_s": round(info.finished - info.started, 1),
           "peak_rss_gb": round(peak / 1e9, 2),
           "train_tokens_per_s": round(sum(m["tokens_per_s"] for m in train_lines) / len(train_lines), 1)}
    log(f"{label}: dev acc {row['dev_acc']:.3f} (step 0: {row['dev_acc_step0']:.3f}), {row['wall_s']:.0f} s, "
        f"peak RSS {row['peak_rss_gb']} GB")
    return row


# ---- training speed: our loop vs PEFT + Trainer ---------------------------------------------------------------------


def speed_comparison(args, dataset) -> dict:
    """Examples/s of our training step and of a PEFT + Trainer reference, same examples and settings."""
    import torch

    from promptlab.data.sampling import sample_rows
    from promptlab.scoring.experiment import build_examples

    torch.set_num_threads(args.threads or torch.get_num_threads())
    pool = build_examples(find_template(TEMPLATE), sample_rows(dataset.rows("train"), args.batch_size * 64, seed=1))
    # the same examples for both: the batches our loop would form (length-grouped) from a training-sized window
    batches = loop_batches(pool, args.batch_size)[: args.speed_steps + 1]
    examples = [pool[i] for batch in batches for i in batch]
    ours, reference = [], []
    for _ in range(args.repeats):  # interleaved: both see the same machine load
        ours.append(_time_ours(examples, args))
        reference.append(_time_reference(examples, args))
        log(f"speed: ours {ours[-1]:.2f} s/step, PEFT+Trainer {reference[-1]:.2f} s/step")
    tokens = _mean_example_tokens(examples)
    per_s = {"ours": args.batch_size / min(ours), "reference": args.batch_size / min(reference)}
    return {"examples_per_s": {k: round(v, 3) for k, v in per_s.items()},
            "tokens_per_s": {k: round(v * tokens, 1) for k, v in per_s.items()},
            "ratio": round(per_s["ours"] / per_s["reference"], 2), "mean_example_tokens": round(tokens, 1),
            "steps": args.speed_steps, "repeats": args.repeats}


def loop_batches(examples, batch_size: int) -> list[list[int]]:
    from promptlab.tuning.loop import epoch_batches

    return epoch_batches([len(e.prompt) for e in examples], batch_size, seed=0, epoch=0)


def _load(dtype="fp32"):
    from promptlab.models.lm import load_lm

    return load_lm("smollm2-135m-instruct", device="cpu", dtype=dtype)


def _mean_example_tokens(examples) -> float:
    from transformers import AutoTokenizer

    from promptlab.models.registry import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    return sum(len(tokenizer.encode(e.prompt + e.delimiter + e.target)) for e in examples) / len(examples)


def _time_ours(examples, args) -> float:
    """Seconds per optimizer step of our loop (the first step is a warm-up and not timed)."""
    import torch
    from accelerate import Accelerator

    from promptlab.tuning import loop
    from promptlab.tuning.methods import wrap

    lm = _load()
    config = preset("cpu", "prompt_tuning", init="template", init_text=INIT_TEXT, batch_size=args.batch_size)
    model = wrap(lm.model, lm.tokenizer, config)
    model.train()
    setup = loop.Setup(run=None, config=config, model=model, tokenizer=lm.tokenizer, train=examples, val=[],
                       mode="rank", accelerator=Accelerator(cpu=True), total_steps=args.speed_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr)
    times = []
    for step in range(args.speed_steps + 1):  # the examples come in our loop's batches, in order
        batch = examples[step * args.batch_size:(step + 1) * args.batch_size]
        t0 = time.perf_counter()
        loop.micro_batch(setup, batch, "choices", scale=1.0)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return sum(times[1:]) / len(times[1:])


def _time_reference(examples, args) -> float:
    """Seconds per step of the textbook script: PEFT prompt tuning (TEXT init) + transformers.Trainer."""
    import datasets
    from peft import PromptTuningConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    lm = _load()
    tokenizer, path = lm.tokenizer, lm.model.config._name_or_path
    peft_config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=20, prompt_tuning_init="TEXT",
                                     prompt_tuning_init_text=INIT_TEXT, tokenizer_name_or_path=path)
    model = get_peft_model(lm.model, peft_config)

    def encode(e):
        prompt = tokenizer.encode(e["prompt"])
        answer = tokenizer.encode(e["prompt"] + " " + e["target"])[len(prompt):]
        return {"input_ids": prompt + answer, "attention_mask": [1] * (len(prompt) + len(answer)),
                "labels": [-100] * len(prompt) + answer}

    rows = datasets.Dataset.from_list([{"prompt": e.prompt, "target": e.target} for e in examples])
    train = rows.map(encode, remove_columns=["prompt", "target"])
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t0)

    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    training_args = TrainingArguments(output_dir=str(Path(args.runs_dir) / "trainer-tmp"), use_cpu=True,
                                      per_device_train_batch_size=args.batch_size,
                                      learning_rate=preset("cpu", "prompt_tuning").lr,
                                      max_steps=args.speed_steps + 1, report_to="none", save_strategy="no",
                                      logging_strategy="no", disable_tqdm=True, optim="adamw_torch",
                                      dataloader_num_workers=0)
    trainer = Trainer(model=model, args=training_args, train_dataset=train,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True), callbacks=[StepTimer()])
    trainer.train()
    return sum(times[1:]) / len(times[1:])


# ---- report -------------------------------------------------------------------------------------------------------


def table(baselines: dict, rows: list[dict], speed: dict | None) -> str:
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
    lines = ["| prompt | dev acc (%) | wall (min) | notes |", "| --- | --- | --- | --- |"]
    for name, b in baselines["templates"].items():
        few = f"; {pct(b['few_shot'])} ± {pct(b['few_shot_std'])} few-shot" if "few_shot" in b else ""
        lines.append(f"| manual `{name}` zero-shot | {pct(b['zero_shot'])} | {b['seconds'] / 60:.1f} | "
                     f"calibrated {pct(b['calibrated'])}{few} |")
    for r in rows:
        lines.append(f"| {r['method']}, {r['steps']} steps | {pct(r['dev_acc'])} | {r['wall_s'] / 60:.1f} | "
                     f"step 0: {pct(r['dev_acc_step0'])}; peak RSS {r['peak_rss_gb']} GB |")
    if speed:
        lines.append("")
        lines.append(f"Training speed (prompt tuning, {speed['steps']} steps, best of {speed['repeats']}): ours "
                     f"{speed['tokens_per_s']['ours']} tokens/s vs PEFT + Trainer {speed['tokens_per_s']['reference']}"
                     f" tokens/s = {speed['ratio']}x")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "sst2"))
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per soft-prompt method")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--eval-rows", type=int, default=872, help="dev rows for every accuracy (872 = all)")
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--fewshot-rows", type=int, default=872, help="dev rows for the few-shot baseline")
    parser.add_argument("--speed-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    parser.add_argument("--runs-dir", default="/tmp/promptlab-bench-runs")
    parser.add_argument("--parts", default="baselines,soft,speed",
                        help="what to run: comma-separated subset of baselines, soft, speed")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from promptlab.data.datasets import load_dataset

    dataset = load_dataset(args.data)
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    if "baselines" in parts:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        manual = manual_baselines(_load(), dataset, args)
    else:
        manual = {"templates": {}, "best_zero_shot": None}
    best = manual["templates"].get(manual["best_zero_shot"], {})
    tuned = manual["templates"].get(TEMPLATE, best)
    run_baselines = {"metric": "acc", "n": args.eval_rows, "zero_shot_acc": tuned.get("zero_shot"),
                     "calibrated_acc": tuned.get("calibrated"), "few_shot_acc": best.get("few_shot"),
                     "few_shot_acc_std": best.get("few_shot_std"), "templates": manual["templates"]}
    methods = [m for m in args.methods.split(",") if m] if "soft" in parts else []
    rows = [soft_prompt(key, args, args.data, run_baselines) for key in methods]
    speed = speed_comparison(args, dataset) if "speed" in parts else None
    best_soft = max(rows, key=lambda r: r["dev_acc"]) if rows else None
    result = {
        "manual": manual, "soft_prompts": rows, "speed": speed, "steps": args.steps, "batch_size": args.batch_size,
        "eval_rows": args.eval_rows, "threads": args.threads, "seconds": round(time.perf_counter() - started, 1),
        "best_manual_zero_shot": best.get("zero_shot"),
        "best_soft_prompt": best_soft and best_soft["dev_acc"],
        "gain_points": best_soft and best and round(100 * (best_soft["dev_acc"] - best["zero_shot"]), 1),
        "peak_rss_gb": max((r["peak_rss_gb"] for r in rows), default=None),
    }
    print(table(manual, rows, speed))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
