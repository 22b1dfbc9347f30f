"""`rawan annotations import|export|count|ls-config`: move analysts' labels between files and the store.

import: Rawan JSONL, Label Studio JSON/JSONL exports, doccano JSONL. Any rejected record (file:line: reason on
stderr) means nothing is written unless --partial. Exit status: 0 written (or all valid in --dry-run), 1 rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rawan.commands.common import add_model_option

DEFAULT_DB = os.environ.get("RAWAN_ANNOTATIONS_DB", "data/annotations.db")


def add_parser(sub) -> None:
    p = sub.add_parser("annotations", help="import / export annotations (Rawan JSONL, Label Studio, doccano)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    i = actions.add_parser("import", help="validate a file and add its annotations to the store",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--format", default="auto", choices=["auto", "rawan", "label-studio", "doccano"])
    i.add_argument("--ls-config", default=None,
                   help='JSON mapping of a Label Studio project: {"text_field", "title_field", "from_names"}')
    i.add_argument("--partial", action="store_true", help="write the valid records even if others are rejected")
    i.add_argument("--dry-run", action="store_true", help="validate and report only")
    i.add_argument("--annotator", default=os.environ.get("USER") or "import")
    i.add_argument("--db", default=DEFAULT_DB)
    i.set_defaults(handler=run_import)

    e = actions.add_parser("export", help="write the store (Rawan JSONL) or Label Studio tasks with predictions",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--format", default="rawan", choices=["rawan", "label-studio"])
    e.add_argument("--output", "-o", default="-", help="file, or - for stdout")
    e.add_argument("--input", default=None,
                   help="JSONL of new texts (text, title?, id?) to pre-label instead of the store's annotations")
    e.add_argument("--values", default="names", choices=["names", "ids"],
                   help="Label Studio choice values: display names or issue ids / region codes")
    e.add_argument("--lang", default="id", choices=["id", "en"])
    e.add_argument("--db", default=DEFAULT_DB)
    add_model_option(e)
    e.set_defaults(handler=run_export)

    c = actions.add_parser("count", help="active annotations in the store")
    c.add_argument("--db", default=DEFAULT_DB)
    c.set_defaults(handler=lambda a: print(_store(a.db).count()) or 0)

    x = actions.add_parser("ls-config", help="print a Label Studio labelling config matching export/import")
    x.add_argument("--values", default="names", choices=["names", "ids"])
    x.add_argument("--lang", default="id", choices=["id", "en"])
    x.set_defaults(handler=run_ls_config)


def _store(path: str):
    from model.annotations import AnnotationStore

    return AnnotationStore(path)


def run_import(args) -> int:
    from training.imports import LabelStudioConfig, import_file

    store = _store(args.db)
    ls_config = LabelStudioConfig.load(args.ls_config)
    status = 0
    for path in args.files:
        result = import_file(path, store, fmt=args.format, partial=args.partial, annotator=args.annotator,
                             dry_run=args.dry_run, ls_config=ls_config)
        for problem in result.problems:
            print(f"rejected {problem}", file=sys.stderr)
        for note in result.skipped:
            print(f"skipped {note}", file=sys.stderr)
        print(result.summary())
        if result.problems and not args.partial:
            print(f"{path}: nothing written (fix the lines above, or pass --partial to import the valid rest)",
                  file=sys.stderr)
            status = 1
    print(f"store {args.db}: {store.count()} active annotations")
    return status


def run_export(args) -> int:
    from training.data import read_jsonl
    from training.imports import export_rawan, label_studio_tasks

    if args.input:
        items = [{"id": r.get("id"), "text": r["text"], "title": r.get("title")} for r in read_jsonl(args.input)]
    else:
        items = _store(args.db).current()
    if args.format == "rawan" and not args.input:
        lines = list(export_rawan(items))
    else:
        from model.runtime import Classifier
        from rawan.commands.common import model_path

        clf = Classifier.load(model_path(args))
        if args.format == "rawan":   # new texts with the model's labels, ready to correct and import back
            preds = clf.predict([i["text"] for i in items], titles=[i["title"] for i in items], evidence=False)
            lines = [json.dumps({"id": i["id"], "text": i["text"], "title": i["title"], "issues": p.labels,
                                 "regions": [r["code"] for r in p.regions], "source": "model",
                                 "model": p.model}, ensure_ascii=False) for i, p in zip(items, preds)]
        else:
            tasks = label_studio_tasks(items, clf, values=args.values, lang=args.lang)
            lines = [json.dumps(tasks, ensure_ascii=False, indent=1)]
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        for line in lines:
            out.write(line + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output != "-":
        print(f"wrote {len(items)} {'tasks' if args.format == 'label-studio' else 'rows'} to {args.output}",
              file=sys.stderr)
    return 0


def run_ls_config(args) -> int:
    from model.label_studio import default_resolver, label_studio_config  # no training package: works in the image

    print(label_studio_config(default_resolver(), values=args.values, lang=args.lang), end="")
    return 0
