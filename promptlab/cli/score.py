"""`promptlab score`: score a template on a dataset (zero-shot, or few-shot over seeds), as text or JSON, with one
model or several (the same rows, shots and seeds for each; every result names its model and family).

    promptlab score --template sst2-review-sentiment --data demo-reviews --limit 50 --json
    promptlab score --template sst2-review-sentiment --data sst2 --model smollm2-135m-instruct --model gemma-3-270m

With one --model, --json prints one JSON object; with several, a JSON list of them (one per model, in order) and
the text output ends with a table of the models side by side.
"""

from __future__ import annotations

import json
import sys

from promptlab.cli.args import add_holdout, non_negative, positive


def add_parser(sub) -> None:
    score = sub.add_parser("score", help="score a template on a dataset")
    score.add_argument("--template", required=True, help="template YAML file or shipped template name")
    score.add_argument("--data", required=True, help="file, folder, demo name (demo-reviews) or HF dataset name")
    score.add_argument("--split", help="split to score (default: validation, else the only split)")
    score.add_argument("--train-split", help="split to draw demonstrations from (default: train)")
    score.add_argument("--limit", type=positive, help="score N rows: the seeded subset the app scores for N")
    score.add_argument("--shots", type=non_negative, default=0, help="demonstrations per prompt (default 0)")
    score.add_argument("--seeds", type=positive, default=1, help="demonstration seeds for few-shot (default 1)")
    score.add_argument("--sampler", choices=("random", "balanced"), default="random")
    score.add_argument("--label-column", help="label column (default: detected)")
    add_holdout(score)
    score.add_argument("--model", action="append", default=None,
                       help="registry name, local folder or hub id; repeat it to score with several models")
    score.add_argument("--adapter", help="a tuning run id or a PEFT adapter folder to put on the (one) model")
    score.add_argument("--runs-dir", help="where to find --adapter's run id (default: $PROMPTLAB_RUNS or ./runs)")
    score.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    score.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    score.set_defaults(func=run)


def run(args) -> None:
    from promptlab.data.datasets import load_dataset
    from promptlab.data.sampling import demonstration_pool, evaluation_rows, sample_shots
    from promptlab.data.splits import holdout_for, overlap, with_holdout
    from promptlab.models.lm import load_lm
    from promptlab.models.registry import DEFAULT_MODEL
    from promptlab.prompts.files import find_template
    from promptlab.prompts.render import validate
    from promptlab.runs.store import resolve_adapter
    from promptlab.scoring.experiment import Protocol, score_template

    template = find_template(args.template)
    dataset = load_dataset(args.data, label_column=args.label_column)
    holdout = holdout_for(dataset, args.val_fraction, args.split_seed)
    dataset = with_holdout(dataset, holdout)
    split = args.split or dataset.default_eval_split
    rows = evaluation_rows(dataset.rows(split), args.limit)
    problems = validate(template, dataset.columns, rows[:50])
    if problems:
        raise ValueError(f"Template {template.name!r} does not fit {args.data}:\n"
                         + "\n".join(f"  - {p}" for p in problems))
    protocol = Protocol(shots=args.shots, seeds=args.seeds, sampler=args.sampler)
    train_split = args.train_split or dataset.default_train_split
    pool = demonstration_pool(dataset.rows(train_split), dataset.label_column) if args.shots else []
    shared = overlap(pool, rows, dataset.label_column) if args.shots else None
    if shared:
        print(f"warning: {shared} of the {len(rows)} rows scored are also in '{train_split}', where the "
              "demonstrations come from: a row is never its own demonstration, but it sees its neighbours' labels, "
              "so the scores can be optimistic." + (" Hold out a validation split (--val-fraction)."
                                                    if len(dataset.splits) == 1 else ""), file=sys.stderr)
    # Too few rows for the demonstrations is said now, not after seconds of model loading.
    sample_shots(pool, args.shots, seed=0, method=args.sampler, label_column=dataset.label_column)
    model_ids = list(dict.fromkeys(args.model or [DEFAULT_MODEL]))
    if args.adapter and len(model_ids) > 1:
        raise ValueError("--adapter fits one base model: pass one --model with it (an adapter is trained on one).")
    adapter = resolve_adapter(args.adapter, args.runs_dir) if args.adapter else None
    check_families(template, model_ids)  # a model that cannot serve the template is named before any scoring
    results = []
    for model_id in model_ids:
        lm = load_lm(model_id, adapter=adapter, device=args.device)
        label = f"scoring {template.name}" + (f" with {model_id}" if len(model_ids) > 1 else "")
        with _ProgressBar(label) as bar:
            report = score_template(lm, template, rows, protocol, pool=pool, label_column=dataset.label_column,
                                    progress=bar.update)
        results.append({
            "template": template.name, "data": args.data, "split": split, "model": lm.name, "family": lm.family,
            "n": report.n, "shots": args.shots, "seeds": args.seeds if args.shots else 1, "mode": report.mode,
            "holdout": holdout.to_dict() if holdout else None, "overlap": shared,
            "seconds": round(report.seconds, 3), "metrics": report.metrics, "per_seed": report.per_seed,
            "confusion": report.confusion.to_dict() if report.confusion is not None else None,
        })
        del lm  # one model in memory at a time
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, ensure_ascii=False))
        return
    for result in results:
        _print_report(result)
    if len(results) > 1:
        _print_table(results)


