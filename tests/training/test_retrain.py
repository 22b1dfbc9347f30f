"""Retraining: merge and split rules, the gate, gated promotion, rejection, rollback, and crash safety (SIGKILL).

Models are tiny (2-layer random BERT, a few steps) on a synthetic corpus. Such a model learns little more than label
frequencies, so "better" and "worse" candidates come from right and wrong labels rather than from more training:
a champion trained on corrupted train/dev labels is beaten once analysts' corrections are in the store, and a
candidate trained on corrupted annotations is rejected against a champion trained on the right ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.synthetic import synthetic_corpus, synthetic_rows
from model.annotations import AnnotationStore, text_hash
from model.artifact import read_json
from model.registry import RETRAIN_LOCK, ChampionChanged, Registry, RegistryBusy, resolve_model_path
from rawan.cli import main
from training.gate import GateThresholds, evaluate_gate
from training.retrain import SplitPolicy, merge_annotations, retrain

REPO = Path(__file__).resolve().parents[2]
NAME = "tiny"
FAST = {"name": NAME, "base_encoder": "tiny-random", "max_length": 32, "stride": 24, "max_steps": 8,
        "batch_windows": 32, "max_train_windows": 2, "learning_rate": 3e-3, "head_learning_rate": 1e-2,
        "freeze_embeddings": False, "freeze_layers": 0, "bf16": False, "seed": 7, "quantize": False, "threads": 2}
TRUE = synthetic_corpus()
CORRUPT = [dict(r, issues=["data_pemilih"]) if r["split"] != "test" else r for r in TRUE]


def labels(rows: list[dict]) -> list[dict]:
    return [{"text": r["text"], "issues": r["issues"], "regions": r["regions"]} for r in rows]


def copy_models(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def quiet(_msg: str) -> None:
    pass


# -- unit: merge, split, gate, registry CAS ---------------------------------------------------------------------
def fake_annotation(i: int, text: str, issues: list[str]) -> dict:
    return {"id": i, "text": text, "text_hash": text_hash(text), "title": None, "issues": issues, "regions": []}


def test_merge_store_wins_test_split_fixed_and_new_items_split_deterministically():
    corpus = synthetic_corpus()
    test_row = next(r for r in corpus if r["split"] == "test")
    train_row = next(r for r in corpus if r["split"] == "train")
    new = [fake_annotation(100 + k, f"Artikel baru nomor {k} tentang pilkada.", ["hoaks"]) for k in range(300)]
    anns = [fake_annotation(1, "  " + test_row["text"] + "\n", ["ujaran_kebencian"]),
            fake_annotation(2, train_row["text"], ["politik_uang", "hoaks"])] + new
    policy = SplitPolicy(seed=5, recent_share=0.2, dev_share=0.15)
    merged = merge_annotations(corpus, anns, policy)

    assert merged.stats["corrected_corpus_rows"] == {"train": 1, "dev": 0, "test": 1}
    # the test split is exactly the corpus's (same ids), with the store's labels where it has them
    assert [r["id"] for r in merged.split("test")] == [r["id"] for r in corpus if r["split"] == "test"]
    assert next(r for r in merged.rows if r["id"] == test_row["id"])["issues"] == ["ujaran_kebencian"]
    assert next(r for r in merged.rows if r["id"] == train_row["id"])["issues"] == ["politik_uang", "hoaks"]
    # new texts never land in test; recent ones are held out of training
    assert set(merged.assignment.values()) <= {"train", "dev", "recent"} and len(merged.assignment) == 300
    assert not {r["id"] for r in merged.recent} & {r["id"] for r in merged.rows}
    shares = {s: list(merged.assignment.values()).count(s) / 300 for s in ("recent", "dev")}
    assert 0.12 < shares["recent"] < 0.28 and 0.07 < shares["dev"] < 0.2
    # deterministic: same seed, any order -> same assignment; another seed -> another one
    again = merge_annotations(corpus, list(reversed(anns)), policy)
    assert again.assignment == merged.assignment
    assert merge_annotations(corpus, anns, SplitPolicy(seed=6)).assignment != merged.assignment


def report(micro: float, per_label: dict[str, tuple[float, int]]) -> dict:
    return {"n": 40, "micro_f1": micro, "macro_f1": micro,
            "per_label": {k: {"precision": f, "recall": f, "f1": f, "support": s} for k, (f, s) in per_label.items()}}


@pytest.mark.parametrize("micro,label_f1,passed", [
    (0.796, 0.80, True),    # micro -0.4 pt, label -5.0 pt: within limits
    (0.794, 0.85, False),   # micro -0.6 pt
    (0.800, 0.799, False),  # label -5.1 pt
])
def test_gate_rules(micro, label_f1, passed):
    champion = {"test": report(0.80, {"a": (0.85, 10), "rare": (0.9, 0)})}
    candidate = {"test": report(micro, {"a": (label_f1, 10), "rare": (0.0, 0)})}
    result = evaluate_gate(candidate, champion, GateThresholds())
    assert result.passed is passed
    assert all(c.label != "rare" for c in result.checks)          # no support: reported, not gated
    if not passed:
        assert result.summary().startswith("FAILED") and result.failures


def test_gate_thresholds_are_configurable_and_first_model_passes():
    champion = {"test": report(0.80, {"a": (0.85, 10)}), "recent": report(0.9, {"a": (0.9, 3)})}
    candidate = {"test": report(0.78, {"a": (0.78, 10)}), "recent": report(0.5, {"a": (0.5, 3)})}
    assert not evaluate_gate(candidate, champion).passed
    assert evaluate_gate(candidate, champion, GateThresholds(max_micro_f1_drop=2.5, max_label_f1_drop=8)).passed
    strict = GateThresholds(max_micro_f1_drop=2.5, max_label_f1_drop=8, gate_recent=True, recent_min_items=10)
    assert not evaluate_gate(candidate, champion, strict).passed
    assert evaluate_gate(candidate, None).passed
    with pytest.raises(ValueError):
        GateThresholds(max_micro_f1_drop=-1)


# -- with models --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def champion_models(tmp_path_factory) -> Path:
    """A registry whose champion 'v0' was trained on corrupted train/dev labels (the test split is right)."""
    from training.args import TrainingArgs
    from training.build import build_model

    models = tmp_path_factory.mktemp("retrain") / "models"
    build_model(TrainingArgs.from_dict(FAST), CORRUPT, models, version="v0", log=quiet)
    Registry(models, NAME).promote("v0", reason="test champion")
    return models


@pytest.fixture(scope="module")
def improved(champion_models, tmp_path_factory):
    """Analysts correct the corrupted train/dev labels and add 20 new articles; retrain must promote."""
    work = tmp_path_factory.mktemp("improved")
    models = copy_models(champion_models, work / "models")
    store = AnnotationStore(work / "annotations.db")
    store.add(labels([r for r in TRUE if r["split"] != "test"]) + labels(synthetic_rows(20, 99, "new")),
              annotator="analyst", source="test")
    result = retrain(models, NAME, corpus=CORRUPT, annotations=store.current(), log=quiet)
    return models, result


@pytest.mark.slow
def test_improving_retrain_passes_gate_and_is_promoted(improved, capsys):
    models, result = improved
    reg = Registry(models, NAME)
    assert result.gate.passed and result.decision == "promote" and result.promoted
    assert reg.champion() == result.version and reg.aliases()["previous"] == "v0"
    assert resolve_model_path(f"{NAME}@champion", models).name == result.version   # what a reload resolves
    from model.runtime import Classifier

    assert Classifier.load(reg.champion_path(), regions=False).info["version"] == result.version
    # the report is saved with the version: JSON + table, both models, the split assignment of new items
    path = reg.path(result.version)
    gate = read_json(path / "gate.json")
    assert gate["champion"] == "v0" and gate["gate"]["passed"] and gate["decision"] == "promote"
    assert gate["candidate_metrics"]["test"]["n"] == gate["champion_metrics"]["test"]["n"] == 40
    assert gate["data"]["corrected_corpus_rows"] == {"train": 100, "dev": 40, "test": 0}
    items = gate["assignment"]["items"]
    assert len(items) == 20 and set(items.values()) <= {"train", "dev", "recent"}
    assert gate["assignment"]["seed"] == 13 and gate["training_args"]["max_steps"] == FAST["max_steps"]
    text = (path / "gate.txt").read_text()
    assert "champion" in text and "candidate" in text and "politik_uang" in text and "decision: promote" in text
    assert reg.partials() == []
    assert main(["models", "list", "--models-dir", str(models), "--name", NAME]) == 0
    out = capsys.readouterr().out
    assert f"{result.version}" in out and "champion" in out and "passed" in out


@pytest.mark.slow
def test_worse_candidate_is_rejected_and_champion_stays(improved, tmp_path, capsys):
    """Corrupted annotations (every train/dev text relabelled with a wrong issue) give a worse candidate."""
    models = copy_models(improved[0], tmp_path / "models")
    reg = Registry(models, NAME)
    champion, before = reg.champion(), reg.aliases()
    db = tmp_path / "bad.db"
    wrong = [dict(a, issues=["data_pemilih"]) for a in labels([r for r in TRUE if r["split"] != "test"])]
    AnnotationStore(db).add(wrong, annotator="mallory", source="test")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in TRUE))
    rc = main(["retrain", "--models-dir", str(models), "--name", NAME, "--db", str(db), "--data", str(corpus)])
    assert rc == 3                                        # rejected by the gate
    out = capsys.readouterr().out
    assert "gate: FAILED" in out and "decision: reject" in out
    assert reg.champion() == champion and reg.aliases() == before
    rejected = [v for v in reg.versions() if v not in (champion, "v0")]
    assert len(rejected) == 1
    gate = reg.gate(rejected[0])
    assert gate["decision"] == "reject" and not gate["gate"]["passed"] and gate["champion"] == champion
    assert reg.summary(rejected[0])["gate"] == "rejected"


@pytest.mark.slow
def test_rollback_and_manual_promote(improved, tmp_path, capsys):
    models = copy_models(improved[0], tmp_path / "models")
    reg = Registry(models, NAME)
    new = reg.champion()
    args = ["--models-dir", str(models), "--name", NAME]
    assert main(["models", "rollback", *args]) == 0
    assert reg.champion() == "v0" and reg.aliases()["previous"] == new
    assert main(["models", "rollback", *args]) == 0               # rollback of a rollback swaps back
    assert reg.champion() == new
    assert main(["models", "promote", "v0", *args]) == 0
    assert reg.champion() == "v0" and reg.aliases()["history"][-1]["reason"] == "manual promote"
    assert main(["models", "promote", "nope", *args]) == 2          # unknown version: error, nothing changed
    assert reg.champion() == "v0"
    assert main(["models", "show", new, *args]) == 0
    assert '"decision": "promote"' in capsys.readouterr().out


@pytest.mark.slow
def test_promotion_is_compare_and_swap(improved, tmp_path):
    models = copy_models(improved[0], tmp_path / "models")
    reg = Registry(models, NAME)
    with pytest.raises(ChampionChanged):
        reg.promote("v0", expect_champion="someone-else")
    assert reg.champion() == improved[1].version
    reg.promote("v0", expect_champion=improved[1].version)
    assert reg.champion() == "v0"


@pytest.mark.slow
def test_concurrent_retrain_is_refused(champion_models, tmp_path):
    models = copy_models(champion_models, tmp_path / "models")
    reg = Registry(models, NAME)
    with reg.lock(file=RETRAIN_LOCK):
        with pytest.raises(RegistryBusy):
            retrain(models, NAME, corpus=TRUE, log=quiet)
    assert reg.versions() == ["v0"]


@pytest.mark.slow
@pytest.mark.parametrize("marker,extra", [("training ", ["--max-steps", "100000"]), ("evaluating", [])])
def test_sigkill_mid_retrain_leaves_registry_valid(champion_models, tmp_path, marker, extra):
    """Kill `rawan retrain` while it trains, and while it evaluates the built candidate: the champion, the alias
    file and the version list are untouched; leftovers are invisible and the next retrain cleans them up."""
    models = copy_models(champion_models, tmp_path / "models")
    reg = Registry(models, NAME)
    before = (reg.aliases(), reg.versions())
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in TRUE))
    cmd = [sys.executable, "-m", "rawan.cli", "retrain", "--models-dir", str(models), "--name", NAME,
           "--db", str(tmp_path / "none.db"), "--data", str(corpus), *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    try:
        deadline = time.time() + 240
        for line in proc.stdout:
            seen.append(line)
            if line.startswith(marker) or time.time() > deadline:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any(s.startswith(marker) for s in seen), "".join(seen)
    assert proc.returncode == -signal.SIGKILL

    assert (reg.aliases(), reg.versions()) == before
    assert all(p.name.startswith(".") for p in reg.partials())
    from model.runtime import Classifier

    assert Classifier.load(reg.champion_path(), regions=False).info["version"] == "v0"
    with reg.lock(wait=False, file=RETRAIN_LOCK):                    # the dead process's lock is gone
        pass
    # the next retrain removes the leftovers and works normally
    result = retrain(models, NAME, corpus=TRUE, promote=False, log=quiet)
    assert result.decision in ("hold", "reject") and not result.promoted
    assert reg.partials() == [] and reg.champion() == "v0"
    assert reg.versions() == sorted(["v0", result.version])


def test_a_candidate_is_gated_for_the_variant_the_champion_serves(tiny_model_dir, tmp_path):
    """A champion served as OpenVINO bf16 (chosen by `rawan quantize`) must not be replaced by an fp32-only one
    without anyone asking: the candidate's build gates the same variant; `--no-quantize` (quantize=False) skips it."""
    from model.artifact import write_json
    from training.retrain import candidate_args

    champion = shutil.copytree(tiny_model_dir, tmp_path / "champion")
    assert not candidate_args(champion, "tiny", {}).quantize  # an fp32 champion: nothing to carry over
    metrics = read_json(champion / "metrics.json")
    write_json(champion / "metrics.json", {**metrics, "served_variant": "openvino_bf16"})
    args = candidate_args(champion, "tiny", {"epochs": 1.0})
    assert args.quantize and args.extra["quantize_variants"] == ["openvino_bf16"] and args.epochs == 1.0
    assert not candidate_args(champion, "tiny", {"quantize": False}).quantize
    assert not candidate_args(None, "tiny", {}).quantize
