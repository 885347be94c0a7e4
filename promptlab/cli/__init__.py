"""`promptlab` command line: score | templates | models | serve (and tune | runs, from promptlab.tuning.cli).

    promptlab score --template sst2-review-sentiment --data demo-reviews --limit 50 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

# Imported lazily inside commands: `promptlab --help` and `templates list` should not pay for torch.


def non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptlab", description="Design, score, compare and tune prompts.")
    sub = parser.add_subparsers(dest="command", required=True)

    score = sub.add_parser("score", help="score a template on a dataset")
    score.add_argument("--template", required=True, help="template YAML file or shipped template name")
    score.add_argument("--data", required=True, help="file, folder, demo name (demo-reviews) or HF dataset name")
    score.add_argument("--split", help="split to score (default: validation, else the only split)")
    score.add_argument("--train-split", help="split to draw demonstrations from (default: train)")
    score.add_argument("--limit", type=positive, help="score only the first N rows")
    score.add_argument("--shots", type=non_negative, default=0, help="demonstrations per prompt (default 0)")
    score.add_argument("--seeds", type=positive, default=1, help="demonstration seeds for few-shot (default 1)")
    score.add_argument("--sampler", choices=("random", "balanced"), default="random")
    score.add_argument("--label-column", help="label column (default: detected)")
    score.add_argument("--model", default=None, help="registry name, local folder or hub id")
    score.add_argument("--adapter", help="a tuning run id or a PEFT adapter folder to put on the model")
    score.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    score.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    score.set_defaults(func=cmd_score)

    templates = sub.add_parser("templates", help="the template library").add_subparsers(dest="action",
                                                                                       required=True)
    tlist = templates.add_parser("list", help="list shipped templates")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(func=cmd_templates_list)

    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", required=True)
    models.add_parser("list", help="list bundled models").set_defaults(func=cmd_models_list)

    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=positive, default=7860)
    serve.add_argument("--model", default=None)
    serve.add_argument("--share", action="store_true", help="create a public gradio link")
    serve.add_argument("--no-training", action="store_true", help="disable soft-prompt tuning (public Spaces)")
    serve.set_defaults(func=cmd_serve)

    try:
        from promptlab.tuning.cli import add_parsers
    except ImportError:  # tuning not installed in this build: the other commands still work
        pass
    else:
        add_parsers(sub)
    return parser


def cmd_score(args) -> None:
    from promptlab.data import load_dataset, sample_shots
    from promptlab.experiment import score_template
    from promptlab.models import DEFAULT_MODEL, load_lm
    from promptlab.templates import find_template, validate

    template = find_template(args.template)
    dataset = load_dataset(args.data, label_column=args.label_column)
    split = args.split or dataset.default_eval_split
    rows = dataset.rows(split)[: args.limit] if args.limit else dataset.rows(split)
    problems = validate(template, dataset.columns, rows[:50])
    if problems:
        raise ValueError(f"Template {template.name!r} does not fit {args.data}:\n"
                         + "\n".join(f"  - {p}" for p in problems))
    pool = dataset.rows(args.train_split or dataset.default_train_split) if args.shots else []
    # Too few rows for the demonstrations is said now, not after seconds of model loading.
    sample_shots(pool, args.shots, seed=0, method=args.sampler, label_column=dataset.label_column)
    adapter = _adapter_path(args.adapter) if args.adapter else None
    model_id = args.model or DEFAULT_MODEL
    lm = load_lm(model_id, adapter=adapter, device=args.device)
    with _ProgressBar(f"scoring {template.name}") as bar:
        report = score_template(lm, template, rows, pool=pool, shots=args.shots, seeds=args.seeds,
                                sampler=args.sampler, label_column=dataset.label_column, progress=bar.update)
    result = {
        "template": template.name, "data": args.data, "split": split, "model": lm.name, "n": report.n,
        "shots": args.shots, "seeds": args.seeds if args.shots else 1, "mode": report.mode,
        "seconds": round(report.seconds, 3), "metrics": report.metrics, "per_seed": report.per_seed,
        "confusion": report.confusion.to_dict() if report.confusion is not None else None,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_report(result)


def _adapter_path(run_or_dir: str):
    from promptlab.jobs import resolve_adapter

    return resolve_adapter(run_or_dir)


def _print_report(result: dict) -> None:
    print(f"{result['template']} on {result['data']} [{result['split']}], {result['n']} rows, "
          f"{result['shots']}-shot, model {result['model']}, {result['seconds']:.1f} s")
    metrics = result["metrics"]
    for key, value in metrics.items():
        if key.endswith(("_std", "_min", "_max")):
            continue
        spread = f"  ± {metrics[key + '_std']:.3f} (min {metrics[key + '_min']:.3f}, max {metrics[key + '_max']:.3f})" \
            if key + "_std" in metrics else ""
        print(f"  {key:<15} {value:.3f}{spread}")


class _ProgressBar:
    """tqdm on stderr, fed by the engine's (done, total) callbacks."""

    def __init__(self, description: str):
        self.description = description
        self.bar = None

    def __enter__(self):
        return self

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, file=sys.stderr, unit="req", leave=False)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def cmd_templates_list(args) -> None:
    from promptlab.templates import list_templates

    templates = list_templates()
    if args.json:
        print(json.dumps([{"name": t.name, "task": t.task, "language": t.language, "mode": t.mode,
                           "description": t.description} for t in templates], ensure_ascii=False))
        return
    for t in templates:
        print(f"{t.name:<32} {t.task:<16} {t.language:<3} {t.mode:<9} {t.description}")


def cmd_models_list(args) -> None:
    from promptlab.models import DEFAULT_MODEL, list_models

    for m in list_models():
        state = "installed" if m.available else f"not installed: {m.install_hint}"
        default = " (default)" if m.id == DEFAULT_MODEL else ""
        print(f"{m.id:<24} {state}{default}\n    {m.description}")
    print("Any local model folder or Hugging Face hub id also works (--model PATH_OR_ID).")


def cmd_serve(args) -> None:
    from promptlab.ui import launch

    launch(host=args.host, port=args.port, share=args.share, model_id=args.model,
           allow_training=False if args.no_training else None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        code = args.func(args) or 0  # tune/runs handlers return an exit code; the others return None
    except ValueError as err:  # engine errors are written for people: show them, no traceback
        print(f"promptlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"promptlab: interrupted after {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
