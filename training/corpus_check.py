"""`rawan data check`: validate the annotated corpus (v1 and v2) and print the statistics its data card promises.

Checks are of two kinds: schema errors (bad JSON fields, unknown label ids or region codes, duplicate ids,
near-duplicates over all pairs, outlets, writers or events shared between train and dev/test) fail the check;
minimums (the size and balance targets of each corpus version's data card) are printed with their status and fail
the check when missed.
"""

from __future__ import annotations

import collections
import statistics
from dataclasses import dataclass, field

from model.taxonomy import Taxonomy

SHARED_NAMES = ("Bandung Banjar Bekasi Bima Blitar Bogor Cirebon Gorontalo Jayapura Kediri Kupang Madiun Magelang "
                "Malang Mojokerto Pasuruan Pekalongan Probolinggo Semarang Serang Solok Sorong Sukabumi Tangerang "
                "Tasikmalaya Tegal").split()
REQUIRED = ("id", "text", "issues", "regions", "split", "source")
ELECTIONS = ("pilkada_2024", "pemilu_2024", "pilkada_2020", "pemilu_2019", "pilkada_2018", "pilkada_2017",
             "pilkada_2015", "pemilu_2014")
NEAR_DUPLICATE = 0.8  # cosine of TF-IDF word 1-3-gram vectors
WORDS = {"written": (120, 700), "written_v2": (150, 1500)}  # allowed body length per corpus version
# Labels that were weakest on real news (issue 10): corpus v2 gives each of them at least 100 positives.
V2_WEAK_LABELS = ("integritas_penyelenggara", "penyalahgunaan_wewenang", "pelanggaran_kampanye", "ujaran_kebencian",
                  "hoaks", "kekerasan_intimidasi", "politisasi_sara")


@dataclass
class CheckResult:
    errors: list[str] = field(default_factory=list)
    minimums: list[tuple[str, float, float]] = field(default_factory=list)  # (what, value, minimum)
    tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(v >= m for _, v, m in self.minimums)


def words(text: str) -> int:
    return len(text.split())


