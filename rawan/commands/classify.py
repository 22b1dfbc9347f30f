"""`rawan classify`: one article from a file or stdin -> JSON on stdout."""

from __future__ import annotations

import json
import sys

from rawan.commands.common import add_model_option, model_path


def add_parser(sub) -> None:
    p = sub.add_parser("classify", help="classify one article (file or stdin) and print JSON")
    p.add_argument("file", nargs="?", default="-", help="text file, or - for stdin")
    p.add_argument("--title", default=None)
    p.add_argument("--id", default=None)
    p.add_argument("--threshold", type=float, default=None, help="one threshold for all labels (default: per label)")
    p.add_argument("--no-evidence", action="store_true")
    p.add_argument("--lang", choices=["id", "en"], default="id", help="language of label display names")
    add_model_option(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from model.runtime import Classifier

    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    if not text.strip():
        raise ValueError("the article text is empty")
    clf = Classifier.load(model_path(args))
    pred = clf.predict([text], titles=[args.title], ids=[args.id], threshold=args.threshold,
                       evidence=not args.no_evidence, lang=args.lang)[0]
    json.dump(pred.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
