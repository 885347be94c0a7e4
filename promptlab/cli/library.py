"""`promptlab templates list` and `promptlab models list`: what the library and the model registry hold."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    templates = sub.add_parser("templates", help="the template library").add_subparsers(dest="action",
                                                                                       required=True)
    tlist = templates.add_parser("list", help="list shipped templates")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(func=templates_list)
    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", required=True)
    models.add_parser("list", help="list bundled models").set_defaults(func=models_list)


def templates_list(args) -> None:
    from promptlab.prompts.files import read_library

    library = read_library()
    for path, why in library.skipped:  # one broken file is reported, never stops the listing
        print(f"promptlab: skipped {path.name}: {why}", file=sys.stderr)
    templates = library.templates
    if args.json:
        print(json.dumps([{"name": t.name, "task": t.task, "language": t.language, "mode": t.mode,
                           "description": t.description} for t in templates], ensure_ascii=False))
        return
    for t in templates:
        print(f"{t.name:<32} {t.task:<16} {t.language:<3} {t.mode:<9} {t.description}")


def models_list(args) -> None:
    from promptlab.models.registry import DEFAULT_MODEL, list_models

    for m in list_models():
        state = "installed" if m.available else f"not installed: {m.install_hint}"
        default = " (default)" if m.id == DEFAULT_MODEL else ""
        print(f"{m.id:<24} {state}{default}\n    {m.description}")
    print("Any local model folder or Hugging Face hub id also works (--model PATH_OR_ID).")
