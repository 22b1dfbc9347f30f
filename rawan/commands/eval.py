"""`rawan eval`: the per-label table of a model on a labelled JSONL file (optionally one split of it)."""

from __future__ import annotations

from rawan.commands.common import add_model_option, model_path


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="per-label precision/recall/F1 on a labelled JSONL file")
    p.add_argument("files", nargs="*", help="labelled JSONL files (default: the repo corpus)")
    p.add_argument("--split", default="test", help="train, dev, test or all (default: %(default)s)")
    add_model_option(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    import numpy as np

    from model.runtime import Classifier
    from training.build import score_split
    from training.data import load_corpus, read_jsonl
    from training.evaluate import format_report, multilabel_report

    rows = [r for f in args.files for r in read_jsonl(f)] if args.files else load_corpus()
    if args.split != "all":
        rows = [r for r in rows if r.get("split") == args.split]
    if not rows:
        raise ValueError(f"no rows in split {args.split!r}")
    clf = Classifier.load(model_path(args), regions=False)
    probs = score_split(clf, rows)
    y = np.array([clf.taxonomy.multi_hot(r["issues"]) for r in rows])
    report = multilabel_report(y, probs >= clf.thresholds, clf.labels)
    print(format_report(report, f"{clf.config.name} {clf.config.version} ({clf.config.onnx_file}) on "
                                f"{args.split} split, {len(rows)} articles"))
    return 0
