"""`promptlab` command line: one module per command (score, templates, models, tune, runs, serve, worker).

    promptlab score --template sst2-review-sentiment --data demo-reviews --limit 50 --json

Each command module has `add_parser(subparsers)`; its parser sets `func`, which takes the parsed args and returns
an exit code (or None for 0). Commands import the engine lazily: `promptlab --help` and `templates list` should not
pay for torch.
"""

from __future__ import annotations

import argparse
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    from promptlab.cli import library, runs, score, serve, tune

    parser = argparse.ArgumentParser(prog="promptlab", description="Design, score, compare and tune prompts.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (score, library, tune, runs, serve):
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        return args.func(args) or 0
    except ValueError as err:  # engine errors are written for people: show them, no traceback
        from promptlab import messages, settings

        print(f"promptlab: error: {messages.say(err, settings.language())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"promptlab: interrupted after {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 130
