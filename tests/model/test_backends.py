"""The runtime's backend switch: ORT (always), OpenVINO (optional extra), one `Classifier` API, lazy imports."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest

from model.artifact import ArtifactConfig
from model.quantize import VARIANTS, unavailable
from model.runtime import Classifier, MissingExtra
from training.data import article_text, load_seeds

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="openvino not installed (pip install 'rawan[openvino]')")
TEXTS = [article_text(r) for r in load_seeds()] + ["Bawaslu menemukan politik uang.", "Harga cabai naik."]


def scores(preds) -> np.ndarray:
    return np.array([list(p.scores.values()) for p in preds])


def test_missing_openvino_names_the_pip_extra(tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'rawan\[openvino\]'") as err:
        Classifier.load(tiny_model_dir, backend="openvino", regions=False)
    assert isinstance(err.value, ImportError)
    assert "rawan[openvino]" in unavailable(VARIANTS["openvino_fp32"])
    assert unavailable(VARIANTS["ort_int8_static"]) is None


def test_a_served_variant_the_cpu_cannot_run_falls_back_to_fp32(tiny_model_dir, tmp_path, monkeypatch, caplog):
    """A version quantised on an AMX machine (OpenVINO bf16), copied to an AVX2-only one, serves model.onnx."""
    import model.hardware

    copy = shutil.copytree(tiny_model_dir, tmp_path / "v")
    cfg = ArtifactConfig.load(copy)
    cfg.backend, cfg.backend_options, cfg.requires = "openvino", {"precision": "bf16"}, ["bf16"]
    cfg.save(copy)
    monkeypatch.setattr(model.hardware, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # an AVX2-only CPU
    with caplog.at_level("WARNING", logger="rawan.runtime"):
        clf = Classifier.load(copy, regions=False)
    assert (clf.backend, clf.onnx_file) == ("ort", "model.onnx") and "lacks bf16" in clf.fallback
    assert "serving model.onnx on ORT fp32" in caplog.text
    reference = Classifier.load(tiny_model_dir, regions=False)
    assert np.abs(scores(clf.predict(TEXTS)) - scores(reference.predict(TEXTS))).max() == 0


def test_config_backend_with_a_missing_runtime_falls_back(tiny_model_dir, tmp_path, monkeypatch):
    copy = shutil.copytree(tiny_model_dir, tmp_path / "v")
    cfg = ArtifactConfig.load(copy)
    cfg.backend = "openvino"
    cfg.save(copy)
    monkeypatch.setitem(sys.modules, "openvino", None)
    clf = Classifier.load(copy, regions=False)
    assert clf.backend == "ort" and "pip install 'rawan[openvino]'" in clf.fallback


def test_unknown_backend_and_ort_options_are_errors(tiny_model_dir):
    with pytest.raises(ValueError, match="unknown backend"):
        Classifier.load(tiny_model_dir, backend="tensorrt", regions=False)
    with pytest.raises(ValueError, match="no options"):
        Classifier.load(tiny_model_dir, backend="ort", backend_options={"precision": "bf16"}, regions=False)


def test_ort_backend_does_not_import_openvino(tiny_model_dir):
    code = (f"from model.runtime import Classifier; c = Classifier.load({str(tiny_model_dir)!r}, regions=False); "
            "c.predict(['Pemilu damai.']); import sys; print('openvino' in sys.modules, c.backend)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert r.stdout.split() == ["False", "ort"]


@needs_openvino
def test_openvino_fp32_matches_ort_and_batched_equals_alone(tiny_model_dir):
    ort_clf = Classifier.load(tiny_model_dir, regions=False)
    ov = Classifier.load(tiny_model_dir, backend="openvino", backend_options={"precision": "f32"}, regions=False)
    assert ov.backend == "openvino" and ov.session.precision == "f32"
    together = ov.predict(TEXTS, evidence=True)
    alone = [ov.predict([t], evidence=True)[0] for t in TEXTS]
    assert np.abs(scores(together) - scores(alone)).max() <= 1e-6
    assert [p.labels for p in together] == [p.labels for p in alone]
    assert [p.evidence for p in together] == [p.evidence for p in alone]
    assert np.abs(scores(together) - scores(ort_clf.predict(TEXTS))).max() <= 1e-5


@needs_openvino
def test_classifier_json_backend_is_the_default(tiny_model_dir, tmp_path):
    copy = shutil.copytree(tiny_model_dir, tmp_path / "v")
    cfg = ArtifactConfig.load(copy)
    cfg.backend, cfg.backend_options = "openvino", {"precision": "f32"}
    cfg.save(copy)
    clf = Classifier.load(copy, regions=False)
    assert clf.backend == "openvino" and clf.session.precision == "f32"
    assert Classifier.load(copy, backend="ort", regions=False).backend == "ort"  # the argument wins


@needs_openvino
def test_openvino_bf16_only_where_the_cpu_has_it(tiny_model_dir):
    from model.runtime import openvino_capabilities

    if "BF16" in openvino_capabilities():
        clf = Classifier.load(tiny_model_dir, backend="openvino", backend_options={"precision": "bf16"},
                              regions=False)
        assert clf.session.precision == "bf16"
        assert unavailable(VARIANTS["openvino_bf16"]) is None
    else:  # asked for bf16 on a CPU without it: an error, not a silent fp32 run reported as bf16
        with pytest.raises(ValueError, match="no native bf16"):
            Classifier.load(tiny_model_dir, backend="openvino", backend_options={"precision": "bf16"},
                            regions=False)
        assert "no native bf16" in unavailable(VARIANTS["openvino_bf16"])
