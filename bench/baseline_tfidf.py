"""TF-IDF + logistic-regression baseline on the corpus splits, same protocol as the product.

Trained on the train split, per-label thresholds tuned on dev, reported on test. Compare with
`rawan eval --split test` of the fine-tuned model. Usage: python bench/baseline_tfidf.py [--model DIR]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import REPO  # noqa: F401  (puts the repo on sys.path)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline, make_union

from model.taxonomy import Taxonomy
from training.data import article_text, load_corpus, split_rows
from training.evaluate import format_report, multilabel_report, tune_thresholds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="also evaluate this model version (default: the champion)")
    args = ap.parse_args()
    tax = Taxonomy.load()
    splits = split_rows(load_corpus())
    X = {s: [article_text(r) for r in rows] for s, rows in splits.items()}
    y = {s: np.array([tax.multi_hot(r["issues"]) for r in rows]) for s, rows in splits.items()}
    features = make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                          TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2))
    clf = make_pipeline(features, OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")))
    clf.fit(X["train"], y["train"])
    thresholds = tune_thresholds(y["dev"], clf.predict_proba(X["dev"]))
    base = multilabel_report(y["test"], clf.predict_proba(X["test"]) >= thresholds, tax.ids)
    print(format_report(base, f"TF-IDF + logistic regression, test split ({len(X['test'])} articles)"))

    from model.registry import resolve_model_path
    from model.runtime import Classifier
    from training.build import score_split

    model = Classifier.load(resolve_model_path(args.model), regions=False)
    ours = multilabel_report(y["test"], score_split(model, splits["test"]) >= model.thresholds, tax.ids)
    print()
    print(format_report(ours, f"{model.config.name} {model.config.version} ({model.config.onnx_file}), test split"))
    print(f"\nmicro-F1: model {ours['micro_f1']:.3f} vs baseline {base['micro_f1']:.3f} "
          f"-> {100 * (ours['micro_f1'] - base['micro_f1']):+.1f} points")
    print(f"macro-F1: model {ours['macro_f1']:.3f} vs baseline {base['macro_f1']:.3f} "
          f"-> {100 * (ours['macro_f1'] - base['macro_f1']):+.1f} points")


if __name__ == "__main__":
    main()
