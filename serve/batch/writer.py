"""Output written in parts that appear whole or not at all.

Rows are buffered up to `part_rows`, written to `.part-NNNNN.<ext>.tmp`, flushed to disk and renamed with
`os.replace`; the errors found in the same rows go to `errors/part-NNNNN.jsonl` the same way. A job killed at any
moment leaves only complete parts (plus temporaries that `Ledger.read` deletes), so resuming is exact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from serve.batch.ledger import ERRORS_DIR

FORMATS = ("parquet", "jsonl")


def commit_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary name beside `path`, fsync, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def jsonl_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def parquet_bytes(rows: Sequence[dict[str, Any]], schema) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(list(rows), schema=schema), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


class PartWriter:
    """Buffers rows and error reports and commits them as numbered parts."""

    def __init__(self, out_dir: str | Path, fmt: str, schema, *, part_rows: int = 2000, first_part: int = 0) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"output format must be one of {FORMATS}, got {fmt!r}")
        self.root = Path(out_dir)
        (self.root / ERRORS_DIR).mkdir(parents=True, exist_ok=True)
        self.fmt, self.schema, self.part_rows = fmt, schema, max(1, part_rows)
        self.part = first_part
        self.rows: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.committed_rows = 0

    def add(self, rows: Sequence[dict[str, Any]], reports: Sequence[dict[str, Any]] = ()) -> None:
        self.rows.extend(rows)
        self.reports.extend(reports)
        if len(self.rows) + len(self.reports) >= self.part_rows:
            self.flush()

    def flush(self) -> None:
        """Commit what is buffered: errors first, then rows (each is de-duplicated on resume independently)."""
        if not self.rows and not self.reports:
            return
        name = f"part-{self.part:05d}"
        if self.reports:
            commit_bytes(self.root / ERRORS_DIR / f"{name}.jsonl", jsonl_bytes(self.reports))
        if self.rows:
            data = parquet_bytes(self.rows, self.schema) if self.fmt == "parquet" else jsonl_bytes(self.rows)
            commit_bytes(self.root / f"{name}.{self.fmt}", data)
        self.committed_rows += len(self.rows)
        self.part += 1
        self.rows, self.reports = [], []
