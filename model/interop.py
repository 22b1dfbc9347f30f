"""The parts of a model directory that other tools read: Hugging Face tokenizer files, `onnx/model.onnx`, a card.

Rawan's runtime reads `classifier.json`, `tokenizer.json` and the ONNX file that `classifier.json` names; nothing
here changes that. These files make the same directory usable elsewhere:

- `tokenizer_config.json` + `special_tokens_map.json` next to `tokenizer.json`, so that
  `transformers.AutoTokenizer.from_pretrained(dir)` works offline and gives the runtime's token ids;
- `config.json` gains the encoder's `model_type` and sizes, so that `AutoConfig.from_pretrained(dir)` works too
  (labels, `problem_type` and the ONNX description stay as `write_hf_config` wrote them);
- `onnx/model.onnx`: the served graph under the path ONNX-aware tools look for (a hard link, a copy where the
  file system refuses links);
- `README.md`: the model card, generated from `classifier.json`, `taxonomy.json`, `training.json` and
  `metrics.json`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from model.artifact import ArtifactConfig, read_json, write_json

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def write_interop_files(directory: str | Path, special_tokens: dict[str, Any]) -> None:
    """Write every file of this module's docstring; call it once the rest of the version is complete."""
    directory = Path(directory)
    config = ArtifactConfig.load(directory)
    write_tokenizer_files(directory, special_tokens, config.max_length)
    complete_hf_config(directory)
    link_served_onnx(directory)
    (directory / "README.md").write_text(model_card(directory), encoding="utf-8")


def write_tokenizer_files(directory: str | Path, special_tokens: dict[str, Any], max_length: int) -> None:
    """`tokenizer_config.json` and `special_tokens_map.json` for the `tokenizer.json` already in `directory`.

    The class is the portable `PreTrainedTokenizerFast` (every transformers version since 4.x reads it) rather
    than whatever the installed version would write. `model_max_length` is one Rawan window, so a tool that
    truncates gets exactly what the model scores as one window.
    """
    directory = Path(directory)
    specials = {k: str(v) for k, v in special_tokens.items() if k in SPECIAL_KEYS and v is not None}
    missing = {"bos_token", "eos_token", "pad_token", "unk_token"} - set(specials)
    if missing:
        raise ValueError(f"special tokens {sorted(missing)} are missing; got {sorted(special_tokens)}")
    write_json(directory / "special_tokens_map.json", specials)
    write_json(directory / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "model_max_length": int(max_length),
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    })


def complete_hf_config(directory: str | Path) -> None:
    """Add the encoder's own config (model_type, sizes) under the keys `config.json` does not already have."""
    directory = Path(directory)
    config = read_json(directory / "config.json")
    encoder = read_json(directory / "encoder_config.json")
    if not config or not encoder.get("model_type"):
        return
    for key, value in encoder.items():
        if key not in config and key not in ("architectures", "_name_or_path", "name_or_path"):
            config[key] = value
    write_json(directory / "config.json", config)


