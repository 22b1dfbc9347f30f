"""The quantisation gate: serve a faster variant only if it makes the same decisions as fp32, on this machine.

What quantisation changes is the score of the same article, not the model's relation to the labels, so the gate
compares the candidate with fp32 article by article (both with the thresholds that are served):

- **decision agreement** on a large unlabelled pool: every corpus article (train, dev and test, and the seeds) plus
  synthetic concatenations of 2-5 corpus articles (long, multi-window texts), at least `pool_size` (1,000) in all;
  agreement = share of (article, label) pairs on which both decide the same; also max and mean |Δprob|;
- **micro-F1 on every labelled held-out row pooled** (dev + test), fp32 vs candidate, with a paired bootstrap over
  articles (1,000 resamples, fixed seed) of the difference;
- **batch invariance**: windows scored one at a time must equal the same windows scored in one padded batch (no
  per-batch scales: the server micro-batches, and batch jobs promise one-at-a-time results).

A variant passes when agreement >= 99.5 %, the micro-F1 drop <= 0.5 point with the interval's upper bound <= 1
point, and the batch difference <= 1e-5. It is served only if it also passes and is at least 5 % faster than ORT
fp32 here (interleaved timing on the same windows). With 12-19 positives per label on the test split one article
moves a label's F1 by 3-4 points, so per-label F1 is reported, never gated. The retrain gate (`training/gate.py`)
keeps its own rules: it compares model versions as served, whichever variant that is.

Cost, for a pool of A articles with W windows. With corpus v1 + v2 the default pool is 1,830 articles (1,630
corpus rows + 200 synthetic) and W = 7,266 windows of e5-small's 256 tokens (counted with its tokenizer: 5,177 for
the corpus rows, 3.2 per article, and 2,089 for the concatenations, 10.4 each); `quantize_model` logs W before it starts and records it:

    seconds ~= W / r_fp32 + sum over variants v of W / r_v            (the pool, once per graph)
             + k * C / r_fp32 per ORT int8 file (C = 128 calibration windows; k ~ 2: one pass with every MatMul
               tensor as an output, plus histograms)
             + (V + 1) * rounds * S / r                                (timing: S >= 32 windows, 3 rounds)
             + V * 2 * 24 / r_v                                        (batch check: 24 windows alone + batched)

where r is a graph's windows/s on this machine and V the number of variants that run here. Per 1,000 articles:
about 3,750 windows per graph, so roughly (V + 1) * 3,750 / r seconds. Measure r on the real model
(`python bench/model_throughput.py` prints articles/s of ~600-word articles for every variant); the tiny test
model's figures say nothing about it.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from model.artifact import ArtifactConfig, read_json, write_json
from model.hardware import describe
from model.locks import exclusive_lock
from model.quantize import VARIANTS, build_variant, requirements, resolve_variants, unavailable
from model.runtime import DEFAULT_TOKEN_BUDGET, Classifier
from model.text import pool_windows, sigmoid

Log = Callable[[str], None]
WORK_DIR = ".quantize-work"
LOCK_FILE = ".quantize.lock"  # two runs on one version would interleave files and records


class QuantizeBusy(BlockingIOError):
    """Another `rawan quantize` holds the version's lock (a lock taken without waiting would block)."""


@dataclass(frozen=True)
class QuantGateRules:
    """The gate's limits (points of micro-F1 are 0-100) and how it measures."""

    min_agreement: float = 0.995
    max_micro_f1_drop: float = 0.5
    max_drop_upper: float = 1.0
    max_batch_diff: float = 1e-5
    min_speedup: float = 1.05
    bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# -- the pool ----------------------------------------------------------------------------------------------------
