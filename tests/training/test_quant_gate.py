"""The quantisation gate and `rawan quantize`, with the tiny model, real ONNX Runtime (and OpenVINO if installed)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from tiny_data import tiny_corpus
from onnx import numpy_helper

from model.artifact import ArtifactConfig, read_json
from model.quantize import sensitive_matmuls, weight_matmuls
from model.runtime import Classifier
from training.data import article_text, load_corpus, load_seeds
from training.quant_gate import (QuantGateRules, article_probs, batch_difference, build_pool, gate_variant,
                                 paired_bootstrap, quantize_model)

RELAXED = QuantGateRules(min_agreement=0.0, max_micro_f1_drop=100.0, max_drop_upper=100.0, min_speedup=0.0)
TEXTS = [article_text(r) for r in load_seeds()] + ["Bawaslu menemukan politik uang.", "Harga cabai naik."]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return tiny_corpus()


@pytest.fixture
def version(tiny_model_dir, tmp_path):
    """A private copy of the tiny model version (quantize writes into the directory)."""
    return shutil.copytree(tiny_model_dir, tmp_path / tiny_model_dir.name)


def test_default_pool_is_every_corpus_article_plus_long_concatenations():
    corpus = load_corpus()
    pool = build_pool(corpus)
    assert len(pool) >= 1000
    synthetic = [p for p in pool if p["synthetic"]]
    assert len(synthetic) >= 200 and len(pool) - len(synthetic) == len(corpus)
    assert {p["split"] for p in pool} == {"train", "dev", "test", "synthetic"}
    assert np.mean([len(p["text"]) for p in synthetic]) > 2 * np.mean([len(article_text(r)) for r in corpus])
    assert [p["text"] for p in build_pool(corpus)] == [p["text"] for p in pool]  # fixed seed
    assert len(build_pool(corpus, 2000)) == max(2000, len(corpus) + 2000 // 5)  # at least a fifth synthetic


def test_paired_bootstrap():
    rng = np.random.default_rng(1)
    y = rng.random((300, 11)) < 0.1
    same = paired_bootstrap(y, y, y)
    assert same["drop"] == same["low"] == same["high"] == 0.0
    worse = y.copy()
    worse[:60] = False  # the candidate misses every label of 60 articles
    b = paired_bootstrap(y, y, worse)
    assert b["drop"] > 5 and 0 < b["low"] < b["drop"] < b["high"]
    assert paired_bootstrap(y, y, worse) == b  # fixed seed


def _damaged_copy(src, dst, scale: float = 0.5) -> None:
    """model.onnx with Gaussian noise (scale x each weight's std) on every weight MatMul."""
    model = onnx.load(str(src))
    weights = {n.input[1] for n in model.graph.node if n.name in set(weight_matmuls(src))}
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if init.name in weights:
            w = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array((w + rng.normal(0, scale * w.std(), w.shape)).astype(w.dtype),
                                                  init.name))
    onnx.save(model, str(dst))


def test_gate_passes_an_identical_model_and_fails_a_damaged_one(version, rows):
    ref = Classifier.load(version, regions=False)
    shutil.copyfile(version / "model.onnx", version / "same.onnx")
    _damaged_copy(version / "model.onnx", version / "damaged.onnx")
    pool = build_pool(rows, 200)
    encoded = [ref.prepare(p["text"]) for p in pool]
    labelled = np.array([i for i, p in enumerate(pool) if p["split"] in ("dev", "test")])
    y = np.array([[label in pool[i]["issues"] for label in ref.labels] for i in labelled])
    ref_probs = article_probs(ref, encoded)
    windows = [w for a in encoded[:8] for w in a.windows]
    out = {}
    for name in ("same", "damaged"):
        clf = Classifier.load(version, variant=f"{name}.onnx", regions=False)
        out[name] = gate_variant(ref_probs, article_probs(clf, encoded), ref.thresholds, labelled, y,
                                 batch_difference(clf, windows))
    same, damaged = out["same"], out["damaged"]
    assert same["passed"] and same["agreement"] == 1.0 and same["max_abs_dprob"] == 0.0
    assert same["micro_f1_drop_pt"] == 0.0 and same["drop_interval_pt"] == [0.0, 0.0]
    assert same["batch_max_abs_dprob"] <= 1e-5
    assert not damaged["passed"] and not damaged["checks"]["agreement"] and damaged["agreement"] < 0.995
    assert damaged["max_abs_dprob"] > 0.01 and damaged["disagreements"] > 0


