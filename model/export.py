"""ONNX export of the torch network, int8 quantised variants, and the ONNX-vs-torch parity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.network import IssueClassifier
from model.text import pad_batch

INPUTS = ["input_ids", "attention_mask"]
OUTPUTS = ["logits", "token_logits"]


def export_onnx(model: IssueClassifier, path: str | Path, opset: int = 17) -> Path:
    """Export with dynamic batch and sequence axes on every input and output."""
    path = Path(path)
    model = model.eval().float()
    ids = torch.randint(5, 100, (2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}, "token_logits": {0: "batch", 1: "sequence"}}
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), str(path), input_names=INPUTS, output_names=OUTPUTS,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    return path


def quantize_int8(src: str | Path, dst: str | Path, per_channel: bool = True) -> Path:
    """Dynamic int8 quantisation of the MatMuls (VNNI/AMX int8 kernels); embeddings stay fp32 for quality."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), per_channel=per_channel, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"])
    return Path(dst)


def torch_probabilities(model: IssueClassifier, windows: list[np.ndarray], pad_id: int) -> np.ndarray:
    """Sigmoid window probabilities from the torch model (fp32), for parity checks."""
    ids, mask = pad_batch(windows, pad_id)
    with torch.no_grad():
        logits, _ = model.eval().float()(torch.from_numpy(ids), torch.from_numpy(mask))
    return torch.sigmoid(logits).numpy()


def quantize_int8_static(src: str | Path, dst: str | Path, calibration: list[np.ndarray], pad_id: int,
                         batch: int = 8) -> Path:
    """Static QDQ int8 (per-channel weights, activation ranges calibrated on real windows).

    Unlike dynamic quantisation, activation scales are fixed, so a window's scores do not depend on which other
    windows share its batch: the micro-batching server returns exactly what a one-at-a-time call would.
    """
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            chunks = [calibration[i : i + batch] for i in range(0, len(calibration), batch)]
            self.feeds = iter([dict(zip(INPUTS, pad_batch(c, pad_id))) for c in chunks])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                    calibrate_method=CalibrationMethod.MinMax,
                    # MinMax reduces every tensor to its min/max inside the graph (moving average over batches);
                    # histogram calibrators keep every intermediate tensor of every batch in memory instead
                    # (over 20 GB for e5-small at 256 tokens)
                    extra_options={"ActivationSymmetric": True, "CalibMovingAverage": True})
    return Path(dst)