def near_duplicates(rows: list[dict], threshold: float = NEAR_DUPLICATE) -> list[tuple[str, str, float]]:
    """Pairs of articles whose TF-IDF (word 1-3-gram, sublinear tf) cosine is at least `threshold`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(rows) < 2:
        return []
    vec = TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, min_df=1).fit_transform([r["text"] for r in rows])
    sim = (vec @ vec.T).tocoo()
    return sorted({(rows[i]["id"], rows[j]["id"], round(float(v), 3))
                   for i, j, v in zip(sim.row, sim.col, sim.data) if i < j and v >= threshold}, key=lambda x: -x[2])


def check_corpus(rows: list[dict], taxonomy: Taxonomy | None = None, gazetteer=None) -> CheckResult:
    """Validate `rows` (written articles and seeds) and compute the data-card statistics."""
    taxonomy = taxonomy or Taxonomy.load()
    if gazetteer is None:
        from model.regions import RegionTagger

        gazetteer = RegionTagger.load().gazetteer
    res = CheckResult()
    ids = collections.Counter(r.get("id") for r in rows)
    res.errors += [f"duplicate id {i!r} ({n}x)" for i, n in ids.items() if n > 1]
    for r in rows:
        rid = r.get("id")
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            res.errors.append(f"{rid}: missing fields {missing}")
            continue
        if not str(r["text"]).strip():
            res.errors.append(f"{rid}: empty text")
        bad = [i for i in r["issues"] if i not in taxonomy.label2id]
        if bad:
            res.errors.append(f"{rid}: unknown issue ids {bad}")
        for reg in r["regions"]:
            if gazetteer.get(reg.get("code", "")) is None:
                res.errors.append(f"{rid}: unknown region code {reg.get('code')!r}")
        if r["split"] not in ("train", "dev", "test"):
            res.errors.append(f"{rid}: split {r['split']!r}")
    for r in rows:
        lo, hi = WORDS.get(r.get("source"), (1, 10**9))
        if not lo <= words(str(r.get("text", ""))) <= hi:
            res.errors.append(f"{r.get('id')}: {words(str(r.get('text', '')))} words (allowed {lo}-{hi})")
    written = [r for r in rows if r.get("source") == "written"]
    if written:
        check_v1(written, taxonomy, gazetteer, res)
    v2 = [r for r in rows if r.get("source") == "written_v2"]
    if v2:
        check_v2(v2, taxonomy, res)
    check_splits(rows, res)
    res.tables.append(split_table(rows, taxonomy))
    return res


def check_v1(written: list[dict], taxonomy: Taxonomy, gazetteer, res: CheckResult) -> None:
    """The v1 data card's minimums (810 written articles of 120-700 words)."""
    wc = [words(r["text"]) for r in written]

    pos = [r for r in written if r["issues"]]
    neg = [r for r in written if not r["issues"]]
    label_counts = collections.Counter(i for r in written for i in r["issues"])
    kabkota = {g["code"] for r in written for g in r["regions"] if "." in g["code"]}
    provinces = {g["code"][:2] for r in written for g in r["regions"]}

    def base_name(code: str) -> str:
        return (gazetteer.get(code) or {}).get("name", "").replace("Kabupaten ", "").replace("Kota ", "")

    shared = [r for r in written if any(base_name(g["code"]) in SHARED_NAMES for g in r["regions"] if "." in g["code"])]
    add = minimum_adder(res, "v1")

    add(("articles (written)", len(written), 700))
    add(("median words per article", statistics.median(wc) if wc else 0, 250))
    for label in taxonomy.ids:
        add((f"positives: {label}", label_counts[label], 55))
    add(("share of positive articles with >= 2 issues", round(sum(len(r["issues"]) > 1 for r in pos) / max(1, len(pos)), 3), 0.30))
    add(("articles with no issue", len(neg), 180))
    add(("  no-issue election news", sum(r.get("election", "none") != "none" for r in neg), 90))
    add(("  no-issue non-election regional news", sum(r.get("election", "none") == "none" for r in neg), 90))
    add(("  of which hard negatives (notes say so)", sum("hard negative" in r.get("notes", "").lower() for r in neg), 20))
    add(("provinces covered", len(provinces), 38))
    add(("distinct regencies/cities", len(kabkota), 250))
    add(("articles about a shared Kota/Kabupaten name", len(shared), 80))
    add(("articles whose dateline differs from the focus", sum(bool(r.get("dateline_differs")) for r in written), 50))
    add(("national articles (no region)", sum(not r["regions"] for r in written), 60))
    add(("elections represented", len({r.get("election") for r in written} & set(ELECTIONS)), 5))
    add(("event kinds represented", len({r.get("event_kind") for r in written} - {None, "non_election"}), 5))

    res.tables.append("v1 " + length_table(wc, [(120, 200), (200, 300), (300, 400), (400, 500), (500, 600), (600, 701)]))
    res.tables.append("v1 " + cooccurrence_table(written, taxonomy))
    res.tables.append("v1 elections: " + counts(written, "election"))
    res.tables.append("v1 event kinds: " + counts(written, "event_kind"))
    res.tables.append("v1 outlet styles per split: " + styles_per_split(written))


def check_v2(v2: list[dict], taxonomy: Taxonomy, res: CheckResult) -> None:
    """Corpus v2 (written in the shapes of real online news): size, lengths, hard negatives, weak labels."""
    wc = [words(r["text"]) for r in v2]
    labels = collections.Counter(i for r in v2 for i in r["issues"])
    neg = [r for r in v2 if not r["issues"]]
    pos = [r for r in v2 if r["issues"]]

    add = minimum_adder(res, "v2")

    add(("articles", len(v2), 800))
    add(("share of articles over 600 words", round(sum(w > 600 for w in wc) / max(1, len(wc)), 3), 0.25))
    add(("articles with no issue (hard negatives + election news without risk)", len(neg), 200))
    for label in V2_WEAK_LABELS:
        add((f"positives: {label}", labels[label], 100))
    add(("share of positive articles with >= 2 issues", round(sum(len(r["issues"]) > 1 for r in pos) / max(1, len(pos)), 3), 0.30))
    add(("writers", len({r.get("writer") for r in v2}), 3))
    res.tables.append("v2 " + length_table(wc, [(150, 300), (300, 600), (600, 1000), (1000, 1501)]))
    res.tables.append("v2 positives per label: " + ", ".join(f"{i}={labels[i]}" for i in taxonomy.ids))
    res.tables.append("v2 no-issue kinds: " + counts(neg, "negative_kind"))
    res.tables.append("v2 " + cooccurrence_table(v2, taxonomy))
    res.tables.append("v2 elections: " + counts(v2, "election"))
    res.tables.append("v2 event kinds: " + counts(v2, "event_kind"))
    res.tables.append("v2 writers per split: " + "; ".join(
        f"{s}: " + ", ".join(sorted({str(r.get('writer')) for r in v2 if r['split'] == s})) for s in ("train", "dev", "test")))
    res.tables.append("v2 outlet styles per split: " + styles_per_split(v2))


