"""Annotation files in and out: Rawan JSONL, Label Studio JSON exports and doccano JSONL -> the annotation store.

Every problem is reported with file, line and reason. The store's own validation (`AnnotationStore.validate`) stays
the last word, so a record the API would refuse is refused here too. Import is all-or-nothing unless `partial`.
Export writes Rawan JSONL (re-importable) and Label Studio tasks pre-filled with the current model's predictions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

# The Label Studio mapping lives in model/ so that the server can use it without the training package.
from model.label_studio import (LabelResolver, LabelStudioConfig, _key, _label_studio, _map,  # noqa: F401
                                _pick_annotation, _text_checks, default_resolver, label_studio_config,
                                parse_label_studio_task)

FORMATS = ("rawan", "label-studio", "doccano")


@dataclass(frozen=True)
class ImportProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportResult:
    """Parsed records (with their source line) and everything wrong or skipped, before anything is written."""

    file: str
    format: str
    records: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    skipped: list[ImportProblem] = field(default_factory=list)   # not errors: e.g. unannotated Label Studio tasks
    added: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (f"{self.file} ({self.format}): {len(self.records)} valid, {len(self.problems)} rejected, "
                f"{len(self.skipped)} skipped, {len(self.added)} written")


# -- reading ---------------------------------------------------------------------------------------------------
def detect_format(path: str | Path) -> str:
    """Guess the format from the first record: Label Studio tasks have `data`, doccano rows `label`(s)."""
    first = next(iter(_json_items(Path(path))), (0, None))[1]
    if isinstance(first, dict) and "data" in first and ("annotations" in first or "predictions" in first):
        return "label-studio"
    if isinstance(first, dict) and ("label" in first or "labels" in first) and "issues" not in first:
        return "doccano"
    return "rawan"


def _json_items(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, object) for a JSON array file or a JSONL file; a syntax error yields (line, JSONDecodeError)."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _array_items(text)
        return
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as err:
                yield n, err


def _array_items(text: str) -> Iterator[tuple[int, Any]]:
    """Walk a top-level JSON array element by element, remembering the line each element starts on."""
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return
        line = text.count("\n", 0, i) + 1
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as err:
            yield line, err
            return
        yield line, obj


def read_annotations(path: str | Path, fmt: str = "auto", *, resolver: LabelResolver,
                     ls_config: LabelStudioConfig | None = None) -> ImportResult:
    """Parse and map a file; nothing is validated against the store or written yet."""
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} or auto")
    result = ImportResult(str(path), fmt)
    parse = {"rawan": _rawan, "label-studio": _label_studio, "doccano": _doccano}[fmt]
    for line, obj in _json_items(path):
        if isinstance(obj, json.JSONDecodeError):
            result.problems.append(ImportProblem(str(path), line, f"invalid JSON ({obj.msg})"))
            continue
        if not isinstance(obj, dict):
            result.problems.append(ImportProblem(str(path), line, "expected a JSON object"))
            continue
        record, reasons, skip = parse(obj, resolver, ls_config or LabelStudioConfig())
        if skip:
            result.skipped.append(ImportProblem(str(path), line, skip))
        elif reasons:
            result.problems.extend(ImportProblem(str(path), line, r) for r in reasons)
        else:
            result.records.append(record)
            result.lines.append(line)
    return result


def _rawan(obj: dict, resolver: LabelResolver, _cfg) -> tuple[dict, list[str], str | None]:
    """Rawan JSONL: {"text", "title"?, "issues": [ids], "regions": [codes or {"code": ...}]} (corpus rows too)."""
    text, title = obj.get("text"), obj.get("title")
    reasons = _text_checks(text, title)
    labels: dict[str, list[str]] = {"issues": [], "regions": []}
    for kind in ("issues", "regions"):
        values = obj.get(kind) or []
        if not isinstance(values, list):
            reasons.append(f"{kind} must be a list")
        else:
            _map(values, kind, resolver, labels, reasons)
    return {"text": text, "title": title, **labels}, reasons, None


def _doccano(obj: dict, resolver: LabelResolver, _cfg) -> tuple[dict, list[str], str | None]:
    """doccano text classification: {"text", "label": [...]} with issue labels and optional region labels."""
    text, title = obj.get("text"), obj.get("title")
    reasons = _text_checks(text, title)
    raw = obj.get("label", obj.get("labels", []))
    if isinstance(raw, str):
        raw = [raw]
    labels: dict[str, list[str]] = {"issues": [], "regions": []}
    if not isinstance(raw, list):
        reasons.append("label must be a list of category names")
        raw = []
    for v in raw:
        if isinstance(v, list):
            reasons.append(f"span label {v!r}: only text classification exports are supported")
        elif resolver.issue(v) is not None:
            _map([v], "issues", resolver, labels, reasons)
        elif resolver.region(v) is not None:
            _map([v], "regions", resolver, labels, reasons)
        else:
            reasons.append(f"unknown label {v!r} (not an issue id/name nor a region code/name)")
    return {"text": text, "title": title, **labels}, reasons, None


# -- writing into the store --------------------------------------------------------------------------------------
def import_file(path: str | Path, store, *, fmt: str = "auto", partial: bool = False, annotator: str = "import",
                dry_run: bool = False, ls_config: LabelStudioConfig | None = None) -> ImportResult:
    """Read, validate against the store's rules, then write all valid records in one transaction.

    Without `partial`, any problem means nothing is written; with it, the valid rest goes in.
    """
    from model.annotations import AnnotationError

    result = read_annotations(path, fmt, resolver=default_resolver(store), ls_config=ls_config)
    try:
        store.validate(result.records)
    except AnnotationError as err:
        bad = {}
        for index, reason in err.errors:
            bad.setdefault(index, []).append(reason)
        for index in sorted(bad):
            result.problems.extend(ImportProblem(result.file, result.lines[index], r) for r in bad[index])
        keep = [i for i in range(len(result.records)) if i not in bad]
        result.records = [result.records[i] for i in keep]
        result.lines = [result.lines[i] for i in keep]
    result.problems.sort(key=lambda p: p.line)
    if dry_run or not result.records or (result.problems and not partial):
        return result
    result.added = store.add(result.records, annotator=annotator, source=f"import:{result.format}")
    return result


# -- export ------------------------------------------------------------------------------------------------------
def export_rawan(rows: Iterable[dict]) -> Iterator[str]:
    """Store rows as Rawan JSONL lines (regions as codes; re-importable with `rawan annotations import`)."""
    for r in rows:
        yield json.dumps({"id": f"ann-{r['id']}", "text": r["text"], "title": r.get("title"), "issues": r["issues"],
                          "regions": [g["code"] if isinstance(g, dict) else g for g in r["regions"]],
                          "annotator": r.get("annotator"), "source": r.get("source"), "created": r.get("created"),
                          "text_hash": r.get("text_hash")}, ensure_ascii=False)


def label_studio_tasks(items: list[dict], classifier, *, values: str = "names", lang: str = "id",
                       resolver: LabelResolver | None = None) -> list[dict]:
    """Label Studio tasks whose `predictions` are the model's labels (annotators start from them); items that
    already carry labels (from the store) also get them as an `annotations` entry.

    `values="names"` writes Indonesian issue names and Kemendagri region names (readable choices), `"ids"` writes
    issue ids and region codes; the labelling config (`label_studio_config`) must use the same style.
    """
    if values not in ("names", "ids"):
        raise ValueError("values must be 'names' or 'ids'")
    resolver = resolver or default_resolver()
    preds = classifier.predict([i["text"] for i in items], titles=[i.get("title") for i in items], evidence=False,
                               lang=lang)

    def issue_v(i: str) -> str:
        return resolver.issue_name(i, lang) if values == "names" else i

    def region_v(c: str) -> str:
        return resolver.region_name(c) if values == "names" else c

    def result(issues: list[str], regions: list[str], origin: str) -> list[dict]:
        out = [{"type": "choices", "from_name": "issues", "to_name": "text", "origin": origin,
                "value": {"choices": [issue_v(i) for i in issues]}}]
        if regions:
            out.append({"type": "choices", "from_name": "region", "to_name": "text", "origin": origin,
                        "value": {"choices": [region_v(c) for c in regions]}})
        return out

    model_version = f"{classifier.config.name}@{classifier.config.version}"
    tasks = []
    for n, (item, p) in enumerate(zip(items, preds), 1):
        task: dict[str, Any] = {"id": n, "data": {"text": item["text"], "title": item.get("title"),
                                                   "rawan_id": item.get("id")},
                                "predictions": [{"model_version": model_version,
                                                 "score": round(max(p.scores.values()), 4),
                                                 "result": result(p.labels, [r["code"] for r in p.regions],
                                                                  "prediction")}]}
        if "issues" in item:
            codes = [g["code"] if isinstance(g, dict) else g for g in item.get("regions") or []]
            task["annotations"] = [{"result": result(item["issues"], codes, "manual")}]
        tasks.append(task)
    return tasks

