"""The promotion gate: a retrained candidate replaces the champion only if it is not measurably worse.

Both models are scored on the same rows (the corpus's fixed test split, optionally the "recent" slice of new
annotations), each with its own served ONNX variant and its own dev-tuned thresholds, i.e. exactly as each would be
served. Drops are in F1 points (0-100). Kept apart from retraining so the rule can be read and tested on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GateThresholds:
    """How much worse than the champion a candidate may measure and still be promoted.

    `min_label_support`: a label with fewer positives than this in the test split is reported but not gated (its F1
    is noise). `gate_recent`: also apply the micro-F1 rule to the recent slice once it has `recent_min_items` rows.
    """

    max_micro_f1_drop: float = 0.5
    max_label_f1_drop: float = 5.0
    min_label_support: int = 1
    gate_recent: bool = False
    recent_min_items: int = 20

    def __post_init__(self) -> None:
        if self.max_micro_f1_drop < 0 or self.max_label_f1_drop < 0:
            raise ValueError("gate drops must be >= 0 (points of F1)")
        if self.min_label_support < 0 or self.recent_min_items < 1:
            raise ValueError("min_label_support must be >= 0 and recent_min_items >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Check:
    """One rule applied to one number: champion vs candidate F1 (0-1), drop in points, allowed drop."""

    rule: str
    slice: str
    label: str | None
    champion: float
    candidate: float
    limit: float
    passed: bool

    @property
    def drop(self) -> float:
        return round(100 * (self.champion - self.candidate), 3)

    def to_dict(self) -> dict:
        return {**asdict(self), "drop_points": self.drop}


@dataclass
class GateResult:
    passed: bool
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.note and not self.checks:
            return self.note
        if self.passed:
            return "PASSED: " + (self.note or f"{len(self.checks)} checks within limits")
        return "FAILED: " + "; ".join(
            f"{c.rule}{'[' + c.label + ']' if c.label else ''} on {c.slice} dropped {c.drop:.2f} pt (max {c.limit})"
            for c in self.failures)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "summary": self.summary(), "note": self.note,
                "checks": [c.to_dict() for c in self.checks]}


def evaluate_gate(candidate: dict[str, dict], champion: dict[str, dict] | None,
                  thresholds: GateThresholds = GateThresholds()) -> GateResult:
    """Apply the gate to `multilabel_report`s keyed by slice ("test", "recent"); no champion means it passes."""
    if champion is None:
        return GateResult(True, note="no champion to compare against: the first model is promoted")
    checks: list[Check] = []
    cand, champ = candidate["test"], champion["test"]
    checks.append(_check("micro_f1", "test", None, champ["micro_f1"], cand["micro_f1"], thresholds.max_micro_f1_drop))
    for label, m in champ["per_label"].items():
        if label not in cand["per_label"] or m["support"] < max(1, thresholds.min_label_support):
            continue
        checks.append(_check("label_f1", "test", label, m["f1"], cand["per_label"][label]["f1"],
                             thresholds.max_label_f1_drop))
    recent_c, recent_h = candidate.get("recent"), champion.get("recent")
    if thresholds.gate_recent and recent_c and recent_h and recent_c["n"] >= thresholds.recent_min_items:
        checks.append(_check("micro_f1", "recent", None, recent_h["micro_f1"], recent_c["micro_f1"],
                             thresholds.max_micro_f1_drop))
    return GateResult(all(c.passed for c in checks), checks)


def _check(rule: str, slice_: str, label: str | None, champion: float, candidate: float, limit: float) -> Check:
    drop = 100 * (champion - candidate)
    return Check(rule, slice_, label, float(champion), float(candidate), limit, bool(drop <= limit + 1e-9))


def format_gate(candidate: dict[str, dict], champion: dict[str, dict] | None, result: GateResult, *,
                candidate_name: str, champion_name: str | None) -> str:
    """Plain-text report: per slice a per-label F1 table of both models, the drops, and the decision."""
    lines = [f"candidate {candidate_name}  vs  champion {champion_name or '(none)'}", ""]
    gated = {(c.slice, c.label) for c in result.checks}
    for slice_, cand in candidate.items():
        champ = (champion or {}).get(slice_)
        lines.append(f"[{slice_}]  n={cand['n']}")
        lines.append(f"{'label':<26}{'support':>8}{'champion':>10}{'candidate':>11}{'delta pt':>10}  gate")
        for label, m in cand["per_label"].items():
            h = champ["per_label"].get(label) if champ else None
            lines.append(_row(label, m["support"], h["f1"] if h else None, m["f1"], (slice_, label) in gated))
        for key in ("micro_f1", "macro_f1"):
            lines.append(_row(key.replace("_", "-"), cand["n"], champ[key] if champ else None, cand[key],
                              key == "micro_f1" and (slice_, None) in gated))
        lines.append("")
    lines.append(f"gate: {result.summary()}")
    return "\n".join(lines)


def _row(name: str, support: int, champ: float | None, cand: float, gated: bool) -> str:
    h = f"{champ:>10.3f}" if champ is not None else f"{'-':>10}"
    d = f"{100 * (cand - champ):>+10.2f}" if champ is not None else f"{'-':>10}"
    return f"{name:<26}{support:>8d}{h}{cand:>11.3f}{d}  {'yes' if gated else ''}"
