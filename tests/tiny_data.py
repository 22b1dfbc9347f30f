"""The slice of the corpus the tiny test models are trained on (a module, not conftest: two conftest files exist,
so `from conftest import ...` would depend on which one pytest imported first)."""

from __future__ import annotations

import copy


def tiny_corpus() -> list[dict]:
    """Seeds (train) plus a fixed slice of the written corpus per split: small enough to train in seconds."""
    from training.data import load_corpus, load_seeds

    rows = [r for r in load_corpus(with_seeds=False)]
    by_split = {s: [r for r in rows if r["split"] == s] for s in ("train", "dev", "test")}
    picked = by_split["train"][:80] + by_split["dev"][:30] + by_split["test"][:30]
    seeds = load_seeds()
    if not by_split["dev"]:  # corpus absent: fall back to seeds copied into every split
        picked = [dict(copy.deepcopy(r), id=f"{r['id']}-{s}", split=s) for r in seeds for s in ("dev", "test")]
    return seeds * 3 + picked  # seeds repeated so the tiny model learns them