def test_sensitive_matmuls_are_the_residual_outputs_and_the_head(tiny_model_dir):
    names = sensitive_matmuls(tiny_model_dir / "model.onnx")
    assert sorted(names) == sorted([f"/encoder/encoder/layer.{i}/{part}/dense/MatMul"  # the tiny encoder: 2 layers
                                    for i in range(2) for part in ("attention/output", "output")] + ["/head/MatMul"])
    assert set(names) < set(weight_matmuls(tiny_model_dir / "model.onnx"))


def test_quantize_serves_a_static_variant_that_scores_batches_like_single_windows(version, rows):
    before = Classifier.load(version, regions=False)
    record = quantize_model(version, rows, variants=["ort_int8_static", "ort_int8_dynamic"], pool_size=200,
                            rules=RELAXED, log=lambda *_: None)
    dyn, static = record["variants"]["ort_int8_dynamic"], record["variants"]["ort_int8_static"]
    assert record["served"] == "ort_int8_static"   # dynamic is never served, however it measures
    assert not dyn["passed"] and not dyn["servable"] and "never served" in dyn["gate"]["detail"]
    assert static["gate"]["batch_max_abs_dprob"] <= 1e-5 and static["build"]["calibration"] == "percentile"
    assert static["build"]["fp32_matmuls"] and static["build"]["quantized_matmuls"] > 0
    cfg = ArtifactConfig.load(version)
    assert (cfg.onnx_file, cfg.backend) == ("model.int8-static.onnx", "ort")
    assert cfg.thresholds == read_json(version / "metrics.json")["variants"]["fp32"]["thresholds"]
    assert not (version / "model.int8.onnx").exists()  # failed variants leave no file behind
    metrics = read_json(version / "metrics.json")
    assert metrics["served_variant"] == "ort_int8_static" and metrics["gate"]["ort_int8_static"]["passed"]
    assert metrics["quantization"]["pool"]["articles"] == len(build_pool(rows, 200))
    assert "test" in metrics["variants"]["ort_int8_static"]
    assert os.path.samefile(version / "onnx" / "model.onnx", version / "model.int8-static.onnx")
    assert "ort_int8_static" in (version / "README.md").read_text()

    clf = Classifier.load(version, regions=False)
    together = clf.predict(TEXTS)
    alone = [clf.predict([t])[0] for t in TEXTS]
    for a, b in zip(together, alone):
        assert a.labels == b.labels and a.evidence == b.evidence
        assert max(abs(a.scores[k] - b.scores[k]) for k in a.scores) <= 1e-6
    diff = max(abs(a.scores[k] - b.scores[k]) for a, b in zip(together, before.predict(TEXTS)) for k in a.scores)
    assert 0 < diff < 0.05  # a different graph than fp32, close to it

    # a stricter run rebuilds the served file: fp32 is served again, and the directory stays loadable throughout
    record = quantize_model(version, rows, variants=["ort_int8_static"], pool_size=200,
                            rules=QuantGateRules(min_agreement=1.01), log=lambda *_: None)
    assert record["served"] == "fp32" and not record["variants"]["ort_int8_static"]["passed"]
    cfg = ArtifactConfig.load(version)
    assert (cfg.onnx_file, cfg.backend) == ("model.onnx", "ort") and not (version / "model.int8-static.onnx").exists()
    assert read_json(version / "metrics.json")["served_variant"] == "fp32"
    assert os.path.samefile(version / "onnx" / "model.onnx", version / "model.onnx")
    assert not (version / ".quantize-work").exists()


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino not installed")
def test_quantize_can_choose_openvino(version, rows):
    record = quantize_model(version, rows, variants=["openvino_fp32", "openvino_int8", "openvino_bf16"],
                            pool_size=120, rules=QuantGateRules(min_speedup=0.0), log=lambda *_: None)
    ov = record["variants"]["openvino_fp32"]
    assert ov["passed"] and ov["gate"]["agreement"] == 1.0 and ov["gate"]["max_abs_dprob"] < 1e-5
    assert "gate" in record["variants"]["openvino_int8"]  # built from the QDQ graph and measured
    if record["served"] != "fp32":
        cfg = ArtifactConfig.load(version)
        assert cfg.backend == "openvino" and cfg.backend_options["precision"] in ("f32", "bf16")
        clf = Classifier.load(version, regions=False)
        assert clf.backend == "openvino"
        together = clf.predict(TEXTS, evidence=False)
        alone = [clf.predict([t], evidence=False)[0] for t in TEXTS]
        assert max(abs(a.scores[k] - b.scores[k]) for a, b in zip(together, alone) for k in a.scores) <= 1e-6


