"""End to end with the tiny model: train a few steps -> export ONNX -> classify -> parity; and the artifact."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from model.artifact import ArtifactConfig, read_json
from model.export import export_onnx, quantize_int8, torch_probabilities
from model.runtime import Classifier
from model.text import sigmoid
from training.args import TrainingArgs
from training.data import article_text, load_seeds
from training.trainer import Trainer

REPO_SEEDS = load_seeds()


def test_train_export_parity(tmp_path):
    texts = [article_text(r) for r in REPO_SEEDS]
    y = np.zeros((len(texts), 11), dtype=np.float32)
    y[:, 1] = 1.0
    args = TrainingArgs(base_encoder="tiny-random", max_length=64, stride=48, max_steps=4, bf16=False, seed=3,
                        freeze_layers=1, token_pooling="mean")  # cached frozen layers; mean decomposition
    trainer = Trainer(args, 11, tokenizer_texts=texts)
    history = trainer.fit(texts, y)
    assert history["steps"] == 4 and np.isfinite(history["loss"]).all()
    onnx_path = export_onnx(trainer.model, tmp_path / "model.onnx")
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
    # dynamic axes: batch and sequence lengths other than the export dummy's must work
    windows = [w for t in texts + ["Bawaslu menemukan politik uang."] for w in trainer.encode(t).windows]
    assert len({len(w) for w in windows}) > 1 and len(windows) > 2
    from model.text import pad_batch

    ids, mask = pad_batch(windows, trainer.pad_id)
    logits, token_logits = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    assert logits.shape == (len(windows), 11) and token_logits.shape == (*ids.shape, 11)
    torch_p = torch_probabilities(trainer.model, windows, trainer.pad_id)
    assert np.abs(sigmoid(logits) - torch_p).max() <= 1e-4
    # the window logit is exactly the masked mean of the token logits (what evidence relies on)
    mean_tok = (token_logits * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    assert np.allclose(mean_tok, logits, atol=1e-5)
    q = quantize_int8(onnx_path, tmp_path / "model.int8.onnx")
    q_logits = ort.InferenceSession(str(q), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    assert q_logits.shape == logits.shape and np.isfinite(q_logits).all()


def test_artifact_carries_config_hash_metrics_versions(tiny_model_dir):
    cfg = ArtifactConfig.load(tiny_model_dir)
    assert cfg.labels[0] == "politik_uang" and set(cfg.thresholds) == set(cfg.labels)
    assert (tiny_model_dir / cfg.onnx_file).exists() and (tiny_model_dir / "tokenizer.json").exists()
    hf = read_json(tiny_model_dir / "config.json")
    assert hf["problem_type"] == "multi_label_classification" and hf["id2label"]["0"] == "politik_uang"
    training = read_json(tiny_model_dir / "training.json")
    assert len(training["data_hash"]) == 64 and training["args"]["base_encoder"] == "tiny-random"
    assert {"torch", "onnxruntime", "transformers"} <= set(training["libraries"])
    assert training["splits"]["test"] > 0
    metrics = read_json(tiny_model_dir / "metrics.json")
    assert metrics["parity_max_abs_diff"] <= 1e-4
    assert {"dev", "test"} <= set(metrics["variants"]["fp32"])
    assert metrics["served_variant"] == "fp32" or metrics["gate"][metrics["served_variant"]]["passed"]
    assert cfg.onnx_file == metrics["variants"][metrics["served_variant"]]["onnx_file"]


def test_classify_cli_outputs_the_documented_shape(tiny_model_dir):
    text = article_text(REPO_SEEDS[0])
    out = subprocess.run([sys.executable, "-m", "rawan.cli", "classify", "--model", str(tiny_model_dir), "--id", "s0"],
                         input=text, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert set(result) >= {"id", "model", "labels", "issues", "regions", "evidence"}
    assert result["id"] == "s0" and result["model"]["version"] == tiny_model_dir.name
    assert [i["id"] for i in result["issues"]] == ArtifactConfig.load(tiny_model_dir).labels
    assert all(0.0 <= i["score"] <= 1.0 for i in result["issues"])
    assert result["labels"] == [i["id"] for i in result["issues"] if i["predicted"]]
    assert result["regions"] and result["regions"][0]["code"] == "32.75"
    for label, sentences in result["evidence"].items():
        assert label in result["labels"] and 1 <= len(sentences) <= 3
        for s in sentences:
            assert text.strip()[s["start"]:s["end"]] == s["sentence"]


def test_classify_rejects_empty_text(tiny_model_dir):
    out = subprocess.run([sys.executable, "-m", "rawan.cli", "classify", "--model", str(tiny_model_dir)],
                         input="   \n", capture_output=True, text=True)
    assert out.returncode == 2 and "empty" in out.stderr


def test_runtime_matches_between_single_and_batched_calls(tiny_model_dir):
    clf = Classifier.load(tiny_model_dir, regions=False)
    texts = [article_text(r) for r in REPO_SEEDS]
    together = clf.predict(texts, evidence=False)
    alone = [clf.predict([t], evidence=False)[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.labels == b.labels
        # served variants (fp32 or static int8) do not depend on batch-mates
        assert max(abs(a.scores[k] - b.scores[k]) for k in a.scores) < 1e-5


@pytest.mark.parametrize("bad", [{"pooling": "sum"}, {"max_length": 4}, {"stride": 0}, {"epochs": 0}])
def test_training_args_are_validated(bad):
    with pytest.raises(ValueError):
        TrainingArgs(**bad)


def test_export_command_reexports_with_parity(tiny_model_dir, tmp_path):
    out = subprocess.run([sys.executable, "-m", "rawan.cli", "export", "--model", str(tiny_model_dir),
                          "--output", str(tmp_path / "again.onnx")], capture_output=True, text=True, check=True)
    assert "parity" in out.stdout and (tmp_path / "again.onnx").exists()
    a = Classifier.load(tiny_model_dir, variant="model.onnx", regions=False)
    b = Classifier.load(tiny_model_dir, variant=str(tmp_path / "again.onnx"), regions=False)
    text = article_text(REPO_SEEDS[2])
    assert np.allclose(list(a.predict([text])[0].scores.values()), list(b.predict([text])[0].scores.values()),
                       atol=1e-5)


def test_mean_plus_max_token_pooling_exports_with_parity(tmp_path):
    texts = [article_text(r) for r in REPO_SEEDS] + ["Bawaslu menemukan politik uang."]
    args = TrainingArgs(base_encoder="tiny-random", max_length=64, stride=48, max_steps=2, bf16=False, seed=5,
                        freeze_layers=0, token_pooling="mean+max")
    trainer = Trainer(args, 11, tokenizer_texts=texts)
    trainer.fit(texts, np.ones((len(texts), 11), dtype=np.float32))
    onnx_path = export_onnx(trainer.model, tmp_path / "model.onnx")
    from model.text import pad_batch

    windows = [w for t in texts for w in trainer.encode(t).windows]
    ids, mask = pad_batch(windows, trainer.pad_id)
    logits, token_logits = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": ids, "attention_mask": mask})
    assert np.abs(sigmoid(logits) - torch_probabilities(trainer.model, windows, trainer.pad_id)).max() <= 1e-4
    # padding never wins the max: the pooled logit is the mean plus the max over real tokens only
    real = np.where(mask[..., None] == 1, token_logits, -np.inf).max(1)
    mean = (token_logits * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    assert np.allclose(logits, mean + real, atol=1e-5)
