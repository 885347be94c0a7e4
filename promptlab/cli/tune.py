"""`promptlab tune`: queue a soft-prompt tuning job (or follow it to its end with --wait); and the hidden
`promptlab worker RUN_DIR` that a job runs as. Torch is imported only by the worker."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from promptlab.cli.args import add_holdout
from promptlab.cli.runs import summary
from promptlab.runs import store
from promptlab.runs.queue import ACTIVE
from promptlab.tuning.config import INITS, METHODS, PRESETS, TuneConfig, preset


def add_parser(sub) -> None:
    p = sub.add_parser("tune", help="train a soft prompt (PEFT) from a template, as a background job",
                              description="Queue a soft-prompt tuning job (or run it to the end with --wait).")
    p.add_argument("--template", required=True, help="template YAML file or shipped template name")
    p.add_argument("--data", required=True, help="dataset path or name (as for `score`)")
    p.add_argument("--method", default="prompt_tuning", choices=METHODS)
    p.add_argument("--steps", type=_number, help="optimizer steps (default: the preset's)")
    p.add_argument("--init", choices=INITS, help="soft-prompt init (default: template)")
    p.add_argument("--model", help="model id, local folder or hub id (default: smollm2-135m-instruct)")
    p.add_argument("--preset", choices=["auto", *PRESETS, "test"], default="auto",
                   help="settings per device (auto: gpu if one is here; test: tiny, for tests)")
    p.add_argument("--lr", type=_number)
    p.add_argument("--batch-size", type=_number)
    p.add_argument("--num-virtual-tokens", type=_number)
    p.add_argument("--eval-every", type=_number)
    p.add_argument("--eval-size", type=_number)
    p.add_argument("--num-processes", type=_number, help="train with N processes through `accelerate launch`")
    p.add_argument("--train-split")
    p.add_argument("--eval-split")
    p.add_argument("--label-column")
    add_holdout(p)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other TuneConfig setting, e.g. --set schedule=cosine (repeatable)")
    p.add_argument("--runs-dir", help="runs folder (default: $PROMPTLAB_RUNS or ./runs)")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish, printing progress")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_tune)
    worker = sub.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("run_dir")
    worker.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(func=_worker)


def config_from_args(args) -> TuneConfig:
    """The TuneConfig the flags describe: preset + method defaults, then flags, then --set KEY=VALUE."""
    name = args.preset if args.preset != "auto" else _auto_preset()
    overrides = {"max_steps": args.steps, "init": args.init, "lr": args.lr, "batch_size": args.batch_size,
                 "num_virtual_tokens": args.num_virtual_tokens, "eval_every": args.eval_every,
                 "eval_size": args.eval_size, "num_processes": args.num_processes}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set needs KEY=VALUE, got {item!r}.")
        overrides[key.strip()] = _parse_value(key.strip(), value.strip())
    return preset(name, args.method, **overrides)


def _number(text: str) -> int | float:
    """A flag's number as typed (1e12 and nan included): TuneConfig says what is wrong with it, naming the
    setting; argparse says so for what is not a number at all."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _parse_value(key: str, text: str):
    fields = {f.name: f for f in dataclasses.fields(TuneConfig)}
    if key not in fields:
        raise ValueError(f"Unknown setting {key!r} in --set. Settings: {', '.join(sorted(fields))}.")
    default = fields[key].default
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"--set {key} takes true or false, not {text!r}.")
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, (int, float)):
        try:
            return _number(text)  # 1e12, nan, inf: numbers, judged (with the setting's name) by TuneConfig
        except argparse.ArgumentTypeError:
            raise ValueError(f"--set {key} takes a number, not {text!r}.") from None
    if isinstance(default, tuple):
        return tuple(x.strip() for x in text.split(",") if x.strip())
    return text


def _auto_preset() -> str:
    try:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def spec_from_args(args) -> dict:
    """The job spec the flags describe (validated when submitted)."""
    from promptlab.data.splits import DEFAULT_FRACTION
    from promptlab.prompts.files import dump_template, find_template

    template = find_template(args.template)
    return {"template": dump_template(template), "data": args.data, "model": args.model,
            "train_split": args.train_split, "eval_split": args.eval_split, "label_column": args.label_column,
            "holdout": None if args.val_fraction == 0 else  # applied to data with one split only
            {"fraction": args.val_fraction or DEFAULT_FRACTION, "seed": args.split_seed},
            "config": config_from_args(args).to_dict()}


def _tune(args) -> int:
    from promptlab.tuning.spec import submit

    run_id = submit(spec_from_args(args), args.runs_dir)
    if not args.wait:
        info = store.get_run(run_id, args.runs_dir)
        print(json.dumps(summary(info)) if args.json else run_id)
        return 0
    info = _follow(run_id, args.runs_dir, quiet=args.json)
    print(json.dumps(summary(info)) if args.json else run_id)
    if info.status != "done":
        raise SystemExit(1)  # a script waiting on the run learns that it did not finish
    return 0


def _follow(run_id: str, runs_dir, quiet: bool) -> store.RunInfo:
    """Poll the run until it ends, echoing its log to stderr."""
    shown = 0
    while True:
        info = store.get_run(run_id, runs_dir)
        lines = store.read_log(run_id, runs_dir, tail=10**9, max_bytes=None).splitlines()
        if not quiet:
            for line in lines[shown:]:
                print(line, file=sys.stderr)
        shown = len(lines)
        if info.status not in ACTIVE:
            return info
        time.sleep(1.0)


def _worker(args) -> int:
    from promptlab.tuning.worker import main

    code = main(args.run_dir, train_only=args.train_only)
    if code:
        raise SystemExit(code)  # `accelerate launch` and the supervisor read the exit code
    return 0