def build_pool(rows: Sequence[dict], size: int = 1000, *, seed: int = 0,
               min_synthetic: int | None = None) -> list[dict]:
    """Every row (labelled dev/test rows keep their split and issues) plus synthetic concatenations: `size` in all,
    or more when the rows and the minimum number of concatenations together exceed it.

    A concatenation joins 2-5 distinct rows' texts (title-joined, blank line between): long, multi-window
    articles that exercise pooling over many windows. There are at least `min_synthetic` of them (default: a
    fifth of `size`) even when the rows alone reach `size`. Deterministic for a given `seed`.
    """
    from training.data import article_text

    pool = [{"id": str(r.get("id", i)), "text": article_text(r), "split": r.get("split", "train"),
             "issues": list(r.get("issues", [])), "source": r.get("source", ""), "synthetic": False}
            for i, r in enumerate(rows)]
    if not pool:
        raise ValueError("the quantisation gate needs corpus rows for its pool")
    min_synthetic = size // 5 if min_synthetic is None else min_synthetic
    rng = random.Random(seed)
    texts = [p["text"] for p in pool]
    for n in range(max(size - len(pool), min_synthetic)):
        k = min(len(texts), rng.randint(2, 5))
        pool.append({"id": f"synthetic-{n:04d}", "text": "\n\n".join(rng.sample(texts, k)), "split": "synthetic",
                     "issues": [], "source": "synthetic", "synthetic": True})
    return pool


def article_probs(clf, articles: Sequence, token_budget: int = DEFAULT_TOKEN_BUDGET, desc: str | None = None,
                  chunk: int = 128) -> np.ndarray:
    """Article probabilities [n, labels] of encoded articles, pooled exactly as `Classifier.finish` pools them.

    Scored `chunk` articles at a time so that a pass over the pool (minutes) shows progress when `desc` is given;
    the variants served are batch-invariant, so chunking does not change a score.
    """
    from tqdm.auto import tqdm

    outputs = []
    with tqdm(total=len(articles), desc=desc, unit="article", disable=desc is None, leave=False) as bar:
        for start in range(0, len(articles), chunk):
            part = articles[start : start + chunk]
            outputs.extend(clf.infer_articles(part, token_budget))
            bar.update(len(part))
    how, temp = clf.config.pooling, clf.config.pool_temperature or None
    return np.stack([sigmoid(pool_windows(np.stack([o[0] for o in out]), how, temp)) for out in outputs]).astype(
        np.float64)


def batch_difference(clf, windows: Sequence[np.ndarray]) -> float:
    """Max |Δprob| between each window scored alone and the same windows scored in one padded batch."""
    alone = np.stack([clf.infer([w])[0][0] for w in windows])
    together = np.stack([o[0] for o in clf.infer(list(windows))])
    return float(np.abs(sigmoid(alone) - sigmoid(together)).max())


