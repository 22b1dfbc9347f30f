"""Decide which of the mentioned regions an article is *about*, most relevant first.

Hand-written scoring (no library models "aboutness" of Indonesian admin regions): each mention is weighted by
how it is written (prefix, cue word, institution), where it sits (headline, dateline, lead, venue, noise line
such as "Baca juga: ..."), and summed per regency/city; districts count for their regency; ambiguous names
("Bekasi" with no cue, a district name found in several regencies) are shared out by what else the article
says. Provinces only win when the article supports the province more than any of its regencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.regions.gazetteer import KIND_DISTRICT, KIND_PLACE, KIND_PROVINCE, Gazetteer
from model.regions.matcher import Mention


@dataclass(frozen=True)
class FocusWeights:
    """Tunable weights; defaults were tuned on the corpus train and dev splits only."""

    explicit: float = 2.0       # "Kota Bekasi", "Kabupaten Bogor", "Provinsi Jawa Barat", or a cue word
    bare: float = 1.5           # "Balikpapan", "Jaksel"
    province: float = 1.0       # "Jawa Barat", "Jabar"
    place: float = 1.2          # "Cikarang", "Ancol"
    district: float = 1.0       # "Cugenang", "Bekasi Selatan"
    institution: float = 1.6    # "Bawaslu Kota X", "Pemkab Y", "Pilkada Z"
    title: float = 3.0
    dateline: float = 1.3
    lead: float = 1.4
    venue: float = 0.3
    noise: float = 0.0
    min_top: float = 2.5        # below this the article is treated as not about any region
    rel_second: float = 0.8    # a further region must reach this share of the top score ...
    min_second: float = 8.0     # ... and this absolute score
    max_regions: int = 3
    province_margin: float = 1.0  # province beats its best regency only by this factor
    jakarta_bare: float = 0.5     # bare "Jakarta" is mostly where national bodies sit, not a subject
    jakarta_national: float = 0.3  # any DKI mention in an article about national bodies
    national_min_share: float = 0.5  # national article: top region needs this share of all evidence


DEFAULT_WEIGHTS = FocusWeights()


def mention_weight(m: Mention, w: FocusWeights, national: bool = False, title_ok: bool = True) -> float:
    """Evidence one mention gives; `title_ok` is False when the headline names a region the body never does."""
    if m.noise:
        return w.noise
    if m.kind == KIND_PROVINCE:
        base = w.explicit if m.prefix == "prov" or m.cue == "prov" else w.province
    elif m.kind == KIND_DISTRICT:
        base = w.district * (1.3 if m.prefix == "kec" else 1.0)
    elif m.kind == KIND_PLACE:
        base = w.place
    else:
        base = w.explicit if (m.prefix or m.cue in ("kab", "kota")) else w.bare
    if m.institution:
        base *= w.institution
    if m.in_title:
        base *= w.title if title_ok else 1.0
    elif m.in_dateline:
        base *= w.dateline
    elif m.in_lead:
        base *= w.lead
    if m.venue:
        base *= w.venue
    if all(c[:2] == "31" for c in m.codes):
        if m.kind == KIND_PROVINCE and m.prefix is None and m.cue != "prov":
            base *= w.jakarta_bare
        if national and not (m.institution and (m.prefix or m.cue)):
            base *= w.jakarta_national
    return base


def rank_regions(mentions: list[Mention], gaz: Gazetteer, w: FocusWeights = DEFAULT_WEIGHTS,
                 national: bool = False) -> list[tuple[str, float, list[Mention]]]:
    """(code, raw score, supporting mentions) for the regions the article is about, most relevant first."""
    scores: dict[str, float] = {}
    support: dict[str, list[Mention]] = {}
    body_codes = {c for m in mentions if not m.in_title and not m.noise for c in m.codes}
    weighted = [(m, mention_weight(m, w, national, any(c in body_codes for c in m.codes))) for m in mentions]

    def add(code: str, value: float, m: Mention) -> None:
        scores[code] = scores.get(code, 0.0) + value
        support.setdefault(code, []).append(m)

    # Pass 1: unambiguous mentions.
    for m, wt in weighted:
        if len(m.codes) == 1:
            add(m.codes[0], wt, m)
    # Context for resolving ambiguous ones: what pass 1 found, and provinces named anywhere.
    context = dict(scores)
    prov_ctx: dict[str, float] = {}
    for code, s in context.items():
        prov_ctx[code[:2]] = prov_ctx.get(code[:2], 0.0) + s
    for m, wt in weighted:
        if len(m.codes) == 1:
            continue
        share = _resolve(m, context, prov_ctx, gaz)
        for code, frac in share.items():
            if frac > 0:
                add(code, wt * frac, m)

    regencies = {c: s for c, s in scores.items() if len(c) == 5}
    provinces = {c: s for c, s in scores.items() if len(c) == 2}
    ranked: list[tuple[str, float]] = list(regencies.items())
    for p, s in provinces.items():
        best_child = max((v for c, v in regencies.items() if c[:2] == p), default=0.0)
        if s > best_child * w.province_margin:
            ranked.append((p, s - best_child * 0.5))
    ranked.sort(key=lambda cs: (-cs[1], cs[0]))
    if not ranked or ranked[0][1] < w.min_top:
        return []
    top = ranked[0][1]
    if national and top / sum(s for _, s in ranked) < w.national_min_share:
        return []   # a national story listing many regions is about none of them
    out = [ranked[0]]
    for code, s in ranked[1:]:
        if len(out) >= w.max_regions:
            break
        if s >= top * w.rel_second and s >= w.min_second:
            # Provinces only accompany provinces: next to a regency they are context, not a second subject.
            if len(code) == 2 and len(out[0][0]) != 2:
                continue
            if len(code) == 5 and any(c == code[:2] for c, _ in out):
                continue
            out.append((code, s))
    return [(c, s, support.get(c, [])) for c, s in out]


def _resolve(m: Mention, context: dict[str, float], prov_ctx: dict[str, float], gaz: Gazetteer) -> dict[str, float]:
    """Share of an ambiguous mention per candidate code."""
    cands = list(m.codes)
    ctx = {c: context.get(c, 0.0) for c in cands}
    total = sum(ctx.values())
    if total > 0:
        return {c: v / total for c, v in ctx.items()}
    pctx = {c: prov_ctx.get(c[:2], 0.0) for c in cands}
    ptotal = sum(pctx.values())
    if ptotal > 0 and m.kind == KIND_DISTRICT:
        return {c: v / ptotal for c, v in pctx.items()}
    if m.kind == KIND_DISTRICT:
        # A district name found in several regencies with nothing else to go on: weak evidence each.
        return {c: 0.5 / len(cands) for c in cands}
    # "Bekasi" / "Jambi" with no cue and no other mention: prefer the city (or the province for a
    # province/city collision), which is how datelines and bare names are mostly used.
    levels = {c: gaz.regions[c].level for c in cands}
    pref = [c for c in cands if levels[c] == "provinsi"] or [c for c in cands if levels[c] == "kota"] or cands
    return {c: (1.0 if c in pref else 0.0) / len(pref) for c in cands}


def confidence(score: float, total: float) -> float:
    """Map a raw score to [0, 1]: share of all evidence times saturation of the absolute amount."""
    if total <= 0:
        return 0.0
    return round(min(1.0, (score / total) ** 0.5 * (1.0 - math.exp(-score / 4.0))), 4)
