"""Faster variants of a version's fp32 graph: how each is made, which backend runs it, what it needs of the CPU.

A variant is a (file, backend, options) triple. Files are made from `model.onnx` only (no torch): int8 ONNX graphs
with ONNX Runtime's quantiser, or nothing at all where OpenVINO runs `model.onnx` itself in bf16. Whether a variant
is *served* is decided elsewhere (`training/quant_gate.py`: decision agreement with fp32, pooled micro-F1 with a
bootstrap interval, batch invariance, and speed on this machine); this module only builds and describes them.

| variant | backend | file | how |
|---|---|---|---|
| `ort_int8_static` | ort | `model.int8-static.onnx` | QDQ; int8 per-channel weights of the weight MatMuls; activation scales fixed, calibrated with the 99.999th percentile of real windows; attention output, FFN output and classifier MatMuls kept fp32 |
| `ort_int8_entropy` | ort | `model.int8-entropy.onnx` | the same, calibrated by entropy (KL) |
| `ort_int8_full` | ort | `model.int8-full.onnx` | percentile-calibrated QDQ of every weight MatMul, the sensitive ones too (fastest int8, riskiest) |
| `ort_int8_dynamic` | ort | `model.int8.onnx` | dynamic int8, sensitive MatMuls fp32: activation scales per batch, so it is measured but never served |
| `ort_fp16` | ort | `model.fp16.onnx` | fp16 weights and activations; ONNX Runtime's x86 CPU provider has no fp16 MatMul and runs it through Casts to fp32, so it is here to be measured, not expected to win |
| `openvino_fp32` | openvino | `model.onnx` | OpenVINO's CPU plugin, f32 |
| `openvino_bf16` | openvino | `model.onnx` | OpenVINO, bf16 inference precision: only where the CPU has AMX or avx512_bf16 |
| `openvino_int8` | openvino | `model.int8-static.onnx` | OpenVINO runs the static QDQ graph with int8 kernels |

Activation-activation MatMuls (attention scores and context) stay fp32 in every int8 variant: their ranges move
with the text (softmax outputs, unnormalised scores) and a fixed scale fits them poorly. Where the CPU lacks VNNI
(AVX2 only), weights are quantised to 7 bits (`reduce_range`) so that ONNX Runtime's u8 x s8 kernels cannot
saturate; the record of each build says which was used, since the file then belongs to this kind of CPU.
"""

from __future__ import annotations

import io
import logging
import os
import re
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from model.text import pad_batch

INPUTS = ["input_ids", "attention_mask"]
# MatMuls whose int8 error hurts BERT-style encoders most (the residual-branch outputs and the classifier); node
# names as torch.onnx writes them for transformers' BertModel/XLM-R encoders and Rawan's head.
SENSITIVE_MATMULS = (r"attention/output/dense/MatMul$", r"layer\.\d+/output/dense/MatMul$", r"(^|/)head/MatMul$")
PERCENTILE = 99.999


@dataclass(frozen=True)
class VariantSpec:
    """One way to run a version faster: which file, on which backend, with which options, made how."""

    name: str
    backend: str               # "ort" | "openvino"
    onnx_file: str             # inside the model directory
    kind: str                  # how the file is made: "fp32" (model.onnx itself), "int8_static", "int8_dynamic", "fp16"
    calibration: str = ""      # int8_static: "percentile" | "entropy"
    keep_sensitive_fp32: bool = True
    precision: str = ""        # OpenVINO inference precision of the float parts
    batch_invariant: bool = True  # False: scores depend on batch-mates, never served
    about: str = ""

    @property
    def backend_options(self) -> dict[str, Any]:
        return {"precision": self.precision} if self.precision else {}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


