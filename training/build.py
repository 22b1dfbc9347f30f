"""Build one model version end to end: train -> export ONNX -> parity -> thresholds -> artifact (-> quantise).

Quantisation is opt-in (`quantize`): it runs `rawan quantize`'s code (training/quant_gate.py) on the new version.
"""

from __future__ import annotations

import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.artifact import ArtifactConfig, read_json, write_hf_config, write_json
from model.interop import write_interop_files
from model.taxonomy import Taxonomy
from training.args import TrainingArgs
from training.data import article_text, corpus_indices, data_hash, split_rows
from training.evaluate import multilabel_report, tune_thresholds

PARITY_TEXTS = [
    "Bawaslu Kota Bekasi menemukan dugaan politik uang berupa pembagian amplop jelang pencoblosan.",
    "Pemkab Bekasi meminta ASN menjaga netralitas selama tahapan kampanye Pilkada 2024.",
    "Harga cabai di pasar tradisional naik menjelang akhir tahun.",
]


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "datasets", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def new_version() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def parity_check(model, classifier, trainer, texts=PARITY_TEXTS) -> float:
    """Max |p_onnx - p_torch| over fixed texts' windows (fp32 both sides)."""
    from model.export import torch_probabilities
    from model.text import sigmoid

    windows = [w for t in texts for w in trainer.encode(t).windows]
    torch_p = torch_probabilities(model, windows, trainer.pad_id)
    onnx_p = sigmoid(np.stack([o[0] for o in classifier.infer(windows)]))
    return float(np.abs(torch_p - onnx_p).max())


def score_split(classifier, rows: list[dict]) -> np.ndarray:
    """Article probabilities [n, labels] for corpus rows through the ONNX runtime."""
    preds = classifier.predict([article_text(r) for r in rows], evidence=False, regions=False)
    return np.array([[p.scores[label] for label in classifier.labels] for p in preds], dtype=np.float32)


def evaluate_variant(directory: Path, onnx_file: str, splits: dict, taxonomy: Taxonomy, threads: int | None) -> dict:
    """Tune thresholds on dev, then report dev and test for one ONNX file; also time it.

    Besides the pooled splits, each corpus is reported on its own (`dev_v2`, `test_v1`, ...): v2 is the realistic
    yardstick that selects recipes (on dev_v2), and a mix of the two would hide how each moves.
    """
    from model.runtime import Classifier

    clf = Classifier.load(directory, variant=onnx_file, regions=False, threads=threads)
    y = {s: np.array([taxonomy.multi_hot(r["issues"]) for r in splits[s]]) for s in ("dev", "test")}
    t0 = time.time()
    probs = {s: score_split(clf, splits[s]) for s in ("dev", "test")}
    seconds = time.time() - t0
    thresholds = tune_thresholds(y["dev"], probs["dev"])
    reports = {}
    for s in ("dev", "test"):
        reports[s] = multilabel_report(y[s], probs[s] >= thresholds, taxonomy.ids)
        for corpus, idx in corpus_indices(splits[s]).items():
            if idx and len(idx) < len(splits[s]):
                reports[f"{s}_{corpus}"] = multilabel_report(y[s][idx], probs[s][idx] >= thresholds, taxonomy.ids)
    n = len(splits["dev"]) + len(splits["test"])
    return {"onnx_file": onnx_file, "thresholds": dict(zip(taxonomy.ids, map(float, thresholds))), **reports,
            "articles_per_s": round(n / max(seconds, 1e-9), 2)}


def summary_line(variant: dict) -> str:
    """Micro-F1 of every reported slice, realistic ones first."""
    order = ("dev_v2", "test_v2", "test_v1", "dev", "test")
    return ", ".join(f"{k} {variant[k]['micro_f1']:.3f}" for k in order if k in variant)


