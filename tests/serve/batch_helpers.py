"""Input builders and output readers shared by the batch tests."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def corpus_rows(n: int, offset: int = 0) -> list[dict]:
    """`n` distinct real articles from the written corpus (id, title, text)."""
    from training.data import load_corpus

    rows = load_corpus(with_seeds=False)[offset:offset + n]
    assert len(rows) == n, "corpus too small for the test"
    return [{"id": r["id"], "title": r.get("title"), "text": r["text"]} for r in rows]


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_csv(path: Path, rows: list[dict], gz: bool = False) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "title", "text"])
        w.writeheader()
        w.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def read_output(out: Path) -> list[dict]:
    """Every committed output row, sorted by id."""
    from serve.batch.ledger import iter_part_rows, output_parts

    return sorted((r for p in output_parts(out) for r in iter_part_rows(p)), key=lambda r: r["id"])


def read_errors(out: Path) -> list[dict]:
    from serve.batch.ledger import error_parts

    return [json.loads(line) for p in error_parts(out) for line in p.read_text(encoding="utf-8").splitlines()
            if line.strip()]
