"""Helpers shared by the bench scripts (not an importable package of the product)."""

from __future__ import annotations

import os
import platform
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def hardware() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def realistic_articles(n: int, target_words: int = 600, seed: int = 0) -> list[str]:
    """`n` distinct ~`target_words`-word articles sampled from the corpus: an article, topped up with the
    paragraphs of other randomly drawn articles until long enough (never one text repeated)."""
    from training.data import article_text, load_corpus

    rows = load_corpus()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [article_text(rng.choice(rows))]
        while sum(len(p.split()) for p in parts) < target_words:
            paras = article_text(rng.choice(rows)).split("\n")
            parts.append("\n".join(paras[1 : 1 + rng.randint(2, 5)]))
        words = "\n".join(parts).split(" ")
        out.append(" ".join(words[: target_words + rng.randint(-40, 40)]))
    return out


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
