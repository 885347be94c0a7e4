"""`promptlab runs list | show | cancel | resume | export | delete`: the run store from the shell."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from promptlab.runs import store
from promptlab.runs.export import export_bundle, push_to_hub
from promptlab.runs.layout import existing_run, run_path, runs_root
from promptlab.runs.queue import DAMAGED


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list, show, cancel, resume, export or delete tuning runs")
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
    p.set_defaults(func=run)


def summary(info: store.RunInfo) -> dict:
    """The JSON of `tune --json` and `runs list --json`."""
    seconds = (info.finished or time.time()) - info.started if info.started else 0.0
    return {"run_id": info.run_id, "status": info.status, "step": info.step, "total_steps": info.total_steps,
            "method": info.method, "template": info.template, "task": info.task,
            "model": info.model, "best": info.best, "baselines": info.baselines,
            "seconds": round(seconds, 1), "error": info.error, "created": info.created}


def run(args) -> int:
    try:
        return _run(args)
    except OSError as err:  # the store turns what it can into ValueErrors; the rest is said plainly too
        raise ValueError(f"{err.strerror or type(err).__name__}: {err.filename or runs_root(args.runs_dir)}") \
            from None


def _run(args) -> int:
    cmd, runs_dir = args.runs_command, args.runs_dir
    if cmd == "list":
        runs = store.list_runs(runs_dir)
        if args.json:
            print(json.dumps([summary(r) for r in runs]))
        else:
            print(_table(runs) if runs else f"No runs in {runs_root(runs_dir)}.")
    elif cmd == "show":
        info = store.get_run(args.run_id, runs_dir)
        readable = info.status != DAMAGED or not os.path.islink(run_path(args.run_id, runs_dir))
        metrics = store.read_metrics(args.run_id, runs_dir) if readable else []
        if args.json:
            print(json.dumps({**dataclasses.asdict(info), "metrics": metrics}))
        else:
            print(_details(info, metrics, store.read_log(args.run_id, runs_dir, tail=10) if readable else ""))
    elif cmd == "cancel":
        print(store.cancel(args.run_id, runs_dir, wait=args.wait).status)
    elif cmd == "resume":
        print(store.resume(args.run_id, runs_dir).status)
    elif cmd == "export":
        print(export_bundle(args.run_id, args.out, runs_dir))
        if args.push:
            print(push_to_hub(existing_run(args.run_id, runs_dir), args.push))
    elif cmd == "delete":
        store.delete(args.run_id, runs_dir)
        print(f"deleted {args.run_id}")
    return 0


def _pct(value) -> str:
    return f"{100 * value:5.1f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _table(runs: list[store.RunInfo]) -> str:
    rows = [("RUN", "STATUS", "STEP", "METHOD", "BEST", "ZERO-SHOT", "TEMPLATE")]
    for r in runs:
        metric = r.baselines.get("metric", "acc")
        rows.append((r.run_id, r.status, f"{r.step}/{r.total_steps}", r.method,
                     _pct(r.best.get(metric)), _pct(r.baselines.get(f"zero_shot_{metric}")),
                     r.template))
    table = _columns(rows)
    notes = "\n".join(r.error or "" for r in runs if r.status == DAMAGED)  # what is wrong, and how to remove it
    return f"{table}\n\n{notes}" if notes else table


def _columns(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _details(info: store.RunInfo, metrics: list[dict], log: str) -> str:
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