VARIANTS: dict[str, VariantSpec] = {s.name: s for s in (
    VariantSpec("ort_int8_static", "ort", "model.int8-static.onnx", "int8_static", "percentile",
                about="ORT static QDQ int8, per-channel weights, percentile calibration, sensitive MatMuls fp32"),
    VariantSpec("ort_int8_entropy", "ort", "model.int8-entropy.onnx", "int8_static", "entropy",
                about="ORT static QDQ int8, per-channel weights, entropy calibration, sensitive MatMuls fp32"),
    VariantSpec("ort_int8_full", "ort", "model.int8-full.onnx", "int8_static", "percentile", keep_sensitive_fp32=False,
                about="ORT static QDQ int8 of every weight MatMul, percentile calibration"),
    VariantSpec("ort_int8_dynamic", "ort", "model.int8.onnx", "int8_dynamic", batch_invariant=False,
                about="ORT dynamic int8 (per-batch activation scales; measured, never served)"),
    VariantSpec("ort_fp16", "ort", "model.fp16.onnx", "fp16", about="ORT fp16 graph (x86: Casts to fp32 kernels)"),
    VariantSpec("openvino_fp32", "openvino", "model.onnx", "fp32", precision="f32", about="OpenVINO CPU, f32"),
    VariantSpec("openvino_bf16", "openvino", "model.onnx", "fp32", precision="bf16",
                about="OpenVINO CPU, bf16 (AMX / avx512_bf16 only)"),
    VariantSpec("openvino_int8", "openvino", "model.int8-static.onnx", "int8_static", "percentile", precision="f32",
                about="OpenVINO CPU running the static QDQ int8 graph"),
)}
# What `rawan quantize` tries when not told: every servable kind once (each costs one pass over the gate's pool).
DEFAULT_VARIANTS = ("ort_int8_static", "ort_int8_full", "openvino_fp32", "openvino_bf16", "openvino_int8")


def resolve_variants(names: Sequence[str] | None) -> list[VariantSpec]:
    names = list(DEFAULT_VARIANTS if not names else names)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    return [VARIANTS[n] for n in dict.fromkeys(names)]


def unavailable(spec: VariantSpec) -> str | None:
    """Why `spec` cannot run on this machine (a missing runtime or CPU feature), or None."""
    from model.runtime import backend_problem

    return backend_problem(spec.backend, spec.backend_options)


def requirements(spec: VariantSpec, build_record: dict[str, Any]) -> list[str]:
    """CPU features (model.hardware.FEATURES) a built variant needs to score as it did at its gate: native bf16
    for bf16 precision; int8 dot products for int8 files with full-range weights (without VNNI, ORT's u8 x s8
    kernels can saturate on them)."""
    needs = ["bf16"] if spec.precision == "bf16" else []
    if build_record.get("reduce_range") is False:
        needs.append("int8_dot")
    return needs


# -- building files ----------------------------------------------------------------------------------------------
def sensitive_matmuls(onnx_path: str | Path) -> list[str]:
    """Names of the MatMul nodes kept fp32 by `keep_sensitive_fp32` (attention output, FFN output, classifier)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and any(re.search(p, n.name) for p in SENSITIVE_MATMULS)]


def weight_matmuls(onnx_path: str | Path) -> list[str]:
    """MatMul nodes whose second input is a weight (an initializer): the ones int8 variants quantise."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    weights = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and len(n.input) > 1 and n.input[1] in weights]


class _WindowReader:
    """Calibration feeds: fixed batches of real windows. `set_range` lets ORT collect histograms one batch at a
    time (`CalibStridedMinMax`), so memory holds one batch's intermediate tensors, not all of them."""

    def __init__(self, windows: Sequence[np.ndarray], pad_id: int, batch: int) -> None:
        chunks = [list(windows[i : i + batch]) for i in range(0, len(windows), batch)]
        self.feeds = [dict(zip(INPUTS, pad_batch(c, pad_id))) for c in chunks]
        self.set_range(0, len(self.feeds))

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._iter = iter(self.feeds[start_index:end_index])

    def get_next(self):
        return next(self._iter, None)

    def __iter__(self):
        return iter(self.feeds)


