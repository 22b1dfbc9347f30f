"""Throughput of the served ONNX variant vs the other ONNX variant, PyTorch fp32 and PyTorch bf16 autocast.

16 articles of ~600 words (sampled from the corpus), all windows batched by the same token budget, every backend
timed in interleaved rounds in one run (the machine is shared: compare ratios within a run). Also prints the
quality-gate figures recorded in the model's metrics.json. Usage: python bench/model_throughput.py [--model DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import hardware, realistic_articles

from model.registry import resolve_model_path
from model.runtime import Classifier, token_batches
from model.text import pad_batch, sigmoid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--articles", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--token-budget", type=int, default=8192)
    args = ap.parse_args()
    import torch

    from model.artifact import read_json
    from model.export import quantize_int8
    from model.network import load_torch_classifier

    directory = resolve_model_path(args.model)
    texts = realistic_articles(args.articles)
    fp32 = Classifier.load(directory, variant="model.onnx", regions=False)
    int8_path = directory / "model.int8.onnx"
    tmp = None
    if not int8_path.exists():  # gate failed at build time: quantise a throw-away copy just to time it
        tmp = tempfile.TemporaryDirectory()
        int8_path = quantize_int8(directory / "model.onnx", Path(tmp.name) / "model.int8.onnx")
    int8 = Classifier.load(directory, variant=str(int8_path), regions=False)
    articles = [fp32.prepare(t) for t in texts]
    n_windows = sum(len(a.windows) for a in articles)
    torch_model = load_torch_classifier(directory)
    torch.set_num_threads(fp32.session.get_session_options().intra_op_num_threads)
    windows = sorted((w for a in articles for w in a.windows), key=len)
    batches = list(token_batches(windows, len, args.token_budget))

    def run_torch(bf16: bool) -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for b in batches:
                ids, mask = pad_batch(b, fp32.config.pad_id)
                torch_model(torch.from_numpy(ids), torch.from_numpy(mask))

    backends = {
        "ONNX Runtime fp32": lambda: fp32.infer_articles(articles, args.token_budget),
        "ONNX Runtime int8 (dynamic, per-channel)": lambda: int8.infer_articles(articles, args.token_budget),
        "PyTorch fp32": lambda: run_torch(False),
        "PyTorch bf16 autocast": lambda: run_torch(True),
    }
    for fn in backends.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in backends}
    for _ in range(args.rounds):
        for name, fn in backends.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"hardware: {hardware()}; torch threads {torch.get_num_threads()}")
    print(f"{args.articles} articles, mean {words:.0f} words, {n_windows} windows of <= {fp32.config.max_length} "
          f"tokens, median of {args.rounds} interleaved rounds")
    base = None
    for name, ts in times.items():
        rate = args.articles / statistics.median(ts)
        base = base or rate
        print(f"  {name:<42} {rate:7.2f} articles/s  ({rate / base:.2f}x ORT fp32)")
    m = read_json(directory / "metrics.json")
    print(f"\nserved variant: {m.get('served_variant')}; gate: {m.get('gate')}")
    for name, v in m.get("variants", {}).items():
        worst = min(v["test"]["per_label"].items(), key=lambda kv: kv[1]["f1"])
        print(f"  {name}: test micro-F1 {v['test']['micro_f1']:.4f}, macro-F1 {v['test']['macro_f1']:.4f}, "
              f"lowest label {worst[0]} {worst[1]['f1']:.3f}")
    probs_fp32 = np.stack([o[0] for a in fp32.infer_articles(articles[:4]) for o in a])
    probs_int8 = np.stack([o[0] for a in int8.infer_articles(articles[:4]) for o in a])
    print(f"  max |p_int8 - p_fp32| on these windows: {np.abs(sigmoid(probs_int8) - sigmoid(probs_fp32)).max():.4f}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
