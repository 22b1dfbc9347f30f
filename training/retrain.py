"""Retrain from the corpus plus the annotation store, and promote the candidate only through the gate.

Order of work, chosen so that a crash at any point leaves the registry valid and the champion untouched:
1. take the retrain lock (one retrain per model name; the kernel drops it if this process dies), remove staging
   leftovers of killed runs;
2. merge the corpus and the store (the store wins per text hash), keep the corpus's splits, spread new texts over
   train / dev / recent deterministically;
3. build the candidate inside `models/<name>/.staging-<version>/` (invisible to the registry);
4. score candidate and champion on the same test split and recent slice, apply the gate, write gate.json/gate.txt
   into the candidate;
5. rename the finished candidate into `models/<name>/<version>` (atomic), then, if the gate passed, switch the
   champion alias (atomic os.replace, and only if the champion is still the one compared against).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from model.artifact import read_json, write_json
from model.registry import RETRAIN_LOCK, STAGING_PREFIX, ChampionChanged, Registry
from training.gate import GateResult, GateThresholds, evaluate_gate, format_gate

Log = Callable[[str], None]


@dataclass(frozen=True)
class SplitPolicy:
    """Where texts that are not in the corpus go. A text's place depends only on (seed, text hash), so it never
    moves between retrains (a "recent" item is never trained on later) and the assignment is reproducible."""

    seed: int = 13
    recent_share: float = 0.2
    dev_share: float = 0.15

    def __post_init__(self) -> None:
        if not (0 <= self.recent_share < 1 and 0 <= self.dev_share < 1):
            raise ValueError("recent_share and dev_share must be in [0, 1)")

    def _u(self, salt: str, text_hash: str) -> float:
        digest = hashlib.sha256(f"{self.seed}:{salt}:{text_hash}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2 ** 64

    def assign(self, text_hash: str) -> str:
        """'recent' with probability recent_share, else 'dev' with dev_share, else 'train' (independent draws)."""
        if self._u("recent", text_hash) < self.recent_share:
            return "recent"
        return "dev" if self._u("dev", text_hash) < self.dev_share else "train"


@dataclass
class MergeResult:
    rows: list[dict]                       # train/dev/test rows for build_model
    recent: list[dict]                     # new annotations held out for evaluation only
    assignment: dict[str, str]             # text hash -> split, for every store item not in the corpus
    stats: dict = field(default_factory=dict)

    def split(self, name: str) -> list[dict]:
        return self.recent if name == "recent" else [r for r in self.rows if r["split"] == name]


def merge_annotations(corpus: list[dict], annotations: list[dict], policy: SplitPolicy = SplitPolicy()) -> MergeResult:
    """Corpus rows keep their split (the test split stays fixed); a store annotation of the same text replaces the
    row's labels; store texts not in the corpus are assigned by `policy`."""
    from model.annotations import text_hash

    by_hash = {a["text_hash"]: a for a in annotations}
    corrected = {"train": 0, "dev": 0, "test": 0}
    used: set[str] = set()
    rows = []
    for r in corpus:
        h = text_hash(r["text"])
        a = by_hash.get(h)
        if a is not None:
            used.add(h)
            corrected[r["split"]] = corrected.get(r["split"], 0) + 1
            r = {**r, "issues": list(a["issues"]), "regions": a["regions"], "title": a.get("title") or r.get("title"),
                 "annotation_id": a["id"]}
        rows.append(r)
    assignment: dict[str, str] = {}
    recent = []
    for a in annotations:
        if a["text_hash"] in used:
            continue
        split = policy.assign(a["text_hash"])
        assignment[a["text_hash"]] = split
        row = {"id": f"ann-{a['text_hash'][:16]}", "text": a["text"], "title": a.get("title"),
               "issues": list(a["issues"]), "regions": a["regions"], "split": split, "source": "annotation",
               "annotation_id": a["id"]}
        (recent if split == "recent" else rows).append(row)
    new = {s: sum(1 for v in assignment.values() if v == s) for s in ("train", "dev", "recent")}
    stats = {"corpus_rows": len(corpus), "annotations": len(annotations), "corrected_corpus_rows": corrected,
             "new_items": new, "splits": {s: sum(1 for r in rows if r["split"] == s) for s in ("train", "dev", "test")}
             | {"recent": len(recent)}}
    return MergeResult(rows, recent, assignment, stats)


def evaluate_model(directory: Path, slices: dict[str, list[dict]], threads: int | None = None) -> dict[str, dict]:
    """Per slice, the multilabel report of a model as served (its ONNX variant, its thresholds, its labels)."""
    from model.runtime import Classifier
    from training.build import score_split
    from training.evaluate import multilabel_report

    clf = Classifier.load(directory, regions=False, threads=threads)
    out = {}
    for name, rows in slices.items():
        if not rows:
            continue
        y = np.array([[1 if label in set(r["issues"]) else 0 for label in clf.labels] for r in rows])
        pred = score_split(clf, rows) >= clf.thresholds
        out[name] = multilabel_report(y, pred, clf.labels)
    return out


