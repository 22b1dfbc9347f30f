"""Analyst annotations in one SQLite file (WAL mode): the serving side of retraining.

Usage::

    store = AnnotationStore("data/annotations.db")
    ids = store.add([{"text": "...", "title": None, "issues": ["politik_uang"], "regions": ["32.75"]}],
                    annotator="rina", source="web")
    rows = store.current()          # active annotations, oldest first, one per distinct text

Each record is keyed by `text_hash` = sha256 of the NFC-normalised, stripped text. Adding a record for a text that
already has an active annotation marks the old row 'superseded' (kept for audit, see `history`). `add` validates
every record first (non-empty text, issue ids in the taxonomy, region codes known to the gazetteer) and then writes
all of them in one transaction, or raises `AnnotationError` with every (index, reason) and writes nothing.

Rows come back as dicts: id, text, text_hash, title, issues (list of ids), regions (list of {"code", "name"}, the
corpus format), annotator, source, created (UTC ISO-8601), status. Pure Python + sqlite3; no torch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from model.taxonomy import Taxonomy
from model.text import normalize_text

DEFAULT_PATH = Path("data/annotations.db")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    text       TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    title      TEXT,
    issues     TEXT NOT NULL,           -- JSON list of issue ids
    regions    TEXT NOT NULL,           -- JSON list of {"code", "name"}
    annotator  TEXT NOT NULL,
    source     TEXT NOT NULL,
    created    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'superseded'))
);
CREATE INDEX IF NOT EXISTS annotations_hash ON annotations (text_hash);
CREATE UNIQUE INDEX IF NOT EXISTS annotations_one_active ON annotations (text_hash) WHERE status = 'active';
"""
_COLUMNS = ("id", "text", "text_hash", "title", "issues", "regions", "annotator", "source", "created", "status")


class AnnotationError(ValueError):
    """Some records were invalid; `errors` lists (index, reason) for each problem. Nothing was written."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"record {i}: {reason}" for i, reason in errors))


def text_hash(text: str) -> str:
    """The identity of an article's text: sha256 of the NFC-normalised, stripped text."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def _same_labels_row(db: sqlite3.Connection, h: str, rec: dict[str, Any]) -> int | None:
    """The id of the active row of text hash `h` if it has the same title, issues and regions as `rec` (order of
    labels ignored), else None."""
    row = db.execute("SELECT id, title, issues, regions FROM annotations WHERE text_hash=? AND status='active'",
                     (h,)).fetchone()
    if row is None:
        return None
    row_id, title, issues, regions = row
    same = (title == rec["title"] and sorted(json.loads(issues)) == sorted(rec["issues"])
            and sorted(r["code"] for r in json.loads(regions)) == sorted(r["code"] for r in rec["regions"]))
    return int(row_id) if same else None


