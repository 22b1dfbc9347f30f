"""Shared fixtures: a tiny but real model version (trained, exported to ONNX, thresholds tuned) built once per run."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from model.registry import Registry
    from training.args import TrainingArgs
    from training.build import build_model

    models = tmp_path_factory.mktemp("models")
    args = TrainingArgs(name="tiny", base_encoder="tiny-random", max_length=128, stride=96, epochs=6,
                        batch_windows=16, learning_rate=3e-3, head_learning_rate=1e-2, freeze_embeddings=False,
                        freeze_layers=0, bf16=False, seed=7, threads=1,  # one thread: bit-reproducible
                        quantize=False)  # variants and their gate: tests/training/test_quant_gate.py
    path = build_model(args, tiny_corpus(), models, log=lambda *_: None)
    Registry(models, "tiny").promote(path.name, reason="test fixture")
    return path
