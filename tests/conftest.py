"""Shared fixtures: a tiny but real model version (trained, exported to ONNX, thresholds tuned) built once per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_data import tiny_corpus

REPO = Path(__file__).resolve().parent.parent


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
