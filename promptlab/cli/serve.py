"""`promptlab serve`: start the web app."""

from __future__ import annotations

import os

from promptlab.cli.args import positive


def add_parser(sub) -> None:
    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=positive, default=7860)
    serve.add_argument("--model", default=None)
    serve.add_argument("--share", action="store_true",
                       help="create a public gradio link (the app is then public: see docs/security.md)")
    serve.add_argument("--no-training", action="store_true", help="disable soft-prompt tuning (public Spaces)")
    serve.set_defaults(func=run)


def run(args) -> None:
    from promptlab.ui.app import launch

    if args.share:  # a link anyone can open: strangers get a public app's bounds unless the operator says otherwise
        os.environ.setdefault("PROMPTLAB_PUBLIC", "1")
    launch(host=args.host, port=args.port, share=args.share, model_id=args.model,
           allow_training=False if args.no_training else None)