def test_quantize_command_records_without_switching(version, rows, tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:60]), encoding="utf-8")
    before = (version / "classifier.json").read_text()
    r = subprocess.run([sys.executable, "-m", "rawan.cli", "quantize", "--model", str(version), "--data", str(data),
                        "--pool-size", "80", "--variants", "ort_int8_static", "--no-switch"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ort_int8_static" in r.stdout and "agree %" in r.stdout and "hardware:" in r.stdout
    assert (version / "classifier.json").read_text() == before
    q = read_json(version / "metrics.json")["quantization"]
    assert q["pool"]["articles"] == 80 and q["variants"]["ort_int8_static"]["gate"]["pairs"] == 80 * 11
    bad = subprocess.run([sys.executable, "-m", "rawan.cli", "quantize", "--model", str(version), "--variants",
                          "int3"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown variants" in bad.stderr


def test_build_model_quantizes_only_when_asked(tmp_path, rows):
    from training.args import TrainingArgs
    from training.build import build_model

    args = TrainingArgs(name="q", base_encoder="tiny-random", max_length=64, stride=48, max_steps=2, batch_windows=8,
                        freeze_layers=0, freeze_embeddings=False, bf16=False, seed=3, threads=1, quantize=True,
                        extra={"quantize_variants": ["ort_int8_static"], "quantize_pool_size": 60})
    held_out = [r for r in rows if r["split"] == "dev"][:15] + [r for r in rows if r["split"] == "test"][:15]
    path = build_model(args, rows[:15] + held_out, tmp_path, log=lambda *_: None)
    metrics = read_json(path / "metrics.json")
    q = metrics["quantization"]
    assert set(q["variants"]) == {"ort_int8_static"} and q["pool"]["articles"] == 60
    assert metrics["served_variant"] in ("fp32", "ort_int8_static")
    assert ArtifactConfig.load(path).onnx_file == ("model.onnx" if q["served"] == "fp32" else "model.int8-static.onnx")
    assert os.path.samefile(path / "onnx" / "model.onnx", path / ArtifactConfig.load(path).onnx_file)


def test_a_second_quantize_on_the_same_version_is_refused(version, rows):
    """Two runs on one version would interleave variant files and records: the second stops before any work."""
    from model.locks import exclusive_lock
    from training.quant_gate import LOCK_FILE, QuantizeBusy

    before = {p.name: p.read_bytes() for p in version.iterdir() if p.is_file()}
    with exclusive_lock(version / LOCK_FILE):  # a run in progress holds the version's lock
        with pytest.raises(QuantizeBusy, match="another `rawan quantize` is working on"):
            quantize_model(version, rows, variants=["ort_int8_static"], pool_size=60, log=lambda *_: None)
        r = subprocess.run([sys.executable, "-m", "rawan.cli", "quantize", "--model", str(version), "--pool-size",
                            "60", "--variants", "ort_int8_static"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "another `rawan quantize` is working on" in r.stderr, r.stderr
    after = {p.name: p.read_bytes() for p in version.iterdir() if p.is_file() and p.name != LOCK_FILE}
    assert after == before  # nothing written by the refused runs
    record = quantize_model(version, rows, variants=["ort_int8_static"], pool_size=60, rules=RELAXED,
                            log=lambda *_: None)  # released: the next run goes ahead
    assert record["served"] == "ort_int8_static"
    needs = ArtifactConfig.load(version).requires
    assert needs == ([] if record["variants"]["ort_int8_static"]["build"]["reduce_range"] else ["int8_dot"])
