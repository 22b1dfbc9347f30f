"""The model directory: one folder per version, symmetric save/load of its metadata.

Layout of `models/<name>/<version>/`:
    classifier.json   serving config: labels, thresholds, windowing, pooling, special ids, which ONNX file to serve
    model.onnx        fp32 graph (inputs input_ids, attention_mask; outputs logits, token_logits)
    model.int8-static.onnx, model.int8-full.onnx, ...
                      faster variants kept by `rawan quantize` because they passed its gate (model/quantize.py);
                      `onnx_file` + `backend` in classifier.json name what is served, metrics.json says why
    torch_state.pt, encoder_config.json
                      the fine-tuned torch weights (benchmarks, re-export); never loaded by serving
    tokenizer.json    the fast tokenizer
    taxonomy.json     the label set the model was trained on
    config.json       Hugging Face style config (id2label, problem_type) so other tools can read the labels
    training.json     training config, data hash, split sizes, library versions
    metrics.json      dev/test metrics, per label, for every ONNX variant
    tokenizer_config.json, special_tokens_map.json, onnx/model.onnx, README.md
                      for other tools (`model/interop.py`): AutoTokenizer, the served graph under onnx/ (a hard
                      link), the model card; serving never reads them
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLASSIFIER_FILE = "classifier.json"


@dataclass
class ArtifactConfig:
    """What the runtime needs to turn text into scores exactly as training did."""

    name: str
    version: str
    labels: list[str]
    thresholds: dict[str, float]
    max_length: int = 256
    stride: int = 192
    pooling: str = "max"
    pool_temperature: list[float] = field(default_factory=list)  # per label, only for pooling "lse"
    token_pooling: str = "mean"
    bos_id: int = 0
    eos_id: int = 2
    pad_id: int = 1
    onnx_file: str = "model.onnx"
    taxonomy_version: str = "1"
    base_encoder: str = ""
    created: str = ""
    variants: dict[str, str] = field(default_factory=dict)
    backend: str = "ort"  # "ort" or "openvino" (model/runtime.py); set by `rawan quantize` when a variant wins
    backend_options: dict = field(default_factory=dict)  # e.g. {"precision": "bf16"} for OpenVINO
    # CPU features the served variant was gated with and needs ("bf16": AMX or avx512_bf16; "int8_dot": VNNI or
    # AMX-INT8, for int8 files built with full-range weights); where one is missing the runtime serves model.onnx
    requires: list[str] = field(default_factory=list)

    def save(self, directory: str | Path) -> None:
        write_json(Path(directory) / CLASSIFIER_FILE, asdict(self))

    @classmethod
    def load(cls, directory: str | Path) -> "ArtifactConfig":
        path = Path(directory) / CLASSIFIER_FILE
        if not path.exists():
            raise FileNotFoundError(f"{directory} is not a Rawan model directory (no {CLASSIFIER_FILE})")
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def write_json(path: str | Path, data: dict) -> None:
    """Write JSON through a temporary file and an atomic rename, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def read_json(path: str | Path) -> dict:
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_hf_config(directory: str | Path, labels: list[str], base_encoder: str, token_pooling: str = "mean",
                    window_pooling: str = "max") -> None:
    """A `config.json` readable by Hugging Face tools: labels and the multi-label problem type."""
    write_json(Path(directory) / "config.json", {
        "architectures": ["RawanIssueClassifier"],
        "problem_type": "multi_label_classification",
        "id2label": {str(i): label for i, label in enumerate(labels)},
        "label2id": {label: i for i, label in enumerate(labels)},
        "num_labels": len(labels),
        "base_encoder": base_encoder,
        "onnx": {"inputs": ["input_ids", "attention_mask"], "outputs": ["logits", "token_logits"],
                 "pooling_over_tokens": {"mean": "attention-masked mean",
                                         "mean+max": "attention-masked mean plus masked max"}[token_pooling],
                 "pooling_over_windows": window_pooling, "score": "sigmoid"},
    })
