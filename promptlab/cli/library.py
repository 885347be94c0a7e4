"""`promptlab templates ...` and `promptlab models list`: the template library (shipped and yours) and the model
registry.

    promptlab templates list                        # shipped templates (read-only) and yours
    promptlab templates import templates.yaml       # a PromptSource file: all its templates into your library
    promptlab templates import my.yaml              # one PromptLab template file
    promptlab templates import t.yaml --labels label=neg,pos   # class names, in class order, for integer labels
    promptlab templates rename OLD NEW · promptlab templates delete NAME
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    templates = sub.add_parser("templates", help="the template library").add_subparsers(dest="action",
                                                                                       required=True)
    tlist = templates.add_parser("list", help="list shipped templates (read-only) and yours")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(func=templates_list)
    timport = templates.add_parser(
        "import", help="import a PromptLab template file or a PromptSource templates.yaml into your library",
        description="Import a template file into your library (where `--template NAME` finds it): a PromptLab "
                    "template YAML, or every template of a PromptSource templates.yaml.")
    timport.add_argument("file", help="a .yaml file")
    timport.add_argument("--labels", action="append", type=class_labels, default=[], metavar="COLUMN=NAMES",
                         help="PromptSource templates read integer labels: give a column's label names in class "
                              "order (the first is class 0), e.g. --labels label=negative,positive (or separated "
                              "by |||). Known for glue/sst2, ag_news, trec, super_glue/rte and emotion.")
    timport.add_argument("--overwrite", action="store_true", help="replace templates of yours with the same names")
    timport.set_defaults(func=templates_import)
    rename = templates.add_parser("rename", help="rename one of your templates")
    rename.add_argument("name")
    rename.add_argument("new_name")
    rename.set_defaults(func=templates_rename)
    delete = templates.add_parser("delete", help="delete one of your templates")
    delete.add_argument("name")
    delete.set_defaults(func=templates_delete)
    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", required=True)
    models.add_parser("list", help="list bundled models").set_defaults(func=models_list)


def class_labels(text: str) -> tuple[str, tuple[str, ...]]:
    """"label=negative,positive" -> ("label", ("negative", "positive")); "|||" separates names with commas."""
    column, equals, names = text.partition("=")
    parts = [name.strip() for name in names.split("|||" if "|||" in names else ",")]
    if not equals or not column.strip() or not all(parts):
        raise argparse.ArgumentTypeError(f"expected COLUMN=NAME,NAME,... (label names in class order), got {text!r}")
    return column.strip(), tuple(parts)


def templates_list(args) -> None:
    from promptlab.prompts import library

    view = library.read()
    for path, why in view.skipped:  # one broken file is reported, never stops the listing
        print(f"promptlab: skipped {path.name}: {why}", file=sys.stderr)
    entries = view.entries.values()
    if args.json:
        print(json.dumps([{"name": e.template.name, "task": e.template.task, "language": e.template.language,
                           "mode": e.template.mode, "shipped": e.shipped, "description": e.template.description}
                          for e in entries], ensure_ascii=False))
        return
    for e in entries:
        t = e.template
        print(f"{t.name:<32} {t.task:<16} {t.language:<3} {t.mode:<9} {'shipped' if e.shipped else 'yours':<8} "
              f"{t.description}")


def templates_import(args) -> None:
    from promptlab.prompts import library

    templates = library.read_import(args.file, dict(args.labels) or None)
    try:
        paths = library.save_all(templates, overwrite=args.overwrite)
    except library.Exists as exists:
        raise ValueError(f"{exists} Add --overwrite to replace them.") from None
    for template, path in zip(templates, paths):
        print(f"{template.name:<40} {path}")
    classes = sorted({f"{column}: {', '.join(names)}" for t in templates for column, names in t.class_labels})
    if classes:
        print("Label names read as class numbers, in this order: " + "; ".join(classes))
    print(f"{len(templates)} template(s) imported into {library.own_dir()}")


def templates_rename(args) -> None:
    from promptlab.prompts import library

    print(library.rename(args.name, args.new_name))


def templates_delete(args) -> None:
    from promptlab.prompts import library

    library.delete(args.name)
    print(f"deleted {args.name}")


def models_list(args) -> None:
    from promptlab.models.registry import DEFAULT_MODEL, list_models

    for m in list_models():
        state = "installed" if m.available else f"not installed: {m.install_hint}"
        default = " (default)" if m.id == DEFAULT_MODEL else ""
        print(f"{m.id:<24} {state}{default}\n    {m.description}")
    print("Any local model folder or Hugging Face hub id also works (--model PATH_OR_ID).")