def check_families(template, model_ids) -> None:
    """Raise a ValueError naming each model whose family cannot score `template` (read from its config.json)."""
    from promptlab.models.families import read_family, template_problem
    from promptlab.models.registry import resolve_model
    from promptlab.prompts.render import is_cloze

    problems = []
    for model_id in model_ids:
        family = read_family(resolve_model(model_id), model_id)
        problem = template_problem(family, mode=template.mode, cloze=is_cloze(template), model=model_id)
        if problem:
            problems.append(problem)
    if problems:
        raise ValueError(f"Template {template.name!r} cannot be scored with every model:\n"
                         + "\n".join(f"  - {p}" for p in problems))


def _print_report(result: dict) -> None:
    print(f"{result['template']} on {result['data']} [{result['split']}], {result['n']} rows, "
          f"{result['shots']}-shot, model {result['model']} ({result['family']}), {result['seconds']:.1f} s")
    if result.get("holdout"):
        print(f"  validation split: {result['holdout']['fraction']:.0%} of the data's one split held out (stratified "
              f"by label, seed {result['holdout']['seed']}); --val-fraction 0 scores the whole split")
    metrics = result["metrics"]
    for key, value in metrics.items():
        if key.endswith(("_std", "_min", "_max")):
            continue
        spread = f"  ± {metrics[key + '_std']:.3f} (min {metrics[key + '_min']:.3f}, max {metrics[key + '_max']:.3f})" \
            if key + "_std" in metrics else ""
        print(f"  {key:<15} {value:.3f}{spread}")


def _print_table(results: list[dict]) -> None:
    """The models side by side: one row each, a column per metric (spreads left out: they are above)."""
    keys = [k for k in results[0]["metrics"] if not k.endswith(("_std", "_min", "_max"))]
    width = max(len(r["model"]) for r in results) + 2
    print()
    print(f"{'model':<{width}}{'family':<10}" + "".join(f"{k:>15}" for k in keys))
    for r in results:
        values = "".join(f"{r['metrics'][k]:>15.3f}" if k in r["metrics"] else f"{'':>15}" for k in keys)
        print(f"{r['model']:<{width}}{r['family']:<10}" + values)


class _ProgressBar:
    """tqdm on stderr, fed by the engine's (done, total) callbacks. The bar starts when the scoring does, so its
    rate counts the first batch's time too (a bar made at the first callback showed millions of requests/s)."""

    def __init__(self, description: str):
        self.description = description
        self.bar = None

    def __enter__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc=self.description, file=sys.stderr, unit="req", leave=False)
        return self

    def update(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
