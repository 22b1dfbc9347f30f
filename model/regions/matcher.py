"""Find region mentions in an article: longest-match over the gazetteer index, gated against everyday words.

Hand-written because no library does Indonesian admin-prefix handling ("Kab.", "Kota Adm.", "Wali Kota X"),
Kota/Kabupaten cue words for the 26 shared names, or the capitalisation and stop-list gating that keeps
"yang", "dalam", "negara" or "tetap" (all real place names) from matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from model.regions.gazetteer import (KIND_ALIAS, KIND_BASE, KIND_DISTRICT, KIND_PLACE, KIND_PROVINCE, Entry,
                                     Gazetteer, fold)

_WORD = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’][A-Za-z]+)?")
_DATELINE = re.compile(r"^\s*([A-Za-z][A-Za-z .'’-]{1,40}?)\s*(?:,|\(|–|—| - )")

# Admin prefixes as folded token tuples -> what they select.
_PREFIXES: list[tuple[tuple[str, ...], str]] = sorted([
    (("kabupaten", "administrasi"), "kab"), (("kab", "adm"), "kab"), (("kabupaten",), "kab"), (("kab",), "kab"),
    (("kota", "administrasi"), "kota"), (("kota", "adm"), "kota"), (("kota",), "kota"), (("kodya",), "kota"),
    (("kotamadya",), "kota"), (("provinsi",), "prov"), (("prov",), "prov"), (("propinsi",), "prov"),
    (("kecamatan",), "kec"), (("kec",), "kec"), (("distrik",), "kec"),
], key=lambda p: -len(p[0]))
_PREFIX_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _seq, _kind in _PREFIXES:
    _PREFIX_BY_FIRST.setdefault(_seq[0], []).append((_seq, _kind))
_CONNECTORS = frozenset({"dan", "di", "ke", "x"})
_LEVEL_FOR_PREFIX = {"kab": {"kabupaten"}, "kota": {"kota"}, "prov": {"provinsi"}}


@dataclass
class Token:
    start: int
    end: int
    text: str
    low: str
    line: int
    cap: bool          # starts upper-case (or digit)
    sent_start: bool   # first word of a line or sentence


@dataclass
class Mention:
    """One place name found in the text, with the context the focus ranker weighs."""

    start: int
    end: int
    text: str
    codes: tuple[str, ...]      # candidate regions: province or regency/city codes (districts mapped up)
    kind: str                   # provinsi | base | alias | place | kecamatan
    prefix: str | None = None   # kab | kota | prov | kec written before the name
    cue: str | None = None      # kab | kota | prov chosen by a cue word (Pemkab, Wali Kota, Gubernur, ...)
    institution: bool = False   # "Bawaslu Kota X", "KPU Kabupaten Y", "Pemkab Z", "Pilkada X" ...
    line: int = 0
    in_title: bool = False
    in_dateline: bool = False
    in_lead: bool = False
    noise: bool = False
    venue: bool = False
    district_codes: tuple[str, ...] = field(default_factory=tuple)
    suffix_kota: bool = False    # "... Bekasi Kota" consumed the trailing word


class Matcher:
    """Turns text into Mentions using a Gazetteer; holds only precomputed word sets, so it is cheap to share."""

    def __init__(self, gaz: Gazetteer) -> None:
        c = gaz.curated
        self.gaz = gaz
        self.kab_cues = frozenset(c["kab_cues"])
        self.kota_cues = frozenset(c["kota_cues"]) - {"kota"}
        self.prov_cues = frozenset(c["prov_cues"])
        self.polres_cues = frozenset(c["polres_cues"])
        self.focus_inst = frozenset(c["focus_institutions"])
        self.not_before = frozenset(c["not_place_before"])
        self.not_after = frozenset(c["not_place_after"])
        self.venue_words = frozenset(c["venue_words"])
        self.noise_prefixes = tuple(c["noise_line_prefixes"])
        self.noise_contains = tuple(c["noise_line_contains"])
        self.national_markers: dict[str, list[tuple[str, ...]]] = {}
        for marker in c.get("national_markers", []):
            seq = tuple(fold(marker).replace("-", " ").split())
            self.national_markers.setdefault(seq[0], []).append(seq)
        self.national_first = frozenset(self.national_markers)

    # -- text structure ----------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[Token]:
        out: list[Token] = []
        line = 0
        last_end = 0
        for m in _WORD.finditer(text):
            start = m.start()
            gap = text[last_end:start]
            nl = gap.count("\n") if gap else 0
            line += nl
            w = m.group(0)
            if not out or nl:
                sent_start = True
            else:
                g = gap.strip().rstrip("\"'“”’)")
                sent_start = bool(g) and g[-1] in ".!?:;"
            out.append(Token(start, m.end(), w, fold(w), line, w[0].isupper() or w[0].isdigit(), sent_start))
            last_end = m.end()
        return out

    def _line_info(self, text: str) -> tuple[list[tuple[int, int]], set[int], int | None, tuple[int, int] | None, int]:
        """Line spans, noise lines, title line index, dateline char span, end of the lead (char offset)."""
        spans, pos = [], 0
        for raw in text.split("\n"):
            spans.append((pos, pos + len(raw)))
            pos += len(raw) + 1
        noise: set[int] = set()
        for i, (s, e) in enumerate(spans):
            low = text[s:e].strip().lstrip("\"'“”‘’*-•>#").strip().lower()
            if low.startswith(self.noise_prefixes) or any(k in low for k in self.noise_contains):
                noise.add(i)
        nonempty = [i for i, (s, e) in enumerate(spans) if text[s:e].strip()]
        title = None
        dateline = None
        body_start_line = nonempty[0] if nonempty else 0
        for k, i in enumerate(nonempty[:4]):
            s, e = spans[i]
            m = _DATELINE.match(text[s:e])
            if m and len(m.group(1).split()) <= 4 and (k > 0 or e - s > 160 or e - s < 60):
                dateline = (s + m.start(1), s + m.end(1))
                body_start_line = i
                break
        if nonempty:
            s, e = spans[nonempty[0]]
            first = text[s:e].strip()
            if dateline is None or dateline[0] >= e:
                if len(first) <= 200 and not first.endswith(".") and len(nonempty) > 1:
                    title = nonempty[0]
                    body_start_line = nonempty[1]
        # Lead: first ~400 characters of the body.
        lead_end = spans[body_start_line][0] + 400 if spans else 0
        return spans, noise, title, dateline, lead_end

    # -- matching ----------------------------------------------------------------------------------------
    def _prefix_at(self, toks: list[Token], i: int) -> tuple[str, int] | None:
        for seq, kind in _PREFIX_BY_FIRST.get(toks[i].low, ()):
            n = len(seq)
            if i + n <= len(toks) and all(toks[i + k].low == seq[k] for k in range(1, n)):
                # "Kab." abbreviations must be followed by a capitalised name.
                if i + n < len(toks) and toks[i + n].cap and toks[i + n].line == toks[i].line:
                    return kind, n
        return None

    def _longest(self, toks: list[Token], j: int, need_cap: bool) -> tuple[int, list[Entry]]:
        g = self.gaz
        if j >= len(toks) or not g.may_start(toks[j].low):
            return 0, []
        for n in range(min(g.max_tokens, len(toks) - j), 0, -1):
            span = toks[j:j + n]
            if span[-1].line != span[0].line:
                continue
            if need_cap and not all(t.cap or t.low in _CONNECTORS for t in span):
                continue
            if span[-1].low in _CONNECTORS or span[0].low in _CONNECTORS:
                continue
            entries = g.lookup(tuple(t.low for t in span))
            if entries:
                return n, entries
        return 0, []

    def find(self, text: str) -> list[Mention]:
        return self.analyze(text)[0]

    def analyze(self, text: str) -> tuple[list[Mention], bool]:
        """Mentions, and whether the article speaks of national bodies (Bawaslu RI, DKPP, Kemendagri ...)."""
        toks = self.tokenize(text)
        spans, noise, title, dateline, lead_end = self._line_info(text)
        lower_words = {t.low for t in toks if not t.cap and t.line not in noise}
        national = self._national(toks)
        out: list[Mention] = []
        i = 0
        while i < len(toks):
            pre = self._prefix_at(toks, i)
            matched = False
            if pre:
                pkind, plen = pre
                n, entries = self._longest(toks, i + plen, need_cap=False)
                if n:
                    entries = self._filter_for_prefix(entries, pkind)
                if n and entries:
                    m = self._mention(text, toks, i, i + plen, n, entries, pkind)
                    if m is not None:
                        out.append(m)
                        i = i + plen + n
                        matched = True
            if not matched:
                t = toks[i]
                n, entries = (self._longest(toks, i, need_cap=True) if t.cap else (0, []))
                if n:
                    entries = self._gate(toks, i, n, entries, lower_words, dateline)
                if n and entries:
                    m = self._mention(text, toks, i, i, n, entries, None)
                    if m is not None:
                        out.append(m)
                        i = i + n + (1 if m.suffix_kota else 0)
                        continue
                i += 1
        for m in out:
            m.in_title = title is not None and m.line == title
            m.in_dateline = dateline is not None and dateline[0] <= m.start and m.end <= dateline[1]
            m.in_lead = not m.in_title and m.start < lead_end
            m.noise = m.line in noise
        return out, national

    def _national(self, toks: list[Token]) -> bool:
        lows = [t.low for t in toks]
        for i, w in enumerate(lows):
            if w in self.national_first:
                for seq in self.national_markers.get(w, ()):
                    if tuple(lows[i:i + len(seq)]) == seq:
                        if seq == ("ri",) and not (i > 0 and lows[i - 1] in ("bawaslu", "kpu", "dpr", "presiden")):
                            continue
                        return True
        return False

    def _filter_for_prefix(self, entries: list[Entry], pkind: str) -> list[Entry]:
        g = self.gaz
        if pkind == "kec":
            return [e for e in entries if e.kind == KIND_DISTRICT]
        if pkind == "prov":
            return [e for e in entries if e.kind == KIND_PROVINCE]
        regs = [e for e in entries if e.kind in (KIND_BASE, KIND_ALIAS, KIND_PLACE)]
        want = _LEVEL_FOR_PREFIX[pkind]
        fit = [e for e in regs if g.regions[e.code[:5]].level in want] if regs else []
        if fit:
            return fit
        if regs:
            return regs
        # "Kota Jakarta" / "Kabupaten <district>": fall back to whatever the name is.
        return [e for e in entries if e.kind != KIND_DISTRICT] or []

    def _gate(self, toks: list[Token], i: int, n: int, entries: list[Entry], lower_words: set[str],
              dateline: tuple[int, int] | None) -> list[Entry]:
        """Drop matches that are everyday words, parts of other names, or districts that a region name shadows."""
        g = self.gaz
        key = " ".join(t.low for t in toks[i:i + n])
        prev = toks[i - 1].low if i > 0 and toks[i - 1].line == toks[i].line else ""
        nxt = toks[i + n].low if i + n < len(toks) and toks[i + n].line == toks[i].line else ""
        if prev in self.not_before or nxt in self.not_after:
            return []
        strong = [e for e in entries if e.kind != KIND_DISTRICT]
        if strong:
            entries = strong
        else:
            in_dl = dateline is not None and dateline[0] <= toks[i].start < dateline[1]
            if key in g.stop_names:
                return []
            if n == 1 and (key in lower_words or (toks[i].sent_start and not in_dl)):
                return []
            if n == 1 and len(key) <= 3:
                return []
            # "Rudi Nainggolan": a district name glued to a preceding capitalised word is usually a surname.
            p = toks[i - 1] if i > 0 and toks[i - 1].line == toks[i].line else None
            if (n == 1 and p is not None and p.cap and not p.sent_start and p.low not in self.focus_inst
                    and p.low not in self.venue_words and not self._is_title_case_line(toks, i)):
                return []
        if key in g.weak_bases:
            # "Polres Metro Bekasi", "Batu Akik": a common-word name followed by another name is not the region.
            if nxt and toks[i + n].cap and not self._suffix_kota(toks, i + n):
                return []
            in_dl = dateline is not None and dateline[0] <= toks[i].start < dateline[1]
            if not in_dl and not self._has_cue(toks, i, n):
                return []
        return entries

    @staticmethod
    def _is_title_case_line(toks: list[Token], i: int) -> bool:
        """Headlines capitalise every word, so capitalisation says nothing there."""
        line = [t for t in toks[max(0, i - 8):i + 8] if t.line == toks[i].line and len(t.low) > 3]
        return len(line) >= 3 and sum(t.cap for t in line) >= 0.8 * len(line)

    def _has_cue(self, toks: list[Token], i: int, n: int) -> bool:
        """A cue word, an institution ("Bawaslu Batu") or a trailing "Kota" makes a common-word name a place."""
        cue, inst = self._cue_before(toks, i)
        prev = toks[i - 1].low if i > 0 and toks[i - 1].line == toks[i].line else ""
        return cue is not None or prev in self.focus_inst and toks[i - 1].cap or self._suffix_kota(toks, i + n)

    def _cue_before(self, toks: list[Token], i: int) -> tuple[str | None, bool]:
        """(kab|kota|prov|None, institution?) from up to four words before position i on the same line."""
        cue: str | None = None
        inst = False
        j = i - 1
        steps = 0
        while j >= 0 and steps < 4 and toks[j].line == toks[i].line:
            w = toks[j].low
            if cue is None:
                if w in self.kab_cues:
                    cue = "kab"
                elif w in self.kota_cues or (w == "kota" and j > 0 and toks[j - 1].low == "wali"):
                    cue = "kota"
                elif w in self.prov_cues:
                    cue = "prov"
                elif w in self.polres_cues:
                    cue = "polres"
            if w in self.focus_inst:
                inst = True
            steps += 1
            j -= 1
        return cue, inst

    def _suffix_kota(self, toks: list[Token], k: int) -> bool:
        """"Polres Metro Bekasi Kota", "Polresta Kupang Kota": a trailing "Kota" that does not start a name."""
        if k >= len(toks) or toks[k].text not in ("Kota", "KOTA") or toks[k].line != toks[k - 1].line:
            return False
        if k + 1 >= len(toks) or not toks[k + 1].cap or toks[k + 1].line != toks[k].line:
            return True
        n, entries = self._longest(toks, k + 1, need_cap=True)
        return not any(e.kind in (KIND_BASE, KIND_ALIAS) for e in entries)

    def _mention(self, text: str, toks: list[Token], i0: int, j: int, n: int, entries: list[Entry],
                 prefix: str | None) -> Mention | None:
        g = self.gaz
        cue, inst = self._cue_before(toks, i0)
        suffix_kota = self._suffix_kota(toks, j + n)
        kinds = sorted({e.kind for e in entries}, key=lambda k: ("alias", "base", "provinsi", "place",
                                                                 "kecamatan").index(k))
        kind = kinds[0]
        if kind in (KIND_BASE, KIND_ALIAS) and KIND_PROVINCE in kinds:
            # "Jambi", "Bengkulu", "Gorontalo": a province and a city share the name; cues decide later.
            entries = [e for e in entries if e.kind in (kind, KIND_PROVINCE)]
        else:
            entries = [e for e in entries if e.kind == kind]
        codes: list[str] = []
        districts: list[str] = []
        for e in entries:
            if e.kind == KIND_DISTRICT:
                districts.append(e.code)
                c = e.code[:5]
            else:
                c = e.code
            if c not in codes:
                codes.append(c)
        chosen = prefix if prefix in ("kab", "kota", "prov") else None
        if chosen is None:
            if suffix_kota:
                chosen = "kota"
            elif cue in ("kab", "kota", "prov"):
                chosen = cue
            elif cue == "polres":
                chosen = "kab"
        if chosen and len(codes) > 1:
            want = _LEVEL_FOR_PREFIX[chosen]
            fit = [c for c in codes if g.regions[c].level in want]
            if fit:
                codes = fit
        if not codes:
            return None
        start = toks[i0].start if prefix else toks[j].start
        end = toks[j + n - 1].end
        m = Mention(start, end, text[start:end], tuple(codes), kind, prefix, chosen, inst, toks[j].line,
                    district_codes=tuple(districts))
        if suffix_kota and prefix is None:
            m.end = toks[j + n].end
            m.text = text[m.start:m.end]
            m.suffix_kota = True
        m.venue = self._is_venue(toks, i0)
        return m

    def _is_venue(self, toks: list[Token], i: int) -> bool:
        """A place named as the venue ("di Hotel Santika, Jakarta") rather than the subject."""
        j, steps = i - 1, 0
        while j >= 0 and steps < 6 and toks[j].line == toks[i].line:
            if toks[j].low in self.venue_words:
                return True
            if toks[j].sent_start:
                break
            steps += 1
            j -= 1
        return False
