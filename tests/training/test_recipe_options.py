"""Recipe options added for corpus v2: learned lse pooling across windows, label-balanced sampling, bf16 auto."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.hardware import has_fast_bf16
from model.network import WindowPooling, pool_article_logits
from model.text import pool_windows
from training.args import TrainingArgs
from training.data import article_text, load_seeds
from training.trainer import Trainer, balanced_weights


def test_lse_pooling_matches_between_torch_training_and_numpy_serving():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 3)).astype(np.float32)
    temperature = np.array([0.05, 1.0, 40.0], dtype=np.float32)
    served = pool_windows(logits, "lse", temperature)
    trained = pool_article_logits(torch.from_numpy(logits), torch.zeros(5, dtype=torch.long), 1, "lse",
                                  torch.from_numpy(temperature))[0].numpy()
    assert np.allclose(served, trained, atol=1e-5)
    # a small temperature is close to the mean, a large one close to the max, one window is itself
    assert abs(served[0] - logits[:, 0].mean()) < 0.05
    assert abs(served[2] - logits[:, 2].max()) < 0.05
    assert np.allclose(pool_windows(logits[:1], "lse", temperature), logits[0], atol=1e-6)


def test_lse_pooling_needs_a_temperature_per_label():
    with pytest.raises(ValueError, match="temperature"):
        pool_windows(np.zeros((2, 3), dtype=np.float32), "lse", [1.0])


def test_lse_pooling_pools_each_article_separately():
    logits = torch.tensor([[0.0], [4.0], [-2.0]])
    out = pool_article_logits(logits, torch.tensor([0, 0, 1]), 2, "lse", torch.tensor([2.0]))
    assert out[1, 0] == pytest.approx(-2.0) and 2.0 < out[0, 0] < 4.0


def test_window_pooling_starts_near_a_max_and_learns_a_temperature():
    texts = [article_text(r) for r in load_seeds()]
    y = np.zeros((len(texts), 11), dtype=np.float32)
    y[:, 1] = 1.0
    args = TrainingArgs(base_encoder="tiny-random", max_length=64, stride=48, max_steps=3, bf16=False, seed=3,
                        freeze_layers=0, freeze_embeddings=False, pooling="lse")
    trainer = Trainer(args, 11, tokenizer_texts=texts)
    before = trainer.pool_temperature()
    assert before == pytest.approx([4.0] * 11, abs=1e-2)
    history = trainer.fit(texts, y)
    assert history["pool_temperature"] != before and len(history["pool_temperature"]) == 11
    assert isinstance(WindowPooling(2).temperature(), torch.Tensor)


def test_balanced_weights_favour_rare_labels_and_keep_negatives():
    y = np.zeros((10, 3))
    y[:8, 0] = 1  # common label
    y[8, 1] = 1   # rare label
    w = balanced_weights(y)  # row 9: no issue
    assert w[8] > w[0] and w[9] > w[0] and w[0] == pytest.approx(1.0)
    assert len(w) == 10


def test_balanced_sampling_draws_rare_articles_more_often():
    texts = [article_text(r) for r in load_seeds()]
    args = TrainingArgs(base_encoder="tiny-random", max_length=64, stride=48, max_steps=1, bf16=False,
                        sampling="balanced", freeze_layers=0)
    trainer = Trainer(args, 3, tokenizer_texts=texts)
    import random

    weights = [1.0, 1.0, 1.0, 1.0, 20.0]
    order = [i for _ in range(200) for i in trainer._order(5, random.Random(_), weights)]
    assert order.count(4) > 5 * order.count(0)


def test_bf16_auto_follows_the_cpu_and_explicit_settings_win():
    assert TrainingArgs().bf16 is None
    assert TrainingArgs().use_bf16() == has_fast_bf16()
    assert TrainingArgs(bf16=True).use_bf16() and not TrainingArgs(bf16=False).use_bf16()
    with pytest.raises(ValueError, match="sampling"):
        TrainingArgs(sampling="oversample")