def quantize_int8_static(src: str | Path, dst: str | Path, calibration: Sequence[np.ndarray], pad_id: int, *,
                         method: str = "percentile", keep_sensitive_fp32: bool = True, reduce_range: bool | None = None,
                         batch: int = 8) -> dict[str, Any]:
    """Static QDQ int8: per-channel symmetric int8 weights of the weight MatMuls, u8 activations with fixed scales
    calibrated on `calibration` windows (`method` "percentile" (99.999) or "entropy"; "minmax" for comparison).

    Fixed scales make a window's scores independent of its batch-mates. Returns what was done (for metrics.json).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from model.hardware import has_int8_dot

    methods = {"percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy,
               "minmax": CalibrationMethod.MinMax}
    if method not in methods:
        raise ValueError(f"calibration method must be one of {sorted(methods)}, got {method!r}")
    if not calibration:
        raise ValueError("static quantisation needs calibration windows")
    reduce_range = (not has_int8_dot()) if reduce_range is None else reduce_range
    excluded = sensitive_matmuls(src) if keep_sensitive_fp32 else []
    reader = _WindowReader(calibration, pad_id, batch)
    extra = {"MatMulConstBOnly": True, "CalibStridedMinMax": 1, "WeightSymmetric": True}
    if method == "percentile":
        extra["CalibPercentile"] = PERCENTILE
    if method == "minmax":
        extra["CalibMovingAverage"] = True
    t0 = time.time()
    with _quiet_quantizer():
        quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["MatMul"], nodes_to_exclude=excluded,
                        calibrate_method=methods[method], extra_options=extra)
    quantised = [n for n in weight_matmuls(src) if n not in excluded]
    return {"calibration": method, "calibration_windows": len(calibration), "reduce_range": reduce_range,
            "per_channel": True, "activations": "uint8, fixed scales", "weights": "int8 symmetric per channel",
            "quantized_matmuls": len(quantised), "fp32_matmuls": excluded, "seconds": round(time.time() - t0, 1)}


def quantize_int8(src: str | Path, dst: str | Path, per_channel: bool = True, keep_sensitive_fp32: bool = False,
                  reduce_range: bool | None = None) -> Path:
    """Dynamic int8 of the weight MatMuls (activation scales computed per batch: never served; for measuring)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from model.hardware import has_int8_dot

    reduce_range = (not has_int8_dot()) if reduce_range is None else reduce_range
    excluded = sensitive_matmuls(src) if keep_sensitive_fp32 else []
    with _quiet_quantizer():
        quantize_dynamic(str(src), str(dst), per_channel=per_channel, reduce_range=reduce_range,
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], nodes_to_exclude=excluded,
                         extra_options={"MatMulConstBOnly": True})
    return Path(dst)


def convert_fp16(src: str | Path, dst: str | Path) -> Path:
    """fp16 weights and activations, int64 inputs and fp32 outputs kept (ONNX Runtime's own converter)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
    return Path(dst)


@contextmanager
def _quiet_quantizer():
    """ORT's quantiser logs a pre-processing hint through the root logger on every call (it does not apply to
    exported graphs) and its percentile calibrator prints; silence both for the duration of the call only."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        with redirect_stdout(io.StringIO()):  # the percentile calibrator prints its range
            yield
    finally:
        root.setLevel(level)


@dataclass
class Built:
    """A variant file made for one run: where it was written, and the record of how."""

    spec: VariantSpec
    path: Path
    record: dict[str, Any] = field(default_factory=dict)


def build_variant(spec: VariantSpec, directory: str | Path, calibration: Sequence[np.ndarray], pad_id: int, *,
                  out_dir: str | Path | None = None, cache: dict[str, Built] | None = None) -> Built:
    """Make `spec`'s file from `directory/model.onnx` into `out_dir` (default: the model directory).

    Variants that share a file (openvino_int8 and ort_int8_static) share one build through `cache`. Variants that
    run `model.onnx` itself build nothing and point at it.
    """
    directory = Path(directory)
    src = directory / "model.onnx"
    if spec.kind == "fp32":
        return Built(spec, src, {"file": "model.onnx (as exported)"})
    if cache is not None and spec.onnx_file in cache:
        return Built(spec, cache[spec.onnx_file].path, cache[spec.onnx_file].record)
    out = Path(out_dir or directory) / spec.onnx_file
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    t0 = time.time()
    if spec.kind == "int8_static":
        record = quantize_int8_static(src, tmp, calibration, pad_id, method=spec.calibration,
                                      keep_sensitive_fp32=spec.keep_sensitive_fp32)
    elif spec.kind == "int8_dynamic":
        quantize_int8(src, tmp, keep_sensitive_fp32=spec.keep_sensitive_fp32)
        record = {"activations": "uint8, scales per batch (dynamic)", "weights": "int8 per channel",
                  "fp32_matmuls": sensitive_matmuls(src) if spec.keep_sensitive_fp32 else []}
    elif spec.kind == "fp16":
        convert_fp16(src, tmp)
        record = {"weights": "fp16", "activations": "fp16"}
    else:
        raise ValueError(f"unknown variant kind {spec.kind!r}")
    os.replace(tmp, out)
    record = {**record, "file_mb": round(out.stat().st_size / 2**20, 2), "build_seconds": round(time.time() - t0, 1)}
    built = Built(spec, out, record)
    if cache is not None:
        cache[spec.onnx_file] = built
    return built