def check_splits(rows: list[dict], res: CheckResult) -> None:
    """Dev and test share no outlet, writer or event with train; no near-duplicate pair anywhere."""
    for key in ("outlet", "writer", "event"):
        values = {s: {r.get(key) for r in rows if r["split"] == s and r.get(key)} for s in ("train", "dev", "test")}
        for s in ("dev", "test"):
            leak = values[s] & values["train"]
            if leak:
                res.errors.append(f"{key}s in both train and {s}: {sorted(leak)[:10]}")
    split_of = {r["id"]: r["split"] for r in rows}
    for a, b, sim in near_duplicates(rows):
        where = "across splits" if split_of[a] != split_of[b] else "within a split"
        res.errors.append(f"near-duplicate {where}: {a} ~ {b} (TF-IDF cosine {sim})")


def minimum_adder(res: CheckResult, corpus: str):
    """`add((what, value, minimum))` for one corpus version: its name prefixes every line it adds."""
    def add(item: tuple[str, float, float]) -> None:
        res.minimums.append((f"{corpus} {item[0]}", item[1], item[2]))
    return add


def counts(rows: list[dict], key: str) -> str:
    return ", ".join(f"{k}={v}" for k, v in collections.Counter(r.get(key) for r in rows).most_common())


def styles_per_split(rows: list[dict]) -> str:
    return "; ".join(f"{s}: " + ", ".join(sorted({str(r.get('outlet_style')) for r in rows if r['split'] == s}))
                     for s in ("train", "dev", "test"))


def split_table(rows: list[dict], taxonomy: Taxonomy) -> str:
    lines = [f"{'split':<6}{'n':>5}{'none':>6}{'natl':>6}  " + " ".join(f"{i[:6]:>6}" for i in taxonomy.ids)]
    for s in ("train", "dev", "test"):
        sub = [r for r in rows if r["split"] == s]
        c = collections.Counter(i for r in sub for i in r["issues"])
        lines.append(f"{s:<6}{len(sub):>5}{sum(not r['issues'] for r in sub):>6}{sum(not r['regions'] for r in sub):>6}  "
                     + " ".join(f"{c[i]:>6}" for i in taxonomy.ids))
    return "per split (rows incl. seeds; none = no issue, natl = no region):\n" + "\n".join(lines)


def length_table(wc: list[int], bins: list[tuple[int, int]]) -> str:
    rows = [f"  {lo:>3}-{hi - 1:<3} {sum(lo <= w < hi for w in wc):>5}" for lo, hi in bins]
    q = statistics.quantiles(wc, n=4) if len(wc) > 1 else [0, 0, 0]
    return (f"words per article: min {min(wc, default=0)}, q1 {q[0]:.0f}, median {q[1]:.0f}, q3 {q[2]:.0f}, "
            f"max {max(wc, default=0)}\n" + "\n".join(rows))


def cooccurrence_table(rows: list[dict], taxonomy: Taxonomy) -> str:
    short = {i: i[:6] for i in taxonomy.ids}
    c = collections.Counter((a, b) for r in rows for a in r["issues"] for b in r["issues"])
    lines = [" " * 8 + " ".join(f"{short[i]:>6}" for i in taxonomy.ids)]
    for a in taxonomy.ids:
        lines.append(f"{short[a]:<8}" + " ".join(f"{c[(a, b)]:>6}" for b in taxonomy.ids))
    return "label co-occurrence (diagonal = positives):\n" + "\n".join(lines)


def format_result(res: CheckResult) -> str:
    out = ["minimums:"]
    for what, value, minimum in res.minimums:
        out.append(f"  [{'ok' if value >= minimum else 'MISSING'}] {what}: {value} (min {minimum})")
    out += res.tables
    out.append(f"errors: {len(res.errors)}")
    out += [f"  {e}" for e in res.errors[:100]]
    out.append("DATA CHECK PASSED" if res.ok else "DATA CHECK FAILED")
    return "\n".join(out)
