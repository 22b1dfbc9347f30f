"""How Label Studio annotations map onto Rawan labels: choice values -> issue ids and region codes, one task ->
one record, and the labelling config whose choices match.

Shared by file imports (`training/imports.py`, which re-exports these names) and the ML backend webhook
(`serve/routes/labelstudio.py`). Pure Python, no torch: the server image imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


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
        value = res.get("value") or {}
        choices = (value.get("choices") or []) if isinstance(value, dict) else None
        if not isinstance(choices, list):
            reasons.append(f"result {res.get('from_name')!r}: value.choices must be a list of choice values")
            continue
        _map(choices, kind, resolver, labels, reasons)
    return {"text": text, "title": title, **labels}, reasons, None


def parse_label_studio_task(task: dict, resolver: LabelResolver,
                            cfg: LabelStudioConfig | None = None) -> tuple[dict, list[str], str | None]:
    """One Label Studio task with its `annotations` -> (record, reasons, skip note), exactly as a file import maps
    it; for callers that receive tasks one at a time (the ML backend webhook in `serve/routes/labelstudio.py`)."""
    return _label_studio(task, resolver, cfg or LabelStudioConfig())


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
