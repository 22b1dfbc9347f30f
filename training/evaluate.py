"""Multi-label metrics and per-label decision thresholds."""

from __future__ import annotations

import numpy as np

PRIMARY_METRIC = "micro_f1"


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """Micro/macro F1 and per-label precision, recall, F1 and support (0/1 arrays [n, labels])."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    no_issue = ~y_true.any(axis=1)
    return {
        "n": int(len(y_true)),
        "no_issue": {"n": int(no_issue.sum()), "flagged": int((no_issue & y_pred.any(axis=1)).sum())},
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "per_label": {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                              "support": int(s[i])} for i, label in enumerate(labels)},
    }


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per label, the threshold maximising F1 on the given (dev) split; ties go to the value nearest 0.5.

    A label with no positives in the split keeps 0.5: there is nothing to tune on.
    """
    grid = np.round(np.arange(0.05, 0.951, 0.025), 3) if grid is None else grid
    out = np.full(probs.shape[1], 0.5, dtype=np.float32)
    for j in range(probs.shape[1]):
        truth = y_true[:, j] > 0.5
        if not truth.any():
            continue
        best = (-1.0, 0.0)
        for t in grid:
            pred = probs[:, j] >= t
            tp = float((pred & truth).sum())
            f1 = 2 * tp / max(1.0, float(pred.sum() + truth.sum()))
            key = (round(f1, 6), -abs(t - 0.5))
            if key > best:
                best, out[j] = key, t
    return out


def format_report(report: dict, title: str = "") -> str:
    """A plain-text per-label table."""
    lines = [title] if title else []
    lines.append(f"{'label':<26}{'prec':>7}{'rec':>7}{'f1':>7}{'support':>9}")
    for label, m in report["per_label"].items():
        lines.append(f"{label:<26}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}{m['support']:>9d}")
    lines.append(f"{'micro-F1':<26}{report['micro_f1']:>21.3f}   (n={report['n']})")
    lines.append(f"{'macro-F1':<26}{report['macro_f1']:>21.3f}")
    ni = report.get("no_issue")
    if ni:
        share = ni["flagged"] / ni["n"] if ni["n"] else 0.0
        lines.append(f"{'no-issue articles flagged':<26}{ni['flagged']:>14d} of {ni['n']} ({share:.1%})")
    return "\n".join(lines)
