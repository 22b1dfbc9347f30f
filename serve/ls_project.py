"""A Label Studio labelling config (XML) read as a Rawan mapping: which data field is the text, which `Choices`
block holds issues and which regions, and which Rawan id each choice value stands for.

Parsed with the standard library's `xml.etree`. Choice values are resolved with the importer's `LabelResolver`
(`model/label_studio.py`, used by `training/imports.py`), so a config works here exactly when its exports import:
issue ids or Indonesian/English names, region codes or exact Kemendagri names. `rawan annotations ls-config`
prints a config that passes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from model.label_studio import LabelResolver, LabelStudioConfig

KINDS = ("issues", "regions")
DEFAULT_NAMES = LabelStudioConfig().from_names          # issues -> issues, region(s) -> regions


class LabelConfigError(ValueError):
    """The config cannot be used at all (not XML, no Choices over a Text)."""


@dataclass
class ChoicesBlock:
    """One `<Choices>` control: its names, what it labels, and its choice values mapped to Rawan ids/codes."""

    name: str
    to_name: str
    choice: str                                          # single | single-radio | multiple
    values: list[str]                                    # as the result must carry them (alias if set)
    kind: str | None = None                              # "issues", "regions" or None (neither)
    to_rawan: dict[str, str] = field(default_factory=dict)   # choice value -> issue id / region code
    unknown: list[str] = field(default_factory=list)         # values that map to nothing

    @property
    def from_rawan(self) -> dict[str, str]:
        """Issue id / region code -> the first choice value standing for it (what a prediction emits)."""
        out: dict[str, str] = {}
        for value, rawan_id in self.to_rawan.items():
            out.setdefault(rawan_id, value)
        return out

    @property
    def multiple(self) -> bool:
        return self.choice == "multiple"


@dataclass
class ProjectSchema:
    """What Rawan needs from one project's labelling config."""

    text_field: str
    title_field: str
    blocks: list[ChoicesBlock]

    def block(self, kind: str) -> ChoicesBlock | None:
        return next((b for b in self.blocks if b.kind == kind), None)

    def import_config(self) -> LabelStudioConfig:
        """The importer's mapping for this project (text/title fields, from_name -> issues/regions)."""
        return LabelStudioConfig(text_field=self.text_field, title_field=self.title_field,
                                 from_names={b.name: b.kind for b in self.blocks if b.kind})

    def problems(self, issue_ids: list[str]) -> list[dict[str, str]]:
        """Everything that keeps this config from matching the taxonomy: [{"loc", "msg"}], empty when it fits."""
        out: list[dict[str, str]] = []
        issues = [b for b in self.blocks if b.kind == "issues"]
        if not issues:
            out.append({"loc": "Choices", "msg": "no Choices block holds the issues (name it 'issues' or use issue "
                                                 "ids or names as its values)"})
        for kind in KINDS:
            same = [b.name for b in self.blocks if b.kind == kind]
            if len(same) > 1:
                out.append({"loc": f"Choices[{same[1]}]", "msg": f"more than one Choices block holds {kind}: "
                                                                 f"{same}"})
        for b in self.blocks:
            loc, who = f"Choices[{b.name}]", f"Choices {b.name!r}"
            if b.kind is None:
                out.append({"loc": loc, "msg": f"{who}: its choices are neither issues nor regions: {b.unknown[:10]}"})
                continue
            if b.unknown:
                what = "not in the taxonomy" if b.kind == "issues" else "not Kemendagri provinces or regencies/cities"
                out.append({"loc": loc, "msg": f"{who}: {len(b.unknown)} choices {what}: {b.unknown[:20]}"})
            if b.kind == "issues":
                missing = [i for i in issue_ids if i not in b.from_rawan]
                if missing:
                    out.append({"loc": loc, "msg": f"{who}: taxonomy issues without a choice: {missing}"})
                if not b.multiple:
                    out.append({"loc": loc, "msg": f'{who}: issues are multi-label: set choice="multiple"'})
        return out


def _data_field(value: str | None) -> str | None:
    """`$text` -> `text` (Label Studio's reference to a task data key)."""
    if value and value.startswith("$") and len(value) > 1:
        return value[1:]
    return None


def parse_label_config(xml: str, resolver: LabelResolver) -> ProjectSchema:
    """Read a labelling config; raises LabelConfigError when it is not XML or has no Choices over a Text."""
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, ValueError) as err:  # ValueError: text the XML parser cannot encode (lone surrogates)
        raise LabelConfigError(f"label config is not valid XML: {err}") from None
    texts: dict[str, str] = {}
    title_field = "title"
    raw_blocks: list[tuple[ET.Element, list[str]]] = []
    for el in root.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "text" and el.get("name"):
            key = _data_field(el.get("value"))
            if key:
                texts[el.get("name")] = key
        elif tag == "header" and _data_field(el.get("value")):
            title_field = _data_field(el.get("value"))
        elif tag == "choices":
            values = [c.get("alias") or c.get("value") for c in el.iter()
                      if isinstance(c.tag, str) and c.tag.lower() == "choice"]
            raw_blocks.append((el, [v for v in values if v]))

    blocks: list[ChoicesBlock] = []
    fields: list[str] = []
    for el, values in raw_blocks:
        to_name = el.get("toName", "")
        if to_name not in texts:
            continue  # Choices over something else (an image, a whole page): not Rawan's business
        fields.append(texts[to_name])
        b = ChoicesBlock(el.get("name", ""), to_name, el.get("choice", "single"), values)
        issue_map = {v: resolver.issue(v) for v in values}
        region_map = {v: resolver.region(v) for v in values}
        kind = DEFAULT_NAMES.get(b.name)
        if kind is None and values:  # a custom name: decide by what the values are
            if all(issue_map.values()):
                kind = "issues"
            elif all(region_map.values()):
                kind = "regions"
        b.kind = kind
        mapping = issue_map if kind == "issues" else region_map if kind == "regions" else {}
        b.to_rawan = {v: m for v, m in mapping.items() if m}
        b.unknown = [v for v in values if not mapping.get(v)]
        blocks.append(b)
    if not blocks:
        raise LabelConfigError("label config has no <Choices> whose toName is a <Text name=... value=\"$field\">")
    if len(set(fields)) > 1:
        raise LabelConfigError(f"Choices label different Text fields {sorted(set(fields))}; Rawan reads one text")
    return ProjectSchema(fields[0], title_field, blocks)
