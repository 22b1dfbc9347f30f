"""Batch throughput: `rawan batch` (local engine, ONNX) vs the transformers text-classification pipeline on
PyTorch fp32 and bf16 autocast, same fine-tuned weights, in one run; plus micro-F1 on the corpus test split and
peak RSS of `rawan batch` at two input sizes (memory must not grow with the archive).

Differences that are part of the comparison, not accidents:
- the pipeline truncates every article to the model's max length (its first window); `rawan batch` scores every
  window of every article (max over windows), tags regions and writes Parquet;
- `rawan batch` runs the variant the model version serves (classifier.json: e.g. OpenVINO bf16 where
  `rawan quantize` found it passed its gate and was faster on this machine);
- `rawan batch` is timed as a subprocess (wall time of the job, model load included, and its own articles/s
  figure); the pipeline in-process after a warm-up.

Usage: python bench/batch_throughput.py [--model DIR] [--articles 2000] [--rss-articles 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO, hardware, realistic_articles

from model.registry import resolve_model_path


def write_articles(path: Path, n: int, seed: int = 0) -> None:
    """`n` realistic articles as JSONL, generated in slices so the bench itself stays small."""
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, 2000):
            for i, text in enumerate(realistic_articles(min(2000, n - start), seed=seed + start)):
                f.write(json.dumps({"id": f"bench-{start + i:06d}", "text": text}, ensure_ascii=False) + "\n")


def run_rawan_batch(inputs: Path, out: Path, model: Path, workers: int, threads: int) -> dict:
    """One `rawan batch` job in a child process -> wall seconds, its articles/s and its own peak RSS."""
    cmd = [sys.executable, "-m", "rawan.cli", "batch", str(inputs), "-o", str(out), "--model", str(model),
           "--workers", str(workers), "--threads", str(threads), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    while proc.poll() is None:  # VmHWM of the child after exec (ru_maxrss would include the forked parent)
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"rawan batch failed: {proc.stderr.read().decode()[-2000:]}")
    run = json.loads((out / "_summary.json").read_text())["run"]
    return {"wall_s": wall, "job_rate": run["articles_per_s"], "scored": run["scored"], "windows": run["windows"],
            "rss_mb": peak_kb / 1024}


def hf_pipeline(model_dir: Path):
    """The fine-tuned torch network behind a `transformers` text-classification pipeline (sigmoid, all labels)."""
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast, pipeline
    from transformers.modeling_outputs import SequenceClassifierOutput

    from model.artifact import ArtifactConfig
    from model.network import load_torch_classifier

    cfg = ArtifactConfig.load(model_dir)

    class RawanBenchConfig(PretrainedConfig):
        model_type = "rawan-bench"

    class RawanBenchModel(PreTrainedModel):
        config_class = RawanBenchConfig
        base_model_prefix = "net"

        def __init__(self, config, net=None):
            super().__init__(config)
            self.net = net

        def forward(self, input_ids=None, attention_mask=None, **_):
            logits, _tokens = self.net(input_ids, attention_mask)
            return SequenceClassifierOutput(logits=logits)

    config = RawanBenchConfig(id2label=dict(enumerate(cfg.labels)), label2id={k: i for i, k in enumerate(cfg.labels)},
                              problem_type="multi_label_classification")
    model = RawanBenchModel(config, load_torch_classifier(model_dir)).eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"), bos_token="<s>",
                                  eos_token="</s>", pad_token="<pad>", model_max_length=cfg.max_length)
    torch.set_num_threads(os.cpu_count() or 1)
    return pipeline("text-classification", model=model, tokenizer=tok, top_k=None, function_to_apply="sigmoid",
                    device="cpu"), cfg


def run_pipeline(pipe, texts: list[str], max_length: int, bf16: bool, batch_size: int = 8) -> np.ndarray:
    """Scores [n, labels] in the model's label order."""
    import torch

    labels = list(pipe.model.config.id2label.values())
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = pipe(texts, batch_size=batch_size, truncation=True, max_length=max_length)
    return np.array([[{d["label"]: d["score"] for d in row}[k] for k in labels] for row in out], dtype=np.float32)


