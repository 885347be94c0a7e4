"""`promptlab tune`, `promptlab runs ...` and the hidden `promptlab worker RUN_DIR`.

`promptlab.cli` calls `add_parsers(subparsers)`; every parser sets `func`, which takes the parsed args and returns
the exit code. Torch is imported only by the worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from promptlab import jobs
from promptlab.tuning.config import INITS, METHODS, PRESETS, TuneConfig, preset


def add_parsers(subparsers) -> None:
    """Add `tune`, `runs` and the hidden `worker` subcommands to an argparse subparsers object."""
    _add_tune(subparsers)
    _add_runs(subparsers)
    worker = subparsers.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("run_dir")
    worker.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(func=_worker)


def _add_tune(subparsers) -> None:
    p = subparsers.add_parser("tune", help="train a soft prompt (PEFT) from a template, as a background job",
                              description="Queue a soft-prompt tuning job (or run it to the end with --wait).")
    p.add_argument("--template", required=True, help="template YAML file or shipped template name")
    p.add_argument("--data", required=True, help="dataset path or name (as for `score`)")
    p.add_argument("--method", default="prompt_tuning", choices=METHODS)
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument("--init", choices=INITS, help="soft-prompt init (default: template)")
    p.add_argument("--model", help="model id, local folder or hub id (default: smollm2-135m-instruct)")
    p.add_argument("--preset", choices=["auto", *PRESETS, "test"], default="auto",
                   help="settings per device (auto: gpu if one is here; test: tiny, for tests)")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--num-virtual-tokens", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--eval-size", type=int)
    p.add_argument("--num-processes", type=int, help="train with N processes through `accelerate launch`")
    p.add_argument("--train-split")
    p.add_argument("--eval-split")
    p.add_argument("--label-column")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other TuneConfig setting, e.g. --set schedule=cosine (repeatable)")
    p.add_argument("--runs-dir", help="runs folder (default: $PROMPTLAB_RUNS or ./runs)")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish, printing progress")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_tune)


def _add_runs(subparsers) -> None:
    p = subparsers.add_parser("runs", help="list, show, cancel, resume, export or delete tuning runs")
    p.add_argument("--runs-dir", help="runs folder (default: $PROMPTLAB_RUNS or ./runs)")
    sub = p.add_subparsers(dest="runs_command", required=True)
    ls = sub.add_parser("list", help="every run, newest first")
    ls.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one run: status, best, baselines, curves")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")
    cancel = sub.add_parser("cancel", help="stop a queued or running run")
    cancel.add_argument("run_id")
    cancel.add_argument("--wait", type=float, default=None, metavar="SECONDS", help="wait, then kill if still alive")
    resume = sub.add_parser("resume", help="continue an interrupted, failed or cancelled run")
    resume.add_argument("run_id")
    export = sub.add_parser("export", help="write a zip bundle (template, config, metrics, adapter)")
    export.add_argument("run_id")
    export.add_argument("--out", required=True)
    export.add_argument("--push", metavar="REPO_ID", help="also push to this Hugging Face Hub repo")
    delete = sub.add_parser("delete", help="remove a finished run folder")
    delete.add_argument("run_id")
    for parser in (ls, show, cancel, resume, export, delete):
        parser.add_argument("--runs-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=_runs)


# ---- tune ----------------------------------------------------------------------------------------------------------


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


def _parse_value(key: str, text: str):
    fields = {f.name: f for f in dataclasses.fields(TuneConfig)}
    if key not in fields:
        raise ValueError(f"Unknown setting {key!r} in --set. Settings: {', '.join(sorted(fields))}.")
    default = fields[key].default
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"--set {key} takes true or false, not {text!r}.")
        return text.lower() in ("true", "1", "yes")
    try:
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
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


def _tune(args) -> int:
    from promptlab.templates import dump_template, find_template

    template = find_template(args.template)
    spec = {"template": dump_template(template), "data": args.data, "model": args.model,
            "train_split": args.train_split, "eval_split": args.eval_split, "label_column": args.label_column,
            "config": config_from_args(args).to_dict()}
    run_id = jobs.start(spec, args.runs_dir)
    if not args.wait:
        info = jobs.get_run(run_id, args.runs_dir)
        print(json.dumps(_summary(info)) if args.json else run_id)
        return 0
    info = _follow(run_id, args.runs_dir, quiet=args.json)
    print(json.dumps(_summary(info)) if args.json else run_id)
    if info.status != "done":
        raise SystemExit(1)  # a script waiting on the run learns that it did not finish
    return 0


def _follow(run_id: str, runs_dir, quiet: bool) -> jobs.RunInfo:
    """Poll the run until it ends, echoing its log to stderr."""
    shown = 0
    while True:
        info = jobs.get_run(run_id, runs_dir)
        lines = jobs.read_log(run_id, runs_dir, tail=10**9).splitlines()
        if not quiet:
            for line in lines[shown:]:
                print(line, file=sys.stderr)
        shown = len(lines)
        if info.status not in jobs.ACTIVE:
            return info
        time.sleep(1.0)


def _summary(info: jobs.RunInfo) -> dict:
    """The JSON of `tune --json` and `runs list --json`."""
    seconds = (info.finished or time.time()) - info.started if info.started else 0.0
    return {"run_id": info.run_id, "status": info.status, "step": info.step, "total_steps": info.total_steps,
            "method": info.spec.get("config", {}).get("method"), "best": info.best, "baselines": info.baselines,
            "seconds": round(seconds, 1), "error": info.error, "created": info.created}


# ---- runs ----------------------------------------------------------------------------------------------------------


def _runs(args) -> int:
    cmd, runs_dir = args.runs_command, args.runs_dir
    if cmd == "list":
        runs = jobs.list_runs(runs_dir)
        if args.json:
            print(json.dumps([_summary(r) for r in runs]))
        else:
            print(_table(runs) if runs else f"No runs in {jobs.runs_root(runs_dir)}.")
    elif cmd == "show":
        info = jobs.get_run(args.run_id, runs_dir)
        metrics = jobs.read_metrics(args.run_id, runs_dir)
        if args.json:
            print(json.dumps({**dataclasses.asdict(info), "metrics": metrics}))
        else:
            print(_details(info, metrics, jobs.read_log(args.run_id, runs_dir, tail=10)))
    elif cmd == "cancel":
        print(jobs.cancel(args.run_id, runs_dir, wait=args.wait).status)
    elif cmd == "resume":
        print(jobs.resume(args.run_id, runs_dir).status)
    elif cmd == "export":
        print(jobs.export_bundle(args.run_id, args.out, runs_dir))
        if args.push:
            from promptlab.tuning.export import push_to_hub

            print(push_to_hub(jobs.run_path(args.run_id, runs_dir), args.push))
    elif cmd == "delete":
        jobs.delete(args.run_id, runs_dir)
        print(f"deleted {args.run_id}")
    return 0


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:5.1f}"


def _table(runs: list[jobs.RunInfo]) -> str:
    rows = [("RUN", "STATUS", "STEP", "METHOD", "BEST", "ZERO-SHOT", "TEMPLATE")]
    for r in runs:
        metric = r.baselines.get("metric", "acc")
        rows.append((r.run_id, r.status, f"{r.step}/{r.total_steps}", r.spec.get("config", {}).get("method", ""),
                     _pct(r.best.get(metric)), _pct(r.baselines.get(f"zero_shot_{metric}")),
                     (r.spec.get("template", "").split("\n", 1)[0].removeprefix("name:").strip())))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _details(info: jobs.RunInfo, metrics: list[dict], log: str) -> str:
    evals = [m for m in metrics if m.get("split") == "val"]
    out = [f"run {info.run_id}: {info.status}, step {info.step}/{info.total_steps}"]
    if info.error:
        out.append(f"error: {info.error}")
    out.append(f"best: {json.dumps(info.best)}")
    out.append(f"baselines: {json.dumps({k: v for k, v in info.baselines.items() if k != 'templates'})}")
    for m in evals:
        out.append("eval " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in m.items() if k != "split"))
    out.append("log:\n" + log)
    return "\n".join(out)


def _worker(args) -> int:
    from promptlab.tuning.worker import main

    code = main(args.run_dir, train_only=args.train_only)
    if code:
        raise SystemExit(code)  # `accelerate launch` and the supervisor read the exit code
    return 0