def link_served_onnx(directory: str | Path) -> str:
    """Make `onnx/model.onnx` the graph `classifier.json` serves: a hard link (no extra disk), else a copy.

    Returns "hardlink" or "copy". An existing `onnx/model.onnx` is replaced (e.g. after `rawan export`).
    """
    directory = Path(directory)
    source = directory / ArtifactConfig.load(directory).onnx_file
    target = directory / ONNX_DIR / ONNX_FILE
    target.parent.mkdir(exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        how = "hardlink"
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(source, tmp)
        how = "copy"
    os.replace(tmp, target)
    return how


# -- the model card ----------------------------------------------------------------------------------------------
def _pct(x: Any) -> str:
    return f"{100 * float(x):.1f}" if isinstance(x, (int, float)) else "–"


def _split_table(report: dict, labels: list[str]) -> list[str]:
    per = report.get("per_label", {})
    lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label in labels:
        m = per.get(label, {})
        lines.append(f"| `{label}` | {_pct(m.get('precision'))} | {_pct(m.get('recall'))} | {_pct(m.get('f1'))} "
                     f"| {m.get('support', '–')} |")
    lines.append(f"| **micro-F1** | | | **{_pct(report.get('micro_f1'))}** | n={report.get('n', '–')} articles |")
    lines.append(f"| **macro-F1** | | | **{_pct(report.get('macro_f1'))}** | |")
    return lines


def model_card(directory: str | Path) -> str:
    """README.md of a model version: labels, thresholds, data hash, metrics per split, intended use and limits."""
    directory = Path(directory)
    config = ArtifactConfig.load(directory)
    taxonomy = read_json(directory / "taxonomy.json")
    training = read_json(directory / "training.json")
    metrics = read_json(directory / "metrics.json")
    served = metrics.get("served_variant", "fp32")
    variant = metrics.get("variants", {}).get(served, {})
    names = {i["id"]: i.get("name", {}) for i in taxonomy.get("issues", [])}
    args = training.get("args", {})
    splits = training.get("splits", {})

    out = ["---", "language:", "- id", "library_name: onnxruntime", "pipeline_tag: text-classification", "tags:",
           "- multi-label-classification", "- onnx", "- indonesian", "- election-monitoring", "---", "",
           f"# {config.name} {config.version}", "",
           "Rawan tags Indonesian online news with electoral-risk issues (multi-label, sigmoid scores, one decision "
           "threshold per label). This card was written by the build from the files in this directory.", "",
           "| | |", "|---|---|",
           f"| base encoder | `{config.base_encoder}` |",
           f"| served ONNX graph | `{config.onnx_file}` (variant `{served}`; also at `onnx/model.onnx`) |",
           f"| windows | {config.max_length} tokens, a new window every {config.stride} tokens |",
           f"| pooling | token logits `{config.token_pooling}` within a window, `{config.pooling}` across windows |",
           f"| taxonomy | version {config.taxonomy_version}, {len(config.labels)} issues |",
           f"| created | {config.created} |", "",
           "## Labels and thresholds", "",
           "Output index, issue id, display names and the decision threshold tuned on the dev split for the served "
           "graph (a label is predicted when its probability is at least the threshold).", "",
           "| index | id | Indonesian | English | threshold |", "|---:|---|---|---|---:|"]
    for i, label in enumerate(config.labels):
        name = names.get(label, {})
        out.append(f"| {i} | `{label}` | {name.get('id', '')} | {name.get('en', '')} | "
                   f"{float(config.thresholds.get(label, 0.5)):.3f} |")

    out += ["", "## Training data", "",
            f"- data hash (sha256 of the training rows): `{training.get('data_hash', 'unknown')}`",
            "- split sizes: " + (", ".join(f"{k} {v}" for k, v in splits.items()) or "unknown")]
    for split, digest in training.get("split_ids_sha256", {}).items():
        out.append(f"- `{split}` rows sha256: `{digest}`")
    if args:
        out.append(f"- recipe: {args.get('epochs', '?')} epochs, seed {args.get('seed', '?')}, "
                   f"{args.get('freeze_layers', '?')} frozen encoder layers (full args in `training.json`)")

    out += ["", "## Metrics", "",
            f"Measured on the served graph `{variant.get('onnx_file', config.onnx_file)}` with the thresholds above "
            "(percent). The thresholds were tuned on dev, so dev figures are optimistic; test is the held-out "
            "estimate."]
    titles = {"test_v2": "test, corpus v2 (written in real outlets' shapes; the realistic held-out figure)",
              "test_v1": "test, corpus v1", "dev_v2": "dev, corpus v2 (selects recipes)", "dev": "dev, pooled",
              "test": "test, pooled"}
    for split, title in titles.items():
        if split in variant:
            out += ["", f"### {title}", "", *_split_table(variant[split], config.labels)]
    gate = metrics.get("gate", {})
    if gate:
        out += ["", "Quantised variants (served only if they pass the quality gate against fp32):", ""]
        out += [f"- `{k}`: {'passed' if g.get('passed') else 'failed'} ({g.get('detail', '')})"
                for k, g in gate.items()]

    out += ["", "## Intended use", "",
            "Triage of Indonesian election news for Bawaslu/Panwaslu analysts, journalists and election NGOs: "
            "which articles may report an electoral-risk issue, with scores to sort by. A person reads the article "
            "and decides; the labels are not findings of a violation.", "",
            "## Limits", "",
            "- Indonesian news prose only; other languages, social-media posts and transcripts were not measured.",
            "- Trained and measured on a small, written corpus (see the Rawan data card); expect lower figures on "
            "real scraped news, and re-measure before relying on a threshold.",
            "- Labels with little test support have wide uncertainty; check the support column above.",
            "- Long articles must be windowed and pooled as Rawan does (`model/text.py`, settings in "
            "`classifier.json`); one tokenizer call with truncation scores only the first window.",
            "- Regions (Kemendagri codes) and evidence sentences come from Rawan's runtime, not from this graph.",
            "",
            "## Files and how to load", "",
            "- `classifier.json`, `tokenizer.json`, `taxonomy.json` and the graph above: what Rawan serves "
            "(`rawan serve --model DIR`).",
            "- `config.json` (labels, `problem_type: multi_label_classification`), `tokenizer_config.json`, "
            "`special_tokens_map.json`: Hugging Face tools.",
            "- `onnx/model.onnx`: inputs `input_ids`, `attention_mask` (int64, [batch, sequence]); outputs "
            "`logits` [batch, labels] (one window) and `token_logits` [batch, sequence, labels]; score = sigmoid.",
            "- `metrics.json`, `training.json`: the full figures and the training record.", "",
            "```python",
            "import numpy as np, onnxruntime as ort",
            "from transformers import AutoTokenizer",
            "",
            "tok = AutoTokenizer.from_pretrained(DIR)",
            "session = ort.InferenceSession(f\"{DIR}/onnx/model.onnx\")",
            "enc = tok([\"Bawaslu menemukan amplop berisi uang jelang pencoblosan.\"], return_tensors=\"np\", "
            "truncation=True)",
            "logits = session.run([\"logits\"], {\"input_ids\": enc[\"input_ids\"], "
            "\"attention_mask\": enc[\"attention_mask\"]})[0]",
            "probs = 1 / (1 + np.exp(-logits))   # one window; compare with the thresholds above",
            "```", ""]
    return "\n".join(out)

