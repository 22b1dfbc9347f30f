"""ONNX export of the torch network and the ONNX-vs-torch parity check (quantised variants: model/quantize.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.network import IssueClassifier
from model.quantize import quantize_int8, quantize_int8_static  # noqa: F401  (re-exported)
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


def torch_probabilities(model: IssueClassifier, windows: list[np.ndarray], pad_id: int) -> np.ndarray:
    """Sigmoid window probabilities from the torch model (fp32), for parity checks."""
    ids, mask = pad_batch(windows, pad_id)
    with torch.no_grad():
        logits, _ = model.eval().float()(torch.from_numpy(ids), torch.from_numpy(mask))
    return torch.sigmoid(logits).numpy()
