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


@dataclass
class LabelStudioConfig:
    """How a Label Studio project maps onto Rawan: which task fields hold text/title, which `from_name` is what.

    `from_names` maps a control name to "issues" or "regions". Loaded from a small JSON file
    ({"text_field": ..., "title_field": ..., "from_names": {...}}) when a project uses other names.
    """

    text_field: str = "text"
    title_field: str = "title"
    from_names: dict[str, str] = field(default_factory=lambda: {"issues": "issues", "region": "regions",
                                                                 "regions": "regions"})

    @classmethod
    def load(cls, path: str | Path | None) -> "LabelStudioConfig":
        if path is None:
            return cls()
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(data) - {"text_field", "title_field", "from_names"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        cfg = cls(**data)
        bad = {k: v for k, v in cfg.from_names.items() if v not in ("issues", "regions")}
        if bad:
            raise ValueError(f"{path}: from_names values must be 'issues' or 'regions', got {bad}")
        return cfg


class LabelResolver:
    """Turns what annotators picked (issue ids or Indonesian/English names, region codes or exact Kemendagri names)
    into issue ids and region codes, or says why not."""

    def __init__(self, taxonomy, gazetteer) -> None:
        self.taxonomy, self.gazetteer = taxonomy, gazetteer
        self._issues: dict[str, str] = {}
        for issue in taxonomy.issues:
            for key in (issue.id, *issue.name.values()):
                self._issues[_key(key)] = issue.id
        self._regions = {_key(r.name): r.code for r in gazetteer.regions.values()
                         if r.level in ("provinsi", "kabupaten", "kota")}

    def issue(self, value: Any) -> str | None:
        return self._issues.get(_key(value)) if isinstance(value, str) else None

    def region(self, value: Any) -> str | None:
        """A current province/regency/city code (pre-2022 Papua codes resolve) or None."""
        if isinstance(value, dict):
            value = value.get("code")
        if not isinstance(value, str):
            return None
        v = value.strip()
        if v.lower().startswith("region:"):
            v = v[len("region:"):].strip()
        code = self.gazetteer.resolve_code(v)
        if code and self.gazetteer.is_valid(code):
            return code
        return self._regions.get(_key(v))

    def issue_name(self, issue_id: str, lang: str = "id") -> str:
        return next(i.display(lang) for i in self.taxonomy.issues if i.id == issue_id)

    def region_name(self, code: str) -> str:
        return self.gazetteer.regions[code].name


def _key(s: str) -> str:
    return " ".join(s.split()).casefold()


def default_resolver(store=None) -> LabelResolver:
    if store is not None:
        return LabelResolver(store.taxonomy, store.gazetteer)
    from model.regions import RegionTagger
    from model.taxonomy import Taxonomy

    return LabelResolver(Taxonomy.load(), RegionTagger.load().gazetteer)


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


def _text_checks(text: Any, title: Any) -> list[str]:
    reasons = []
    if not isinstance(text, str) or not text.strip():
        reasons.append("empty text")
    if title is not None and not isinstance(title, str):
        reasons.append("title must be a string")
    return reasons


def _map(values: Iterable[Any], kind: str, resolver: LabelResolver, out: dict[str, list[str]],
         reasons: list[str]) -> None:
    for v in values:
        if kind == "issues":
            got = resolver.issue(v)
            if got is None:
                reasons.append(f"unknown issue label {v!r}")
            elif got not in out["issues"]:
                out["issues"].append(got)
        else:
            got = resolver.region(v)
            if got is None:
                reasons.append(f"unknown region {v!r} (want a Kemendagri code like '32.75' or an exact name like "
                               f"'Kota Bekasi')")
            elif got not in out["regions"]:
                out["regions"].append(got)


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


def _pick_annotation(task: dict) -> dict | None:
    """The annotation to trust: a ground-truth one, else the most recently updated one that was not cancelled."""
    anns = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not anns:
        return None
    truth = [a for a in anns if a.get("ground_truth")]
    pool = truth or anns
    return max(pool, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0))


def _label_studio(task: dict, resolver: LabelResolver, cfg: LabelStudioConfig) -> tuple[dict, list[str], str | None]:
    """A Label Studio task: data[text_field] and `choices` results of the chosen annotation."""
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    text, title = data.get(cfg.text_field), data.get(cfg.title_field)
    ann = _pick_annotation(task)
    if ann is None:
        return {}, [], f"task {task.get('id')}: no completed annotation (skipped)"
    reasons = _text_checks(text, title)
    labels: dict[str, list[str]] = {"issues": [], "regions": []}
    for res in ann.get("result") or []:
        if not isinstance(res, dict) or res.get("type") != "choices":
            continue
        kind = cfg.from_names.get(res.get("from_name"))
        if kind is None:
            reasons.append(f"unknown from_name {res.get('from_name')!r}; map it to issues or regions in the Label "
                           f"Studio config (known: {sorted(cfg.from_names)})")
            continue
        choices = (res.get("value") or {}).get("choices") or []
        _map(choices, kind, resolver, labels, reasons)
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


def label_studio_config(resolver: LabelResolver, *, values: str = "names", lang: str = "id") -> str:
    """A labelling config (XML) whose choice values match `label_studio_tasks(values=...)` and the importer."""
    from xml.sax.saxutils import quoteattr

    issues = "\n".join(f"    <Choice value={quoteattr(resolver.issue_name(i.id, lang) if values == 'names' else i.id)}"
                       f" hint={quoteattr(i.description)}/>" for i in resolver.taxonomy.issues)
    regions = sorted((r for r in resolver.gazetteer.regions.values() if r.level in ("provinsi", "kabupaten", "kota")),
                     key=lambda r: r.code)
    region_xml = "\n".join(f"    <Choice value={quoteattr(r.name if values == 'names' else r.code)}"
                           f" hint={quoteattr(r.code if values == 'names' else r.name)}/>" for r in regions)
    return (f'<View>\n  <Header value="$title"/>\n  <Text name="text" value="$text"/>\n'
            f'  <Choices name="issues" toName="text" choice="multiple" showInline="false">\n{issues}\n  </Choices>\n'
            f'  <Choices name="region" toName="text" choice="multiple" showInline="false">\n{region_xml}\n'
            f'  </Choices>\n</View>\n')
