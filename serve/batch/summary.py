"""The end-of-job summary, computed from what the output directory holds (so it covers resumed runs too)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from serve.batch.ledger import error_parts, iter_part_rows, output_parts


def _reason_class(reason: str) -> str:
    """'malformed JSON (Expecting value)' -> 'malformed JSON': group error reasons without their details."""
    return re.sub(r"\s*[(:].*$", "", reason).replace(" at byte", "").strip() or reason


def summarize(out_dir: str | Path) -> dict[str, Any]:
    """Counts over every committed row: scored articles, per label, per province, error rows and duplicates."""
    labels: Counter[str] = Counter()
    provinces: Counter[str] = Counter()
    rows = scored = error_rows = text_dups = windows = 0
    for path in output_parts(out_dir):
        for r in iter_part_rows(path, ["labels", "regions", "error", "duplicate_of", "windows"]):
            rows += 1
            if r["error"]:
                error_rows += 1
            elif r["duplicate_of"]:
                text_dups += 1
            else:
                scored += 1
                windows += r["windows"] or 0
                labels.update(r["labels"] or [])
                names = {f'{g["province_code"]} {g["province_name"]}' for g in r["regions"] or []}
                provinces.update(names or ["(no region)"])
    errors: Counter[str] = Counter()
    duplicates = 0
    for path in error_parts(out_dir):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                e = json.loads(line)
                if e["kind"] == "duplicate":
                    duplicates += 1
                else:
                    errors[_reason_class(e["reason"])] += 1
    return {"rows": rows, "scored": scored, "error_rows": error_rows, "text_duplicate_rows": text_dups,
            "windows": windows, "bad_rows": sum(errors.values()), "errors_by_reason": dict(errors.most_common()),
            "duplicates_reported": duplicates, "labels": dict(labels.most_common()),
            "provinces": dict(provinces.most_common())}


def format_summary(summary: dict[str, Any], run: dict[str, Any] | None = None, top: int = 40) -> str:
    """A human-readable report of `summarize` (plus this run's throughput)."""
    lines = [f"rows {summary['rows']}: scored {summary['scored']}, error rows {summary['error_rows']}, "
             f"text duplicates {summary['text_duplicate_rows']}; bad input rows {summary['bad_rows']}, "
             f"duplicate ids/texts reported {summary['duplicates_reported']}"]
    if run:
        lines.append(f"this run: read {run['read']}, scored {run['scored']} in {run['seconds']:.1f} s "
                     f"({run['articles_per_s']:.2f} articles/s), skipped as committed {run['skipped_committed']}, "
                     f"errors {run['errors']}, duplicates {run['duplicates']}")
    if summary["errors_by_reason"]:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in summary["errors_by_reason"].items()))
    lines.append("labels:")
    lines += [f"  {k:<28} {v}" for k, v in summary["labels"].items()] or ["  (none)"]
    lines.append("provinces:")
    items = list(summary["provinces"].items())
    lines += [f"  {k:<40} {v}" for k, v in items[:top]] or ["  (none)"]
    if len(items) > top:
        lines.append(f"  ... {len(items) - top} more")
    return "\n".join(lines)
