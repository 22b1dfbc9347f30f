"""What a job has already committed, and the gate that decides what each input row becomes.

The committed part files are the ledger: a part is renamed into place only when complete, and each output row
carries its `source` and `position`, so reading the parts back (id, source, position, text hash) says exactly which
rows are done. No separate index can drift from the data: a kill between two renames loses nothing and repeats
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from model.text import join_title
from serve.batch.readers import Record

ERRORS_DIR = "errors"
MANIFEST = "_manifest.json"
SUMMARY = "_summary.json"


def text_hash(text: str, title: str | None) -> str:
    """sha256 (first 32 hex digits) of the exact text the model sees: normalised, title joined."""
    return hashlib.sha256(join_title(text, title).encode("utf-8")).hexdigest()[:32]


def output_parts(out_dir: str | Path) -> list[Path]:
    """Committed output files (temporary and bookkeeping files start with '.' or '_')."""
    root = Path(out_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".parquet", ".jsonl")
                  and not p.name.startswith((".", "_")))


def error_parts(out_dir: str | Path) -> list[Path]:
    root = Path(out_dir) / ERRORS_DIR
    return sorted(p for p in root.glob("*.jsonl") if not p.name.startswith(".")) if root.is_dir() else []


def iter_part_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows of one output file; raises if the file is incomplete (no Parquet footer, a torn last JSON line)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=8192, columns=columns):
            yield from batch.to_pylist()
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        raise ValueError(f"{path}: torn last line")
    for line in data.splitlines():
        if line.strip():
            row = json.loads(line)
            yield {k: row.get(k) for k in columns} if columns else row


@dataclass
class Ledger:
    """Rows already committed to an output directory."""

    committed: dict[str, str] = field(default_factory=dict)   # id -> "source:position" of the scored row
    hashes: dict[str, str] = field(default_factory=dict)      # text hash -> id of the first article scored with it
    reported: set[str] = field(default_factory=set)           # "source:position" already in the errors files
    removed: list[str] = field(default_factory=list)          # incomplete files deleted while reading
    next_part: int = 0

    @classmethod
    def read(cls, out_dir: str | Path) -> "Ledger":
        """Read every committed part; delete leftovers of a killed run (temporary or unreadable files)."""
        root = Path(out_dir)
        led = cls()
        if not root.is_dir():
            return led
        for tmp in list(root.glob(".*.tmp")) + list((root / ERRORS_DIR).glob(".*.tmp")):
            tmp.unlink(missing_ok=True)
            led.removed.append(str(tmp))
        cols = ["id", "source", "position", "text_hash", "duplicate_of"]
        for path in output_parts(root):
            try:
                rows = list(iter_part_rows(path, cols))
            except Exception:  # an engine that writes in place (Ray) was killed mid-file: that file is not done
                path.unlink()
                led.removed.append(str(path))
                continue
            for r in rows:
                led.committed[r["id"]] = where(r["source"], r["position"])
                if r["text_hash"] and not r["duplicate_of"]:
                    led.hashes.setdefault(r["text_hash"], r["id"])
            led.next_part = max(led.next_part, _part_number(path) + 1)
        for path in error_parts(root):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    r = json.loads(line)
                    led.reported.add(where(r["source"], r["position"]))
            led.next_part = max(led.next_part, _part_number(path) + 1)
        return led


def where(source: str, position: int | None) -> str:
    return f"{source}:{position or 0}"


def _part_number(path: Path) -> int:
    stem = path.name.split(".")[0]
    return int(stem.split("-")[-1]) if stem.startswith("part-") and stem.split("-")[-1].isdigit() else -1


@dataclass
class Item:
    """An input row with the gate's decision: write an output row? score it? report it?"""

    rec: Record
    row: bool                      # write an output row for it (its id is new)
    text_hash: str | None = None
    duplicate_of: str | None = None
    report: dict | None = None     # a line for the errors file

    @property
    def scorable(self) -> bool:
        return self.row and self.rec.error is None and self.duplicate_of is None


class Gate:
    """Turns records into items: skips what is committed, reports duplicates and bad rows once each.

    Idempotent per position: the same row seen again (a resumed run, a retried Ray task) gets the same decision,
    while a second row with an id already taken is a duplicate.
    """

    def __init__(self, ledger: Ledger | None = None, dedupe_text: bool = False) -> None:
        ledger = ledger or Ledger()
        self.committed, self.reported = ledger.committed, ledger.reported
        self.hashes = dict(ledger.hashes) if dedupe_text else None
        self.seen: dict[str, str] = {}

    def admit(self, rec: Record, hashed: str | None = None) -> Item | None:
        """The decision for one record; None when there is nothing to do (already committed and reported).

        `hashed` is the record's `text_hash` when the caller computed it (Ray sends records without their text).
        """
        key = where(rec.source, rec.position)
        reason, kind = rec.error, "error"
        row = False
        if rec.id is not None:
            first = self.committed.get(rec.id) or self.seen.get(rec.id)
            if first is None:
                self.seen[rec.id] = key
                row = True
            elif first != key:
                reason, kind = f"duplicate id (first at {first})", "duplicate"
            else:
                row = rec.id not in self.committed  # same row again in this run (a retried task) -> redo it
        item = Item(rec, row)
        if rec.error is None and (hashed or rec.text is not None):
            item.text_hash = hashed or text_hash(rec.text, rec.title)
            if row and self.hashes is not None:
                first_id = self.hashes.setdefault(item.text_hash, rec.id)
                if first_id != rec.id:
                    item.duplicate_of = first_id
                    reason, kind = f"duplicate text of {first_id}", "duplicate"
        if reason and key not in self.reported:
            item.report = {"source": rec.source, "position": rec.position, "id": rec.id, "kind": kind,
                           "reason": reason, "row": rec.raw}
        return item if (item.row or item.report) else None


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
