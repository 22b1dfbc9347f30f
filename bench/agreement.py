"""Inter-annotator agreement of a blind second labelling against the corpus labels: per-label Cohen's kappa,
exact issue-set match, issue vs no-issue, top-1 region. Usage:
python bench/agreement.py training/corpus/agreement/v2_blind_b.jsonl"""

from __future__ import annotations

import argparse

from common import REPO  # noqa: F401  (puts the repo on sys.path)
from sklearn.metrics import cohen_kappa_score

from model.taxonomy import Taxonomy
from training.data import load_corpus, read_jsonl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("second", help="JSONL of {id, issues, regions} from the second annotator")
    args = ap.parse_args()
    tax = Taxonomy.load()
    first = {r["id"]: r for r in load_corpus()}
    second = read_jsonl(args.second)
    pairs = [(first[b["id"]], b) for b in second]
    print(f"{len(pairs)} articles labelled twice (first = corpus, second = blind annotator)")
    print(f"{'label':<26}{'agree':>8}{'kappa':>8}{'pos A':>7}{'pos B':>7}")
    for label in tax.ids:
        a = [label in x["issues"] for x, _ in pairs]
        b = [label in y["issues"] for _, y in pairs]
        agree = sum(p == q for p, q in zip(a, b))
        kappa = cohen_kappa_score(a, b) if len(set(a) | set(b)) > 1 else float("nan")
        print(f"{label:<26}{agree:>5}/{len(pairs):<2}{kappa:>8.2f}{sum(a):>7}{sum(b):>7}")
    exact = sum(set(x["issues"]) == set(y["issues"]) for x, y in pairs)
    any_issue = sum(bool(x["issues"]) == bool(y["issues"]) for x, y in pairs)
    region = sum((x["regions"][0]["code"] if x["regions"] else None) == (y["regions"][0] if y["regions"] else None)
                 for x, y in pairs)
    print(f"exact issue-set match {exact}/{len(pairs)}; issue vs no-issue {any_issue}/{len(pairs)}; "
          f"top-1 region {region}/{len(pairs)}")
    print("disagreements:")
    for x, y in pairs:
        if set(x["issues"]) != set(y["issues"]):
            print(f"  {x['id']}: corpus {sorted(x['issues'])} vs second {sorted(y['issues'])} | {y.get('note', '')}")


if __name__ == "__main__":
    main()
