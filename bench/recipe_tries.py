"""Recipe tries, selected on the realistic dev split (corpus v2) only: train each recipe, score dev, print a table.

Each try trains on the train split with one set of TrainingArgs overrides, scores the dev split with the torch
model (no ONNX export: the exported graph matches torch to ~1e-7, checked at every build), tunes per-label
thresholds on the pooled dev split as the build does, and reports micro/macro-F1 and no-issue false positives on
dev v2 (the selection figure) and dev v1. The test splits are never read here. Frozen-layer outputs are computed
once per `freeze_layers` value and shared by the tries that use it, and every finished try is appended to the
results file at once, so an interrupted run keeps what it measured.

Usage: python bench/recipe_tries.py --try '{"epochs": 3}' --try '{"sampling": "balanced"}' [--out tries.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import REPO

from model.encoders import load_encoder
from model.hardware import describe
from model.taxonomy import Taxonomy
from training.args import TrainingArgs
from training.data import article_text, corpus_indices, data_hash, load_corpus, split_rows
from training.evaluate import multilabel_report, tune_thresholds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--try", dest="tries", action="append", required=True, metavar="JSON",
                    help="TrainingArgs overrides of one try (on top of --base); repeatable")
    ap.add_argument("--base", default="{}", help="overrides shared by every try (JSON)")
    ap.add_argument("--out", default=str(REPO / "output" / "recipe_tries.jsonl"))
    args = ap.parse_args()
    from training.trainer import Trainer

    tax = Taxonomy.load()
    rows = load_corpus()
    splits = split_rows(rows)
    base = json.loads(args.base)
    tries = [TrainingArgs.from_dict({**base, **json.loads(t)}) for t in args.tries]
    train_texts = [article_text(r) for r in splits["train"]]
    y_train = np.array([tax.multi_hot(r["issues"]) for r in splits["train"]], dtype=np.float32)
    y_dev = np.array([tax.multi_hot(r["issues"]) for r in splits["dev"]])
    groups = corpus_indices(splits["dev"])
    print(f"hardware: {describe()}")
    print(f"data {data_hash(rows)[:12]}: train {len(train_texts)}, dev {len(y_dev)} "
          f"(v1 {len(groups['v1'])}, v2 {len(groups['v2'])}); {len(tries)} tries")
    preloaded = load_encoder(tries[0].base_encoder, tokenizer_texts=train_texts, seed=tries[0].seed)
    caches: dict[tuple, tuple] = {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for n, targs in enumerate(tries, 1):
        t0 = time.time()
        trainer = Trainer(targs, len(tax), preloaded=preloaded)
        key = (targs.freeze_layers, targs.max_length, targs.stride)
        if trainer.uses_cache and key not in caches:
            enc_train = [trainer.encode(t) for t in train_texts]
            enc_dev = [trainer.encode(article_text(r)) for r in splits["dev"]]
            caches[key] = (enc_train, trainer.cache_frozen(enc_train), enc_dev, trainer.cache_frozen(enc_dev))
        if trainer.uses_cache:
            _, cache_train, enc_dev, cache_dev = caches[key]
        else:
            cache_train, enc_dev, cache_dev = None, [trainer.encode(article_text(r)) for r in splits["dev"]], None
        history = trainer.fit(train_texts, y_train, cache=cache_train)
        probs = trainer.article_probabilities(enc_dev, cache_dev)
        thresholds = tune_thresholds(y_dev, probs)
        result = {"try": n, "overrides": {**base, **json.loads(args.tries[n - 1])}, "seconds": round(time.time() - t0),
                  "windows_per_s": history["windows_per_s"], "pool_temperature": history.get("pool_temperature")}
        for name, idx in (("dev", list(range(len(y_dev)))), ("dev_v1", groups["v1"]), ("dev_v2", groups["v2"])):
            if idx:
                rep = multilabel_report(y_dev[idx], probs[idx] >= thresholds, tax.ids)
                at_half = multilabel_report(y_dev[idx], probs[idx] >= 0.5, tax.ids)
                result[name] = {"micro_f1": round(rep["micro_f1"], 4), "macro_f1": round(rep["macro_f1"], 4),
                                "micro_f1_at_0.5": round(at_half["micro_f1"], 4), "no_issue": rep["no_issue"],
                                "per_label_f1": {k: round(v["f1"], 3) for k, v in rep["per_label"].items()}}
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(result, ensure_ascii=False) + "\n")
        v2, v1 = result.get("dev_v2", {}), result.get("dev_v1", {})
        print(f"try {n} {json.dumps(result['overrides'])}: dev_v2 micro {v2.get('micro_f1')} macro "
              f"{v2.get('macro_f1')} no-issue flagged {v2.get('no_issue')} | dev_v1 micro {v1.get('micro_f1')} | "
              f"{result['seconds']} s, {result['windows_per_s']} windows/s", flush=True)


if __name__ == "__main__":
    main()