def build_model(args: TrainingArgs, rows: list[dict], models_dir: str | Path, *, taxonomy: Taxonomy | None = None,
                version: str | None = None, log=print) -> Path:
    """Train and write a complete model version under `models_dir/<name>/<version>/`; returns its directory.

    The version is written into a temporary sibling directory and renamed into place only when complete, so a
    crash never leaves a half-built version that looks valid.
    """
    import torch

    from model.export import export_onnx
    from model.runtime import Classifier
    from training.trainer import Trainer

    taxonomy = taxonomy or Taxonomy.load()
    splits = split_rows(rows)
    if not splits["train"] or not splits["dev"]:
        raise ValueError("the corpus needs train and dev rows")
    version = version or new_version()
    final = Path(models_dir) / args.name / version
    work = final.with_name(f".{version}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t_start = time.time()

    train_texts = [article_text(r) for r in splits["train"]]
    y_train = np.array([taxonomy.multi_hot(r["issues"]) for r in splits["train"]], dtype=np.float32)
    trainer = Trainer(args, len(taxonomy), tokenizer_texts=train_texts)
    log(f"training {args.name} on {len(train_texts)} articles (base {args.base_encoder})")
    history = trainer.fit(train_texts, y_train)

    trainer.hf_tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
    taxonomy.save(work / "taxonomy.json")
    model = trainer.model.eval().float()
    export_onnx(model, work / "model.onnx")
    torch.save(model.state_dict(), work / "torch_state.pt")
    model.encoder.config.to_json_file(str(work / "encoder_config.json"))
    config = ArtifactConfig(name=args.name, version=version, labels=taxonomy.ids,
                            thresholds={k: 0.5 for k in taxonomy.ids}, max_length=args.max_length, stride=args.stride,
                            pooling=args.pooling, pool_temperature=trainer.pool_temperature(), token_pooling=args.token_pooling, bos_id=trainer.bos_id, eos_id=trainer.eos_id, pad_id=trainer.pad_id,
                            taxonomy_version=taxonomy.version, base_encoder=args.base_encoder,
                            created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    config.save(work)
    parity = parity_check(model, Classifier.load(work, regions=False), trainer)
    log(f"ONNX fp32 parity with torch: max |dp| = {parity:.2e}")
    if parity > 1e-4:
        raise RuntimeError(f"ONNX export parity failed: max probability difference {parity:.2e} > 1e-4")

    threads = args.threads or None
    variants = {"fp32": evaluate_variant(work, "model.onnx", splits, taxonomy, threads)}
    config.onnx_file = variants["fp32"]["onnx_file"]
    config.thresholds = variants["fp32"]["thresholds"]
    config.variants = {"fp32": "model.onnx"}
    config.save(work)
    write_hf_config(work, taxonomy.ids, args.base_encoder, args.token_pooling, args.pooling)
    write_json(work / "metrics.json", {"served_variant": "fp32", "gate": {}, "variants": variants,
                                       "parity_max_abs_diff": parity})
    if args.quantize:
        # `rawan quantize` inside the build: variants gated against fp32 on a >= 1,000-article pool; it may switch
        # classifier.json to a faster variant that passes (training/quant_gate.py)
        from training.quant_gate import quantize_model

        quantize_model(work, rows, variants=args.extra.get("quantize_variants"),
                       pool_size=int(args.extra.get("quantize_pool_size", 1000)), threads=threads, log=log)
    write_json(work / "training.json", {
        "args": args.to_dict(), "data_hash": data_hash(rows),
        "splits": {k: len(v) for k, v in splits.items()},
        "split_ids_sha256": {k: data_hash(v) for k, v in splits.items()},
        "history": history, "libraries": library_versions(), "torch_threads": torch.get_num_threads(),
        "build_seconds": round(time.time() - t_start, 1), "version": version,
    })
    write_interop_files(work, trainer.hf_tokenizer.special_tokens_map)  # HF tokenizer files, onnx/, README.md
    work.rename(final)
    metrics = read_json(final / "metrics.json")
    served = metrics["served_variant"]
    log(f"wrote {final} (served: {served}, {ArtifactConfig.load(final).onnx_file}; "
        f"micro-F1 {summary_line(metrics['variants'][served])})")
    return final
