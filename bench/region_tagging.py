"""Cost of region tagging: gazetteer load time and RSS, and milliseconds per 600-word article.

Usage: .venv/bin/python bench/region_tagging.py [--runs 200]
Budget (issue 4): load once per process in <= 1 s and <= 150 MB; tagging <= 5 ms per 600-word article.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def article_600_words() -> str:
    """A realistic 600-word article: seed texts joined and cut at 600 words (title line kept first)."""
    words: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        words.extend(path.read_text(encoding="utf-8").replace("\n", " \n ").split(" "))
    out, n = [], 0
    for w in words:
        out.append(w)
        n += bool(w.strip())
        if n >= 600:
            break
    return " ".join(out).replace(" \n ", "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args(argv)

    base_rss = rss_mb()
    t0 = time.perf_counter()
    from model.regions import RegionTagger  # noqa: E402 - import cost is part of the load

    tagger = RegionTagger.load()
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    RegionTagger.load()
    again_ms = (time.perf_counter() - t1) * 1000
    after_rss = rss_mb()

    text = article_600_words()
    n_words = len(text.split())
    tagger.tag(text)  # warm
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        tagger.tag(text)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"gazetteer load (import + build): {load_s:.3f} s   second load(): {again_ms:.4f} ms")
    print(f"RSS: {base_rss:.0f} MB before, {after_rss:.0f} MB after load (+{after_rss - base_rss:.0f} MB)")
    print(f"tag(): {n_words}-word article, {args.runs} runs: mean {statistics.mean(times):.2f} ms, "
          f"median {statistics.median(times):.2f} ms, p95 {times[int(0.95 * len(times)) - 1]:.2f} ms")
    print(f"regions: {[(r['code'], r['name'], r['score']) for r in tagger.tag(text)]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
