"""Region tagging quality on the annotated corpus: top-1 accuracy, set P/R/F1 and the error (confusion) list.

Usage: .venv/bin/python bench/region_eval.py --split dev [--split train] [--verbose]
Tune on train/dev only; run --split test once, at the end.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.regions import RegionTagger, evaluate_regions  # noqa: E402
from model.text import join_title  # noqa: E402

DEFAULT_GLOB = str(ROOT / "training/corpus/written*/part_*.jsonl")  # v1 and v2


def load_corpus(pattern: str, splits: set[str]) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(pattern)):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue   # a file still being written
            if row.get("split") in splits:
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", action="append", default=None, help="train, dev or test (repeatable)")
    ap.add_argument("--corpus", default=DEFAULT_GLOB)
    ap.add_argument("--verbose", action="store_true", help="print mentions for each error")
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = ap.parse_args(argv)
    splits = set(args.split or ["dev"])
    rows = load_corpus(args.corpus, splits)
    if not rows:
        print(f"no rows for splits {sorted(splits)} in {args.corpus}")
        return 1
    tagger = RegionTagger.load()
    gaz = tagger.gazetteer
    texts = [join_title(r.get("text", ""), r.get("title")) for r in rows]
    preds = [tagger.codes(t) for t in texts]
    golds = [[g["code"] for g in r.get("regions", [])] for r in rows]
    res = evaluate_regions(preds, golds, [r["id"] for r in rows])
    if args.json:
        print(json.dumps({k: v for k, v in res.items()}, ensure_ascii=False, indent=1))
        return 0
    print(f"splits={','.join(sorted(splits))} n={res['n']}  top1={res['top1_accuracy']:.3f}  "
          f"set P={res['set_precision']:.3f} R={res['set_recall']:.3f} F1={res['set_f1']:.3f}")

    def nm(code: str) -> str:
        info = gaz.get(code)
        return f"{code} {info['name']}" if info else code

    confusion: Counter = Counter()
    for e in res["errors"]:
        p = e["pred"][0] if e["pred"] else "∅"
        g = e["gold"][0] if e["gold"] else "∅"
        if not e["top1_ok"]:
            confusion[(g, p)] += 1
    if confusion:
        print("top-1 confusions (gold -> predicted):")
        for (g, p), c in confusion.most_common():
            print(f"  {c}x  {nm(g) if g != '∅' else '∅'}  ->  {nm(p) if p != '∅' else '∅'}")
    print("errors (top-1 wrong or set differs):")
    for e in res["errors"]:
        row = rows[e["index"]]
        flag = "TOP1" if not e["top1_ok"] else "SET "
        print(f"  {flag} {e['id']}: gold={[nm(c) for c in e['gold']]} pred={[nm(c) for c in e['pred']]} "
              f"| {row.get('title', '')[:70]}")
        if args.verbose:
            for m in tagger.mentions(texts[e["index"]]):
                print(f"       {m.text!r} {m.codes} kind={m.kind} pre={m.prefix} cue={m.cue} inst={m.institution} "
                      f"T={m.in_title:d} D={m.in_dateline:d} L={m.in_lead:d} N={m.noise:d} V={m.venue:d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