def candidate_args(champion_dir: Path | None, name: str, overrides: dict):
    """The champion's training args (so a tiny champion retrains tiny), with CLI overrides, under this name.

    If the champion serves a faster variant (`rawan quantize` chose it on this machine), the candidate is built
    with that same variant gated (`quantize` on, that variant only), unless the overrides say `quantize`: a
    retrain must not quietly make serving several times slower.
    """
    from training.args import TrainingArgs

    base = read_json(champion_dir / "training.json").get("args", {}) if champion_dir else {}
    names = set(TrainingArgs.__dataclass_fields__)
    merged = {**{k: v for k, v in base.items() if k in names}, **overrides, "name": name}
    served = read_json(champion_dir / "metrics.json").get("served_variant") if champion_dir else None
    if served and served != "fp32" and "quantize" not in overrides:
        merged["quantize"] = True
        merged["extra"] = {**merged.get("extra", {}), "quantize_variants": [served]}
    return TrainingArgs.from_dict(merged)


def unique_version(reg: Registry) -> str:
    from training.build import new_version

    base = version = new_version()
    n = 1
    while (reg.root / version).exists() or (reg.root / f"{STAGING_PREFIX}{version}").exists():
        n += 1
        version = f"{base}-{n}"
    return version


@dataclass
class RetrainResult:
    version: str
    path: Path
    champion_before: str | None
    promoted: bool
    gate: GateResult
    decision: str
    report_text: str
    report: dict = field(repr=False, default_factory=dict)


def retrain(models_dir: str | Path, name: str, *, corpus: list[dict] | None = None,
            annotations: list[dict] | None = None, overrides: dict | None = None,
            policy: SplitPolicy = SplitPolicy(), thresholds: GateThresholds = GateThresholds(), promote: bool = True,
            log: Log = print) -> RetrainResult:
    """Build a candidate from corpus + annotations, gate it against the champion, promote it if it passes.

    `corpus` defaults to the repo corpus and seeds, `annotations` to nothing (the CLI passes `store.current()`).
    A rejected candidate stays as a version (with its gate report) but never becomes champion.
    """
    from training.build import build_model
    from training.data import load_corpus

    reg = Registry(models_dir, name)
    overrides = dict(overrides or {})
    with reg.lock(wait=False, file=RETRAIN_LOCK):
        stale = reg.clean_partials(prefix=STAGING_PREFIX)
        if stale:
            log(f"removed leftovers of interrupted retrains: {', '.join(stale)}")
        champion = reg.champion()
        champion_dir = reg.path(champion) if champion else None
        args = candidate_args(champion_dir, name, overrides)
        if args.quantize and "quantize" not in overrides:
            log(f"champion {champion} serves {args.extra['quantize_variants'][0]}: the candidate is gated for it "
                "too (`--no-quantize` to skip)")
        merged = merge_annotations(load_corpus() if corpus is None else corpus, annotations or [], policy)
        if not merged.split("test"):
            raise ValueError("the corpus has no test split: the gate needs a fixed test set")
        version = unique_version(reg)
        staging = reg.root / f"{STAGING_PREFIX}{version}"
        s = merged.stats
        log(f"retrain {name}: {s['annotations']} annotations (relabel {s['corrected_corpus_rows']} corpus rows, "
            f"new {s['new_items']}); building candidate {version} against champion {champion}")
        try:
            built = build_model(args, merged.rows, staging, version=version, log=log)

            log("evaluating candidate and champion on the test split and the recent slice")
            slices = {"test": merged.split("test"), "recent": merged.recent}
            threads = args.threads or None
            cand = evaluate_model(built, slices, threads)
            champ = evaluate_model(champion_dir, slices, threads) if champion_dir else None
            gate = evaluate_gate(cand, champ, thresholds)
            decision = "reject" if not gate.passed else ("promote" if promote else "hold")
            text = format_gate(cand, champ, gate, candidate_name=version, champion_name=champion)
            text += f"\ndecision: {decision}\n"
            report = {
                "version": version, "name": name, "champion": champion, "decision": decision,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "gate": gate.to_dict(), "thresholds": thresholds.to_dict(),
                "candidate_metrics": cand, "champion_metrics": champ,
                "data": {**merged.stats, "data_hash": read_json(built / "training.json").get("data_hash")},
                "assignment": {**asdict(policy), "items": merged.assignment,
                               "rule": "sha256(seed:salt:text_hash) draws: recent, then dev, else train"},
                "training_args": args.to_dict(), "overrides": overrides,
            }
            write_json(built / "gate.json", report)
            (built / "gate.txt").write_text(text, encoding="utf-8")
            final = reg.root / version
            os.rename(built, final)          # the complete candidate appears in one step
            shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)   # a failed build leaves nothing behind (a kill: next run)
            raise
        log(text)

        promoted = False
        if decision == "promote":
            try:
                reg.promote(version, reason=f"retrain: {gate.summary()}", expect_champion=champion)
                promoted = True
                log(f"champion -> {version} (previous: {champion})")
            except ChampionChanged as err:
                log(f"not promoted: {err}")
        elif decision == "reject":
            log(f"candidate {version} rejected; champion stays {champion}")
        return RetrainResult(version, final, champion, promoted, gate, decision, text, report)