# -- statistics --------------------------------------------------------------------------------------------------
def _counts(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per article [tp, fp, fn] summed over labels."""
    y, pred = y.astype(bool), pred.astype(bool)
    return np.stack([(y & pred).sum(1), (~y & pred).sum(1), (y & ~pred).sum(1)], axis=1).astype(np.int64)


def _micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro-F1 from summed [tp, fp, fn] along the last axis (0 where there is nothing to find or flag)."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def micro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(_micro_f1(_counts(y, pred).sum(0)))


def paired_bootstrap(y: np.ndarray, pred_ref: np.ndarray, pred_cand: np.ndarray, *, resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Drop in micro-F1 points (reference - candidate) and its percentile interval, resampling articles.

    Both models are scored on the same resampled articles each time (paired), so the interval reflects only how
    the two disagree, not how hard the sample is.
    """
    ref, cand = _counts(y, pred_ref), _counts(y, pred_cand)
    point = 100 * float(_micro_f1(ref.sum(0)) - _micro_f1(cand.sum(0)))
    n = len(y)
    if n == 0:
        return {"drop": 0.0, "low": 0.0, "high": 0.0, "resamples": 0}
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    drops = 100 * (_micro_f1(ref[idx].sum(1)) - _micro_f1(cand[idx].sum(1)))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(drops, [tail, 100 - tail])
    return {"drop": round(point, 4), "low": round(float(low), 4), "high": round(float(high), 4),
            "resamples": int(resamples), "confidence": confidence}


def gate_variant(ref_probs: np.ndarray, cand_probs: np.ndarray, thresholds: np.ndarray, labelled: np.ndarray,
                 y: np.ndarray, batch_diff: float | None, rules: QuantGateRules = QuantGateRules()) -> dict[str, Any]:
    """Apply the gate to pool probabilities of fp32 (`ref_probs`) and a candidate, [pool, labels] each.

    `labelled` indexes the pool rows that are labelled held-out articles, `y` their multi-hot labels (same order).
    """
    ref_dec, cand_dec = ref_probs >= thresholds, cand_probs >= thresholds
    disagree = int((ref_dec != cand_dec).sum())
    pairs = int(ref_dec.size)
    agreement = 1 - disagree / max(pairs, 1)
    diff = np.abs(cand_probs - ref_probs)
    boot = paired_bootstrap(y, ref_dec[labelled], cand_dec[labelled], resamples=rules.bootstrap,
                            confidence=rules.confidence, seed=rules.seed)
    checks = {
        "agreement": agreement >= rules.min_agreement,
        "micro_f1_drop": boot["drop"] <= rules.max_micro_f1_drop + 1e-9,
        "drop_upper_bound": boot["high"] <= rules.max_drop_upper + 1e-9,
        "batch_invariant": batch_diff is not None and batch_diff <= rules.max_batch_diff,
    }
    passed = all(checks.values())
    detail = (f"agreement {100 * agreement:.2f} % ({disagree} of {pairs} decisions differ; min "
              f"{100 * rules.min_agreement:.1f} %), pooled micro-F1 drop {boot['drop']:+.2f} pt "
              f"[{boot['low']:+.2f}, {boot['high']:+.2f}] (max {rules.max_micro_f1_drop}, upper <= "
              f"{rules.max_drop_upper}), max |dp| {diff.max():.4f}, batched vs alone {batch_diff:.1e} "
              f"(max {rules.max_batch_diff:.0e})" if batch_diff is not None else "no batch check")
    return {
        "passed": bool(passed), "detail": detail, "checks": checks,
        "agreement": round(float(agreement), 6), "disagreements": disagree, "pairs": pairs,
        "max_abs_dprob": round(float(diff.max()), 6), "mean_abs_dprob": round(float(diff.mean()), 7),
        "labelled": int(len(labelled)),
        "micro_f1_reference": round(micro_f1(y, ref_dec[labelled]), 6),
        "micro_f1": round(micro_f1(y, cand_dec[labelled]), 6),
        "micro_f1_drop_pt": boot["drop"], "drop_interval_pt": [boot["low"], boot["high"]],
        "batch_max_abs_dprob": batch_diff,
    }


def interleaved_speed(runs: dict[str, Callable[[], Any]], rounds: int = 3) -> dict[str, float]:
    """Median seconds of each callable, timed in interleaved rounds after one warm-up each (shared machines)."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# -- the command's work ------------------------------------------------------------------------------------------
def _reports(probs: np.ndarray, pool: list[dict], thresholds: np.ndarray, labels: list[str]) -> dict[str, dict]:
    """dev / test multilabel reports (and their v1 / v2 slices) of pool probabilities, like evaluate_variant's."""
    from training.data import corpus_of
    from training.evaluate import multilabel_report

    out = {}
    for split in ("dev", "test"):
        idx = [i for i, p in enumerate(pool) if p["split"] == split]
        if not idx:
            continue
        y = np.array([[label in pool[i]["issues"] for label in labels] for i in idx], dtype=int)
        pred = probs[idx] >= thresholds
        out[split] = multilabel_report(y, pred, labels)
        for corpus in ("v1", "v2"):
            sub = [k for k, i in enumerate(idx) if corpus_of(pool[i]) == corpus]
            if sub and len(sub) < len(idx):
                out[f"{split}_{corpus}"] = multilabel_report(y[sub], pred[sub], labels)
    return out


def _reference_thresholds(directory: Path, config: ArtifactConfig) -> dict[str, float]:
    """The fp32 graph's dev-tuned thresholds (what every variant is served with)."""
    fp32 = read_json(directory / "metrics.json").get("variants", {}).get("fp32", {})
    return dict(fp32.get("thresholds") or config.thresholds)


def calibration_sample(encoded: Sequence, pool: list[dict], n: int, seed: int) -> list[np.ndarray]:
    """A fixed random sample of windows of training-split articles (all corpus articles if there are none)."""
    train = [i for i, p in enumerate(pool) if p["split"] == "train"] or [i for i, p in enumerate(pool)
                                                                        if not p["synthetic"]]
    windows = [w for i in train for w in encoded[i].windows]
    pick = np.random.default_rng(seed).choice(len(windows), size=min(n, len(windows)), replace=False)
    return [windows[i] for i in sorted(pick)]


def _one_run_per_version(quantize: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Hold the version's lock around `quantize(directory, ...)`: two runs on one version would interleave files
    and records, so a second one stops at once with QuantizeBusy."""
    @functools.wraps(quantize)
    def locked(directory: str | Path, *args, **kwargs) -> dict[str, Any]:
        def busy(path: Path) -> QuantizeBusy:
            return QuantizeBusy(f"another `rawan quantize` is working on {directory} (it holds {path}); "
                                "wait for it to finish")

        with exclusive_lock(Path(directory) / LOCK_FILE, wait=False, busy=busy):
            return quantize(directory, *args, **kwargs)

    return locked


@_one_run_per_version
def quantize_model(directory: str | Path, rows: Sequence[dict], *, variants: Sequence[str] | None = None,
                   pool_size: int = 1000, rules: QuantGateRules = QuantGateRules(), threads: int | None = None,
                   calibration_windows: int = 128, speed_windows: int = 32, speed_rounds: int = 3,
                   batch_windows: int = 24, token_budget: int = DEFAULT_TOKEN_BUDGET, switch: bool = True,
                   keep_files: bool = False, log: Log = print) -> dict[str, Any]:
    """Build `variants` of `directory/model.onnx`, gate each against ORT fp32, record it, and serve the fastest
    variant that passes and is at least `rules.min_speedup` times faster here (else fp32).

    Writes `metrics.json` (`quantization`: the full record; `gate`, `variants`, `served_variant` as the build
    writes them) and, when `switch`, `classifier.json`'s `onnx_file`, `backend`, `backend_options` and thresholds
    (the fp32 ones), each atomically. Files of variants that fail are removed unless `keep_files`. Returns the
    `quantization` record.
    """
    from model.interop import link_served_onnx, model_card

    directory = Path(directory)
    specs = resolve_variants(variants)
    config = ArtifactConfig.load(directory)
    thresholds_map = _reference_thresholds(directory, config)
    labels = list(config.labels)
    thresholds = np.array([thresholds_map.get(k, 0.5) for k in labels], dtype=np.float64)
    t_start = time.time()

    ref = Classifier.load(directory, variant="model.onnx", backend="ort", backend_options={}, regions=False,
                          threads=threads)
    pool = build_pool(rows, pool_size, seed=rules.seed)
    encoded = [ref.prepare(p["text"]) for p in pool]
    n_windows = sum(len(a.windows) for a in encoded)
    labelled = np.array([i for i, p in enumerate(pool) if p["split"] in ("dev", "test")], dtype=int)
    y = np.array([[label in pool[i]["issues"] for label in labels] for i in labelled], dtype=bool)
    y = y.reshape(-1, len(labels))
    n_synth = sum(p["synthetic"] for p in pool)
    log(f"quantisation gate pool: {len(pool)} articles ({len(pool) - n_synth} corpus, {n_synth} synthetic), "
        f"{n_windows} windows; {len(labelled)} labelled dev+test rows; {describe()}")

    t0 = time.time()
    ref_probs = article_probs(ref, encoded, token_budget, desc="fp32 (ort) on the pool")
    ref_seconds = time.time() - t0
    log(f"fp32 (ort) scored the pool in {ref_seconds:.1f} s ({n_windows / max(ref_seconds, 1e-9):.1f} windows/s)")

    # timing set: whole pool articles in pool order until `speed_windows` windows; checking set: varied lengths
    speed_articles, count = [], 0
    for a in encoded:
        if count >= speed_windows:
            break
        speed_articles.append(a)
        count += len(a.windows)
    all_windows = [w for a in encoded for w in a.windows]
    step = max(1, len(all_windows) // max(batch_windows, 1))
    check_windows = all_windows[::step][:batch_windows]

    work = directory / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    calibration = calibration_sample(encoded, pool, calibration_windows, rules.seed)
    cache: dict = {}
    records: dict[str, dict] = {}
    probs: dict[str, np.ndarray] = {}
    loaded: dict[str, Any] = {}
    built_files: dict[str, Path] = {}
    try:
        for spec in specs:
            rec: dict[str, Any] = {"backend": spec.backend, "onnx_file": spec.onnx_file,
                                   "backend_options": spec.backend_options, "about": spec.about,
                                   "batch_invariant_by_design": spec.batch_invariant}
            records[spec.name] = rec
            why = unavailable(spec)
            if why:
                rec.update(skipped=why, passed=False)
                log(f"{spec.name}: skipped ({why})")
                continue
            try:
                built = build_variant(spec, directory, calibration, ref.config.pad_id, out_dir=work, cache=cache)
                clf = Classifier.load(directory, variant=str(built.path), backend=spec.backend,
                                      backend_options=spec.backend_options, regions=False, threads=threads)
            except Exception as err:  # one variant that cannot be built or loaded does not stop the others
                rec.update(skipped=f"{type(err).__name__}: {err}", passed=False)
                log(f"{spec.name}: skipped ({type(err).__name__}: {err})")
                continue
            rec["build"] = built.record
            if built.path.parent == work:
                built_files[spec.onnx_file] = built.path
            t0 = time.time()
            probs[spec.name] = article_probs(clf, encoded, token_budget, desc=f"{spec.name} on the pool")
            rec["pool_seconds"] = round(time.time() - t0, 2)
            rec["gate"] = gate_variant(ref_probs, probs[spec.name], thresholds, labelled, y,
                                       batch_difference(clf, check_windows), rules)
            rec["passed"] = rec["gate"]["passed"] and spec.batch_invariant
            if not spec.batch_invariant:
                rec["gate"]["detail"] += "; scores depend on batch-mates by design: never served"
            loaded[spec.name] = clf
            log(f"{spec.name}: gate {'PASSED' if rec['gate']['passed'] else 'FAILED'} ({rec['gate']['detail']})")

        runs = {"fp32": lambda: ref.infer_articles(speed_articles, token_budget)}
        runs.update({name: (lambda c=clf: c.infer_articles(speed_articles, token_budget))
                     for name, clf in loaded.items()})
        seconds = interleaved_speed(runs, speed_rounds)
        timed_windows = sum(len(a.windows) for a in speed_articles)
        ref_rate = timed_windows / seconds["fp32"]
        for name in loaded:
            rate = timed_windows / seconds[name]
            records[name].update(windows_per_s=round(rate, 2), speedup=round(rate / ref_rate, 3))
            records[name]["servable"] = bool(records[name]["passed"] and rate / ref_rate >= rules.min_speedup)
            log(f"{name}: {rate:.1f} windows/s ({rate / ref_rate:.2f}x ORT fp32)")
        servable = [n for n in loaded if records[n]["servable"]]
        chosen = max(servable, key=lambda n: records[n]["speedup"]) if servable else "fp32"
        if chosen == "fp32":
            why = "no variant passed the gate and was at least " \
                  f"{rules.min_speedup:.2f}x faster than ORT fp32 on this machine"
        else:
            why = f"fastest variant that passed the gate ({records[chosen]['speedup']:.2f}x ORT fp32)"
        record = {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "hardware": describe(),
            "threads": ref.threads, "rules": rules.to_dict(),
            "pool": {"articles": len(pool), "corpus": len(pool) - n_synth, "synthetic": n_synth,
                     "windows": n_windows, "labelled": int(len(labelled)), "seed": rules.seed},
            "reference": {"variant": "fp32", "backend": "ort", "onnx_file": "model.onnx",
                          "windows_per_s": round(ref_rate, 2), "pool_seconds": round(ref_seconds, 2),
                          "thresholds": thresholds_map},
            "timing": {"windows": timed_windows, "rounds": speed_rounds},
            "calibration_windows": len(calibration),
            "variants": records, "served": chosen, "why": why,
        }
        _write_outcome(directory, work, record, probs, ref_probs, pool, thresholds, thresholds_map, built_files,
                       chosen, switch, keep_files, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record["seconds"] = round(time.time() - t_start, 1)
    metrics = read_json(directory / "metrics.json")
    metrics["quantization"]["seconds"] = record["seconds"]
    write_json(directory / "metrics.json", metrics)
    if (directory / "README.md").exists():
        (directory / "README.md").write_text(model_card(directory), encoding="utf-8")
    if (directory / "onnx").is_dir():
        link_served_onnx(directory)
    log(f"served: {chosen} ({why}); {record['seconds']:.0f} s")
    return record


def _write_outcome(directory: Path, work: Path, record: dict, probs: dict, ref_probs: np.ndarray, pool: list[dict],
                   thresholds: np.ndarray, thresholds_map: dict, built_files: dict[str, Path], chosen: str,
                   switch: bool, keep_files: bool, log: Log) -> None:
    """Move the kept files into the version, then switch classifier.json and write metrics.json.

    Order, so that the directory is consistent at every step: if a file about to be replaced is the one served,
    serve fp32 first; replace the files; serve the chosen variant; write the metrics.
    """
    config = ArtifactConfig.load(directory)
    labels = list(config.labels)
    variants = record["variants"]
    keep = {rec["onnx_file"] for name, rec in variants.items()
            if name in probs and (keep_files or rec.get("passed") or (switch and name == chosen))}
    protected = None
    if config.onnx_file in built_files and config.onnx_file != "model.onnx":
        if switch:
            _serve(directory, "model.onnx", "ort", {}, thresholds_map)
        else:  # never replace the graph being served behind classifier.json's back
            protected = config.onnx_file
            keep.discard(protected)
            log(f"{protected} is served and --no-switch was given: the new build of it is discarded")
    for file, path in built_files.items():
        if file in keep:
            os.replace(path, directory / file)
        elif file != protected:  # an older file of a variant that now fails would outlive its record
            (directory / file).unlink(missing_ok=True)
    metrics = read_json(directory / "metrics.json")
    # earlier entries stay unless their file was just rebuilt or removed (they would describe another graph)
    metrics["variants"] = {name: v for name, v in metrics.get("variants", {}).items()
                           if name == "fp32" or v.get("onnx_file") not in set(built_files) - {protected}}
    metrics["variants"].setdefault("fp32", {"onnx_file": "model.onnx", "thresholds": thresholds_map,
                                            **_reports(ref_probs, pool, thresholds, labels)})
    for name, p in probs.items():
        metrics["variants"][name] = {"onnx_file": variants[name]["onnx_file"], "backend": variants[name]["backend"],
                                     "backend_options": variants[name]["backend_options"],
                                     "thresholds": thresholds_map, "kept": variants[name]["onnx_file"] in keep,
                                     **_reports(p, pool, thresholds, labels)}
    metrics["gate"] = {name: {"passed": bool(rec.get("passed")),
                              "detail": rec.get("gate", {}).get("detail") or rec.get("skipped", "")}
                       for name, rec in variants.items()}
    metrics["quantization"] = record
    if switch:
        spec = variants.get(chosen, {"onnx_file": "model.onnx", "backend": "ort", "backend_options": {}})
        on_disk = {n: variants[n]["onnx_file"] for n in probs
                   if variants[n]["onnx_file"] in keep or variants[n]["onnx_file"] == "model.onnx"}
        needs = requirements(VARIANTS[chosen], spec.get("build", {})) if chosen in VARIANTS else []
        _serve(directory, spec["onnx_file"], spec["backend"], spec["backend_options"], thresholds_map,
               {"fp32": "model.onnx", **on_disk}, needs)
        metrics["served_variant"] = chosen
    write_json(directory / "metrics.json", metrics)


def _serve(directory: Path, onnx_file: str, backend: str, options: dict, thresholds: dict,
           variants: dict[str, str] | None = None, requires: Sequence[str] = ()) -> None:
    config = ArtifactConfig.load(directory)
    config.onnx_file, config.backend, config.backend_options = onnx_file, backend, dict(options)
    config.requires = list(requires)
    config.thresholds = dict(thresholds)
    if variants is not None:
        config.variants = variants
    config.save(directory)
