"""`rawan eval`: per-label precision/recall/F1, no-issue false positives and region top-1 of a model on labelled
articles: the repo corpus (v1 and v2 reported separately) or any labelled JSONL of the user's own news."""

from __future__ import annotations

from rawan.commands.common import add_model_option, model_path


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="per-label precision/recall/F1 on labelled articles")
    p.add_argument("--file", dest="files", action="append", default=[], metavar="X.jsonl",
                   help="labelled JSONL (text, issues; optional id, title, regions, split); repeatable. "
                        "Default: the repo corpus")
    p.add_argument("--split", default=None,
                   help="train, dev, test or all (default: test for the repo corpus, all for --file)")
    p.add_argument("--no-regions", action="store_true", help="skip the region top-1 figures")
    add_model_option(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    import numpy as np

    from model.runtime import Classifier
    from training.data import article_text, corpus_indices, load_corpus, read_labelled
    from training.evaluate import format_report, multilabel_report

    files = args.files
    clf = Classifier.load(model_path(args), regions=not args.no_regions)
    rows = read_labelled(files, clf.taxonomy) if files else load_corpus()
    split = args.split or ("all" if files else "test")
    if split != "all":
        rows = [r for r in rows if r.get("split") == split]
    if not rows:
        raise ValueError(f"no rows in split {split!r}" + (" (use --split all for files without a split)" if files else ""))
    preds = clf.predict([article_text(r) for r in rows], evidence=False, regions=not args.no_regions)
    probs = np.array([[p.scores[label] for label in clf.labels] for p in preds], dtype=np.float32)
    y = np.array([clf.taxonomy.multi_hot(r["issues"]) for r in rows])
    where = ", ".join(files) if files else "repo corpus"
    groups = {"all": list(range(len(rows)))}
    if not files:  # the two corpora are different yardsticks: never only their mix
        groups.update(corpus_indices(rows))
    for name, idx in groups.items():
        if not idx:
            continue
        report = multilabel_report(y[idx], probs[idx] >= clf.thresholds, clf.labels)
        label = where if name == "all" else f"corpus {name}"
        served = f"{clf.onnx_file} on {clf.backend}"
        print(format_report(report, f"{clf.config.name} {clf.config.version} ({served}) on {label}, "
                                    f"{split} split, {len(idx)} articles"))
        if not args.no_regions:
            print(region_line([preds[i] for i in idx], [rows[i] for i in idx]))
        print()
    return 0


def region_line(preds, rows) -> str:
    """Top-1 region accuracy over articles with a gold region, and how often a national article got none."""
    with_gold = [(p, r) for p, r in zip(preds, rows) if r.get("regions")]
    national = [p for p, r in zip(preds, rows) if not r.get("regions")]
    top1 = sum(bool(p.regions) and p.regions[0]["code"] == r["regions"][0]["code"] for p, r in with_gold)
    empty = sum(not p.regions for p in national)
    return (f"{'regions top-1':<26}{top1:>14d} of {len(with_gold)} ({top1 / max(1, len(with_gold)):.1%}); "
            f"national (no gold region) left empty: {empty} of {len(national)}")
