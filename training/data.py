"""Load the annotated corpus and the seeds into fixed splits, and fingerprint the data a model was trained on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from model.taxonomy import Taxonomy

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIRS = (REPO / "training" / "corpus" / "written", REPO / "training" / "corpus" / "written_v2")
SEEDS_DIR = REPO / "seeds"
SPLITS = ("train", "dev", "test")
# v1: the first written corpus and the seeds; v2: written in the shapes of real online news (outlets, events and
# writers of its dev and test splits are disjoint from train). Both are reported separately.
CORPUS_OF_SOURCE = {"written": "v1", "seed": "v1", "written_v2": "v2"}


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL file; a malformed line is an error naming the file and line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{n}: invalid JSON ({err.msg})") from None
    return rows


def load_seeds(seeds_dir: str | Path = SEEDS_DIR) -> list[dict]:
    """The five real seed articles as corpus rows (train split)."""
    seeds_dir = Path(seeds_dir)
    rows = []
    for label in read_jsonl(seeds_dir / "labels.jsonl"):
        text = (seeds_dir / label["file"]).read_text(encoding="utf-8")
        rows.append({"id": "seed-" + label["file"].split("_")[0], "text": text, "title": None,
                     "issues": label["issues"], "regions": label["regions"], "split": "train", "source": "seed",
                     "outlet_style": "real", "election": "pilkada_2024", "notes": "real seed article"})
    return rows


def load_corpus(corpus_dirs: Iterable[str | Path] = CORPUS_DIRS, *, with_seeds: bool = True) -> list[dict]:
    """All written articles (every `*.jsonl` under each of `corpus_dirs`, v1 then v2) plus the seeds, in a stable
    order."""
    rows = [r for d in corpus_dirs for p in sorted(Path(d).glob("*.jsonl")) for r in read_jsonl(p)]
    if with_seeds:
        rows += load_seeds()
    return rows


def article_text(row: dict) -> str:
    """The text a model sees: the title as first line unless the body already starts with it."""
    from model.text import join_title

    return join_title(row["text"], row.get("title"))


def corpus_of(row: dict) -> str:
    """"v1" or "v2" for corpus rows; "other" for rows from elsewhere (annotations, a user's file)."""
    return CORPUS_OF_SOURCE.get(row.get("source", ""), "other")


def corpus_indices(rows: list[dict]) -> dict[str, list[int]]:
    """Positions of the v1 and of the v2 rows in `rows`: every report shows the two yardsticks apart."""
    return {c: [i for i, r in enumerate(rows) if corpus_of(r) == c] for c in ("v1", "v2")}


def split_rows(rows: Iterable[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for r in rows:
        if r["split"] not in out:
            raise ValueError(f"{r.get('id')}: unknown split {r['split']!r}")
        out[r["split"]].append(r)
    return out


def to_dataset(rows: list[dict], taxonomy: Taxonomy):
    """A `datasets.Dataset` with id, text (title joined) and multi-hot `labels` in taxonomy order."""
    from datasets import Dataset

    return Dataset.from_dict({
        "id": [r["id"] for r in rows],
        "text": [article_text(r) for r in rows],
        "labels": [taxonomy.multi_hot(r["issues"]) for r in rows],
    })


def data_hash(rows: Iterable[dict]) -> str:
    """sha256 over (id, split, issues, text) of every row, order-independent: what the model learned from."""
    h = hashlib.sha256()
    for key in sorted(json.dumps([r["id"], r["split"], sorted(r["issues"]), r["text"]], ensure_ascii=False)
                      for r in rows):
        h.update(key.encode("utf-8"))
    return h.hexdigest()


def read_labelled(paths: Iterable[str | Path], taxonomy: Taxonomy) -> list[dict]:
    """Rows of labelled JSONL files (`text`, `issues`; optional `id`, `title`, `regions`, `split`) for evaluation.

    Every row is checked before anything is scored, so a typo in a label or a missing text is reported as
    `file:line: reason` instead of silently counting as a negative. Regions may be codes or `{"code": ...}`.
    """
    rows, errors = [], []
    for path in paths:
        for n, row in enumerate(read_jsonl(path), 1):
            where = f"{path}:{n}"
            if not isinstance(row, dict):
                errors.append(f"{where}: not a JSON object")
                continue
            if not isinstance(row.get("text"), str) or not row["text"].strip():
                errors.append(f"{where}: missing or empty 'text'")
            issues = row.get("issues")
            if not isinstance(issues, list):
                errors.append(f"{where}: 'issues' must be a list of issue ids (empty for no issue)")
            else:
                unknown = [i for i in issues if i not in taxonomy.label2id]
                if unknown:
                    errors.append(f"{where}: unknown issue ids {unknown}")
            regions = row.get("regions") or []
            row = dict(row, id=row.get("id") or where,
                       regions=[r if isinstance(r, dict) else {"code": str(r)} for r in regions])
            rows.append(row)
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ValueError("invalid labelled rows:\n  " + "\n  ".join(errors[:20]) + more)
    return rows