class AnnotationStore:
    """Append-mostly annotation table. Thread-safe: one short-lived connection per call."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, taxonomy: Taxonomy | None = None, gazetteer=None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._taxonomy = taxonomy
        self._gazetteer = gazetteer
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    # -- validation sources (loaded on first use) ----------------------------------------------------------------
    @property
    def taxonomy(self) -> Taxonomy:
        if self._taxonomy is None:
            self._taxonomy = Taxonomy.load()
        return self._taxonomy

    @property
    def gazetteer(self):
        if self._gazetteer is None:
            from model.regions import RegionTagger

            self._gazetteer = RegionTagger.load().gazetteer
        return self._gazetteer

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    # -- writing -------------------------------------------------------------------------------------------------
    def validate(self, records: list[dict]) -> list[dict[str, Any]]:
        """Clean records (text stripped, regions as {"code","name"}) or AnnotationError listing every problem."""
        errors: list[tuple[int, str]] = []
        clean: list[dict[str, Any]] = []
        known = set(self.taxonomy.ids)
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                errors.append((i, "record is not an object"))
                continue
            text = rec.get("text")
            if not isinstance(text, str) or not text.strip():
                errors.append((i, "text is missing or empty"))
                continue
            title = rec.get("title")
            if title is not None and not isinstance(title, str):
                errors.append((i, "title must be a string"))
            issues = rec.get("issues") or []
            if not isinstance(issues, list) or not all(isinstance(x, str) for x in issues):
                errors.append((i, "issues must be a list of issue ids"))
                issues = []
            bad = [x for x in issues if x not in known]
            if bad:
                errors.append((i, f"unknown issue ids {bad}; known: {sorted(known)}"))
            regions, region_errors = self._regions(rec.get("regions") or [])
            errors.extend((i, reason) for reason in region_errors)
            clean.append({"text": text.strip(), "title": title.strip() if isinstance(title, str) and title.strip()
                          else None, "issues": list(dict.fromkeys(issues)), "regions": regions})
        if errors:
            raise AnnotationError(errors)
        return clean

    def _regions(self, raw) -> tuple[list[dict[str, str]], list[str]]:
        if not isinstance(raw, list):
            return [], ["regions must be a list of region codes"]
        out, errors = [], []
        for item in raw:
            code = item.get("code") if isinstance(item, dict) else item
            if not isinstance(code, str) or not self.gazetteer.is_valid(code.strip()):
                errors.append(f"unknown region code {code!r} (want a province or regency/city code like '32.75')")
                continue
            info = self.gazetteer.get(code.strip())
            if all(r["code"] != info["code"] for r in out):
                out.append({"code": info["code"], "name": info["name"]})
        return out, errors

    def add(self, records: list[dict], *, annotator: str, source: str) -> list[int]:
        """Validate all records, then insert them in one transaction (superseding older rows of the same text)."""
        return [row_id for row_id, _ in self._write(records, annotator, source, skip_unchanged=False)]

    def add_if_changed(self, records: list[dict], *, annotator: str, source: str) -> list[tuple[int, bool]]:
        """Like `add`, but a record whose text already has an active row with the same title, issues and regions
        is not written again: (id of the active row, False). Others: (new id, True). Redelivered events (webhooks
        retry) therefore store once."""
        return self._write(records, annotator, source, skip_unchanged=True)

    def _write(self, records: list[dict], annotator: str, source: str, *,
               skip_unchanged: bool) -> list[tuple[int, bool]]:
        if not annotator or not source:
            raise ValueError("annotator and source are required")
        clean = self.validate(list(records))
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        out: list[tuple[int, bool]] = []
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for rec in clean:
                    h = text_hash(rec["text"])
                    if skip_unchanged:
                        same = _same_labels_row(db, h, rec)
                        if same is not None:
                            out.append((same, False))
                            continue
                    db.execute("UPDATE annotations SET status='superseded' WHERE text_hash=? AND status='active'",
                               (h,))
                    cur = db.execute(
                        "INSERT INTO annotations (text, text_hash, title, issues, regions, annotator, source, "
                        "created, status) VALUES (?,?,?,?,?,?,?,?, 'active')",
                        (rec["text"], h, rec["title"], json.dumps(rec["issues"]),
                         json.dumps(rec["regions"], ensure_ascii=False), annotator, source, created))
                    out.append((int(cur.lastrowid), True))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return out

    # -- reading -------------------------------------------------------------------------------------------------
    def _rows(self, where: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM annotations {where} ORDER BY id", args).fetchall()
        out = []
        for row in rows:
            d = dict(zip(_COLUMNS, row))
            d["issues"], d["regions"] = json.loads(d["issues"]), json.loads(d["regions"])
            out.append(d)
        return out

    def current(self) -> list[dict[str, Any]]:
        """Active annotations (the latest per text), oldest first."""
        return self._rows("WHERE status='active'")

    def history(self, text_hash: str) -> list[dict[str, Any]]:
        """Every annotation of one text, oldest first (superseded ones included)."""
        return self._rows("WHERE text_hash=?", (text_hash,))

    def count(self, *, include_superseded: bool = False) -> int:
        """Number of active annotations (or of all rows)."""
        with self._connect() as db:
            sql = "SELECT COUNT(*) FROM annotations" + ("" if include_superseded else " WHERE status='active'")
            return int(db.execute(sql).fetchone()[0])
