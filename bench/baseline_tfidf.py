"""TF-IDF + logistic-regression baseline on the corpus splits, same protocol as the product.

Trained on the train split (v1 + v2), per-label thresholds tuned on the pooled dev split, reported on each test
split separately (v1, and v2: the realistic one) beside the fine-tuned model. Usage:
python bench/baseline_tfidf.py [--model DIR]
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
from training.data import article_text, corpus_indices, load_corpus, split_rows
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
    base_probs = clf.predict_proba(X["test"])

    from model.registry import resolve_model_path
    from model.runtime import Classifier
    from training.build import score_split

    model = Classifier.load(resolve_model_path(args.model), regions=False)
    model_probs = score_split(model, splits["test"])
    for corpus, idx in corpus_indices(splits["test"]).items():
        if not idx:
            continue
        base = multilabel_report(y["test"][idx], base_probs[idx] >= thresholds, tax.ids)
        ours = multilabel_report(y["test"][idx], model_probs[idx] >= model.thresholds, tax.ids)
        print(format_report(base, f"TF-IDF + logistic regression, test split of corpus {corpus} ({len(idx)} articles)"))
        print()
        served = f"{model.onnx_file} on {model.backend}"
        print(format_report(ours, f"{model.config.name} {model.config.version} ({served}), "
                                  f"test split of corpus {corpus}"))
        print(f"\ncorpus {corpus} test: micro-F1 model {ours['micro_f1']:.3f} vs baseline {base['micro_f1']:.3f} "
              f"({100 * (ours['micro_f1'] - base['micro_f1']):+.1f} points); macro-F1 model {ours['macro_f1']:.3f} "
              f"vs baseline {base['macro_f1']:.3f} ({100 * (ours['macro_f1'] - base['macro_f1']):+.1f} points)\n")


if __name__ == "__main__":
    main()