def micro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    tp = float((gold * pred).sum())
    return 2 * tp / max(float(gold.sum() + pred.sum()), 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--rss-articles", type=int, default=20000, help="second size for the RSS check (0: skip)")
    ap.add_argument("--configs", default="2x1,1x2", help="rawan batch WORKERSxTHREADS settings to time")
    ap.add_argument("--torch-articles", type=int, default=None, help="articles through the pipelines "
                    "(default: --articles; fewer for a quick run, rates are per article)")
    args = ap.parse_args()
    from model.taxonomy import Taxonomy
    from serve.batch import score_files
    from training.data import article_text, load_corpus

    model_dir = resolve_model_path(args.model)
    work = Path(tempfile.mkdtemp(prefix="rawan-bench-batch-"))
    small = work / "small.jsonl"
    write_articles(small, args.articles)
    texts = [json.loads(line)["text"] for line in open(small, encoding="utf-8")]
    print(f"hardware: {hardware()}")
    served = json.loads((model_dir / "classifier.json").read_text())
    print(f"model: {model_dir} (classifier.json serves {served['onnx_file']} on {served.get('backend', 'ort')} "
          f"{served.get('backend_options') or ''})")
    print(f"{args.articles} articles sampled from the corpus, mean {np.mean([len(t.split()) for t in texts]):.0f} "
          "words")

    results: dict[str, dict] = {}
    best_conf: dict[str, tuple[int, int]] = {}
    for conf in args.configs.split(","):
        w, t = (int(x) for x in conf.split("x"))
        r = run_rawan_batch(small, work / f"out-{conf}", model_dir, w, t)
        name = f"(a) rawan batch local {w} workers x {t} threads"
        results[name], best_conf[name] = r, (w, t)
        print(f"  rawan batch {w}x{t}: {args.articles / r['wall_s']:.2f} articles/s wall (job {r['job_rate']:.2f}), "
              f"{r['windows']} windows, peak RSS {r['rss_mb']:.0f} MB", flush=True)
    best = max(results, key=lambda k: results[k]["job_rate"])
    a_rate = args.articles / results[best]["wall_s"]
    big_line = ""
    if args.rss_articles:  # before torch is imported, so nothing else competes for memory
        big = work / "big.jsonl"
        write_articles(big, args.rss_articles, seed=10_000)
        w, t = best_conf[best]
        r = run_rawan_batch(big, work / "out-big", model_dir, w, t)
        big_line = (f"peak RSS of rawan batch ({w}x{t}): {args.articles} articles {results[best]['rss_mb']:.0f} MB, "
                    f"{args.rss_articles} articles {r['rss_mb']:.0f} MB ({args.rss_articles / r['wall_s']:.2f} "
                    "articles/s wall)")
        print("  " + big_line, flush=True)

    pipe, cfg = hf_pipeline(model_dir)
    n_torch = args.torch_articles or args.articles
    run_pipeline(pipe, texts[:8], cfg.max_length, False)  # warm-up
    rates = {}
    for name, bf16 in (("(b) transformers pipeline, PyTorch fp32", False), ("(c) same, bf16 autocast", True)):
        t0 = time.perf_counter()
        run_pipeline(pipe, texts[:n_torch], cfg.max_length, bf16)
        rates[name] = n_torch / (time.perf_counter() - t0)
        print(f"  {name}: {rates[name]:.2f} articles/s", flush=True)

    # quality on the corpus test split: every backend with the model's per-label thresholds
    taxonomy = Taxonomy.load(model_dir / "taxonomy.json")
    test = [r for r in load_corpus() if r["split"] == "test"]
    gold = np.array([taxonomy.multi_hot(r["issues"]) for r in test], dtype=np.float32)
    thresholds = np.array([cfg.thresholds.get(k, 0.5) for k in cfg.labels], dtype=np.float32)
    tfile = work / "test.jsonl"
    with open(tfile, "w", encoding="utf-8") as f:
        for r in test:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "title": r.get("title")}, ensure_ascii=False) + "\n")
    score_files([str(tfile)], work / "out-test", model=model_dir, progress=False)
    from serve.batch.ledger import iter_part_rows, output_parts

    by_id = {r["id"]: r for p in output_parts(work / "out-test") for r in iter_part_rows(p)}
    f1 = {"(a)": micro_f1(gold, np.array([[k in by_id[r["id"]]["labels"] for k in cfg.labels] for r in test]))}
    test_texts = [article_text(r) for r in test]
    for key, bf16 in (("(b)", False), ("(c)", True)):
        f1[key] = micro_f1(gold, run_pipeline(pipe, test_texts, cfg.max_length, bf16) >= thresholds)

    print(f"\nthroughput on {args.articles} articles (pipelines: {n_torch}), test split n={len(test)}:")
    # per window: rawan batch scores every window of an article, the pipeline one (its first 256 tokens; every
    # ~600-word article is longer than that), so windows/s compares the same unit of work
    print(f"  {'backend':<58} {'articles/s':>10} {'vs (b)':>7} {'vs (c)':>7} {'windows/s':>10} {'vs (b)':>7} "
          f"{'micro-F1':>9}")
    b, c = rates["(b) transformers pipeline, PyTorch fp32"], rates["(c) same, bf16 autocast"]
    a_windows = results[best]["windows"] / results[best]["wall_s"]
    rows = [(best + " [fastest]", a_rate, a_windows, f1["(a)"])] + [(k, v, v, f1[k[:3]]) for k, v in rates.items()]
    for name, rate, wrate, f in rows:
        print(f"  {name:<58} {rate:>10.2f} {rate / b:>6.2f}x {rate / c:>6.2f}x {wrate:>10.2f} {wrate / b:>6.2f}x "
              f"{f:>9.4f}")
    print(f"  ΔF1 (a) - (b): {100 * (f1['(a)'] - f1['(b)']):+.2f} points; (a) - (c): "
          f"{100 * (f1['(a)'] - f1['(c)']):+.2f} points")
    print("  note: the pipeline truncates each article to its first window; rawan batch scores all windows.")

    if big_line:
        print("\n" + big_line)
    print(f"\n(work files in {work})")


if __name__ == "__main__":
    main()
