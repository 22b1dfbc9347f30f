"""Throughput and latency of every backend/variant on this machine, beside its quantisation-gate figures.

ORT fp32 (the reference), every variant of `model/quantize.py` that runs here (the model directory's own file
where `rawan quantize` kept one, else a throw-away build, calibrated on real training windows), PyTorch fp32 and
PyTorch bf16 autocast on the same weights. Two figures each, all timed in interleaved rounds in one run (the
machine is shared: compare ratios within a run):

- articles/s over `--articles` articles of ~600 words (all windows batched by the same token budget);
- p50 latency of one ~600-word article alone (its windows in one call), over `--latency-runs` calls.

The CPU flags that decide the fast path (AMX, avx512_bf16, VNNI) are printed first; the gate figures come from
the model's metrics.json (`rawan quantize` writes them). Usage:
python bench/model_throughput.py [--model DIR] [--variants NAME ...] [--articles 16] [--no-torch]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
from common import hardware, realistic_articles

from model.hardware import describe, has_fast_bf16
from model.registry import resolve_model_path
from model.runtime import DEFAULT_TOKEN_BUDGET, Classifier, token_batches
from model.text import pad_batch, sigmoid


def main() -> None:
    from model.artifact import read_json
    from model.quantize import VARIANTS, build_variant, unavailable

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="variants to time (default: all)")
    ap.add_argument("--articles", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-runs", type=int, default=5)
    ap.add_argument("--token-budget", type=int, default=DEFAULT_TOKEN_BUDGET)
    ap.add_argument("--calibration-windows", type=int, default=128)
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows (no train extra needed)")
    args = ap.parse_args()

    directory = resolve_model_path(args.model)
    texts = realistic_articles(args.articles)
    fp32 = Classifier.load(directory, variant="model.onnx", backend="ort", backend_options={}, regions=False)
    articles = [fp32.prepare(t) for t in texts]
    one = articles[:1]
    n_windows = sum(len(a.windows) for a in articles)
    metrics = read_json(directory / "metrics.json")
    gated = metrics.get("quantization", {}).get("variants", {})

    print(f"hardware: {describe()}")
    print(f"          {hardware()}; {fp32.threads} inference threads")
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"{args.articles} articles, mean {words:.0f} words, {n_windows} windows of <= {fp32.config.max_length} "
          f"tokens; latency: one {len(texts[0].split())}-word article ({len(one[0].windows)} windows)")

    # -- the ONNX backends -------------------------------------------------------------------------------------
    tmp = tempfile.TemporaryDirectory()
    calibration = None
    cache: dict = {}
    backends: dict[str, Classifier] = {"ort_fp32": fp32}
    notes: dict[str, str] = {}
    for name in args.variants:
        spec = VARIANTS[name]
        why = unavailable(spec)
        if why:
            notes[name] = f"not run: {why}"
            continue
        path = directory / spec.onnx_file
        if not path.exists() or name not in gated or gated[name].get("onnx_file") != spec.onnx_file:
            if calibration is None and spec.kind == "int8_static":
                calibration = calibration_windows(fp32, args.calibration_windows)
            path = build_variant(spec, directory, calibration or [], fp32.config.pad_id, out_dir=tmp.name,
                                 cache=cache).path
        backends[name] = Classifier.load(directory, variant=str(path), backend=spec.backend,
                                         backend_options=spec.backend_options, regions=False)
    runs = {name: (lambda c=c: c.infer_articles(articles, args.token_budget)) for name, c in backends.items()}
    single = {name: (lambda c=c: c.infer_articles(one, args.token_budget)) for name, c in backends.items()}

    # -- PyTorch on the same weights ---------------------------------------------------------------------------
    if not args.no_torch:
        import torch

        from model.network import load_torch_classifier

        torch_model = load_torch_classifier(directory)
        torch.set_num_threads(fp32.threads)
        batches = list(token_batches(sorted((w for a in articles for w in a.windows), key=len), len,
                                     args.token_budget))

        def run_torch(bf16: bool, windows_batches) -> None:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                for b in windows_batches:
                    ids, mask = pad_batch(b, fp32.config.pad_id)
                    torch_model(torch.from_numpy(ids), torch.from_numpy(mask))

        one_batch = [list(one[0].windows)]
        runs["torch_fp32"] = lambda: run_torch(False, batches)
        runs["torch_bf16"] = lambda: run_torch(True, batches)
        single["torch_fp32"] = lambda: run_torch(False, one_batch)
        single["torch_bf16"] = lambda: run_torch(True, one_batch)
        if not has_fast_bf16():
            notes["torch_bf16"] = "emulated: this CPU has no native bf16"

    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    latency: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    for _ in range(args.latency_runs):
        for name, fn in single.items():
            t0 = time.perf_counter()
            fn()
            latency[name].append(time.perf_counter() - t0)

    reference = [sigmoid(np.stack([o[0] for o in a])) for a in fp32.infer_articles(articles[:4])]
    print(f"\nmedian of {args.rounds} interleaved rounds; gate figures from {directory.name}/metrics.json "
          f"(served: {metrics.get('served_variant', '?')})")
    print(f"{'backend / variant':<20}{'art/s':>8}{'vs ORT':>8}{'p50 ms':>9}{'max|dp| here':>13}   gate")
    base = args.articles / statistics.median(times["ort_fp32"])
    for name in runs:
        rate = args.articles / statistics.median(times[name])
        p50 = 1000 * statistics.median(latency[name])
        dp = ""
        if name in backends and name != "ort_fp32":
            got = [sigmoid(np.stack([o[0] for o in a])) for a in backends[name].infer_articles(articles[:4])]
            dp = f"{max(float(np.abs(g - r).max()) for g, r in zip(got, reference)):.4f}"
        print(f"{name:<20}{rate:8.2f}{rate / base:7.2f}x{p50:9.0f}{dp:>13}   {gate_text(name, gated, notes)}")
    for name, note in notes.items():
        if name not in runs:
            print(f"{name:<20}{'':>38}   {note}")
    tmp.cleanup()


def gate_text(name: str, gated: dict, notes: dict) -> str:
    if name == "ort_fp32":
        return "reference"
    if name.startswith("torch"):
        return notes.get(name, "")
    rec = gated.get(name)
    if not rec or "gate" not in rec:
        return "not gated on this model (run `rawan quantize`)"
    g = rec["gate"]
    lo, hi = g["drop_interval_pt"]
    served = "passed" if rec.get("passed") else "failed"
    return (f"{served}: agreement {100 * g['agreement']:.2f} %, micro-F1 drop {g['micro_f1_drop_pt']:+.2f} pt "
            f"[{lo:+.2f}, {hi:+.2f}], max |dp| {g['max_abs_dprob']:.4f}, batch {g['batch_max_abs_dprob']:.0e}")


def calibration_windows(clf: Classifier, n: int) -> list[np.ndarray]:
    """The windows `rawan quantize` calibrates with by default: its sample of the corpus's training windows."""
    from training.data import load_corpus
    from training.quant_gate import QuantGateRules, build_pool, calibration_sample

    pool = build_pool(load_corpus(), size=0)  # the corpus rows as the gate's pool holds them, no concatenations
    return calibration_sample([clf.prepare(p["text"]) for p in pool], pool, n, QuantGateRules().seed)


if __name__ == "__main__":
    main()
