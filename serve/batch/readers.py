"""Stream articles out of archive files, one `Record` at a time, never loading a whole file.

Inputs are JSONL, CSV and Parquet files (JSONL/CSV optionally gzipped) and `.txt` files (one article per file, the
id is the file path). A bad row never raises: it comes out as a `Record` whose `error` says why, with the file and
position (line for JSONL/CSV, 1-based row for Parquet, 0 for a text file) so it can be found again.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

FORMATS = ("jsonl", "csv", "parquet", "txt")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
            ".txt": "txt"}
RAW_LIMIT = 2000  # characters of a bad row kept in the errors file


@dataclass(frozen=True)
class Columns:
    """Which fields hold the id, the text and (optionally) the title."""

    id: str = "id"
    text: str = "text"
    title: str | None = "title"


@dataclass
class Record:
    """One input row: either an article to score or a bad row (`error` set, `raw` holds what was read)."""

    id: str | None
    text: str | None
    title: str | None
    source: str
    position: int
    error: str | None = None
    raw: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.position}" if self.position else self.source


def detect_format(path: str | Path) -> str | None:
    """The input format from the suffix (`.gz` looked through), or None for a file to skip."""
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return SUFFIXES.get(os.path.splitext(name)[1])


def expand_inputs(inputs: Iterable[str], fmt: str | None = None) -> list[Path]:
    """Files named by paths, globs and directories (searched recursively), sorted, each once.

    A file named explicitly must exist; files found in directories or globs are kept only if their suffix is known
    (or `fmt` is forced).
    """
    out: list[Path] = []
    for spec in inputs:
        if any(c in spec for c in "*?["):
            found = [Path(p) for p in sorted(glob.glob(spec, recursive=True)) if Path(p).is_file()]
            if not found:
                raise FileNotFoundError(f"no input file matches {spec!r}")
        elif Path(spec).is_dir():
            found = sorted(p for p in Path(spec).rglob("*") if p.is_file() and not p.name.startswith("."))
        elif Path(spec).is_file():
            out.append(Path(spec))
            continue
        else:
            raise FileNotFoundError(f"input {spec!r} does not exist")
        out.extend(p for p in found if fmt or detect_format(p))
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def open_binary(path: str | Path, data: bytes | None = None) -> IO[bytes]:
    """A binary stream of the file (or of `data` read from it), gunzipped when the name ends in .gz.

    `data` may come already gunzipped (Ray's binary reader decompresses by suffix): only gzip magic is unpacked.
    """
    gz = str(path).lower().endswith(".gz")
    if data is not None:
        return gzip.GzipFile(fileobj=io.BytesIO(data)) if gz and data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    raw: IO[bytes] = open(path, "rb")
    return gzip.GzipFile(fileobj=raw) if gz else raw


def read_records(path: str | Path, columns: Columns = Columns(), fmt: str | None = None,
                 data: bytes | None = None) -> Iterator[Record]:
    """Every row of one file as a `Record`; `data` lets a caller that already holds the bytes (Ray) parse them."""
    source = str(path)
    last = 0
    try:
        for rec in _read_format(source, columns, fmt or detect_format(path), data):
            last = rec.position
            yield rec
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as err:  # corrupt gzip/Parquet, truncated file
        yield Record(None, None, None, source, last + 1, f"unreadable file ({type(err).__name__}: {err})"[:500])


def _read_format(source: str, columns: Columns, fmt: str | None, data: bytes | None) -> Iterator[Record]:
    if fmt == "jsonl":
        yield from _read_jsonl(source, columns, data)
    elif fmt == "csv":
        yield from _read_csv(source, columns, data)
    elif fmt == "parquet":
        yield from _read_parquet(source, columns, data)
    elif fmt == "txt":
        yield _read_txt(source, data)
    else:
        raise ValueError(f"{source}: unknown input format (use one of {', '.join(FORMATS)})")


def count_rows(path: str | Path, fmt: str | None = None) -> int:
    """Rows in a file without parsing them (newlines, Parquet metadata): the progress bar's total, approximate for
    CSV files with multi-line fields."""
    fmt = fmt or detect_format(path)
    if fmt == "txt":
        return 1
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n, last = 0, b"\n"
    with open_binary(path) as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    n += last != b"\n"
    return max(n - 1, 0) if fmt == "csv" else n


# -- formats -------------------------------------------------------------------------------------------------
def _clip(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


def _as_id(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    value = str(value).strip()
    return value or None


def _check(fields: dict, columns: Columns, source: str, position: int, raw: str) -> Record:
    """A `Record` from one parsed row, with the reason it cannot be scored if it cannot."""
    rid = _as_id(fields.get(columns.id))
    text = fields.get(columns.text)
    title = fields.get(columns.title) if columns.title else None
    title = title if isinstance(title, str) else None
    error = None
    if rid is None:
        error = f"missing id (column {columns.id!r})"
    elif columns.text not in fields or text is None:
        error = f"missing text (column {columns.text!r})"
    elif not isinstance(text, str):
        error = f"text is not a string ({type(text).__name__})"
    elif not text.strip():
        error = "empty text"
    rec = Record(rid, text if isinstance(text, str) else None, title, source, position, error)
    if error:
        rec.raw = _clip(raw)
    return rec


def _read_jsonl(source: str, columns: Columns, data: bytes | None) -> Iterator[Record]:
    with open_binary(source, data) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as err:
                yield Record(None, None, None, source, n, f"invalid UTF-8 at byte {err.start}",
                             _clip(line.decode("utf-8", "backslashreplace").rstrip("\r\n")))
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                yield Record(None, None, None, source, n, f"malformed JSON ({err.msg})", _clip(text.rstrip("\r\n")))
                continue
            if not isinstance(row, dict):
                yield Record(None, None, None, source, n, "malformed row (not a JSON object)",
                             _clip(text.rstrip("\r\n")))
                continue
            yield _check(row, columns, source, n, text.rstrip("\r\n"))


def _has_surrogates(values: Iterable) -> bool:
    return any(isinstance(v, str) and any("\udc80" <= c <= "\udcff" for c in v) for v in values)


def _read_csv(source: str, columns: Columns, data: bytes | None) -> Iterator[Record]:
    csv.field_size_limit(1 << 30)
    with open_binary(source, data) as b, io.TextIOWrapper(b, encoding="utf-8", errors="surrogateescape",
                                                          newline="") as f:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield Record(None, None, None, source, 1, f"malformed CSV header ({err})")
            return
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield Record(None, None, None, source, start, f"malformed CSV row ({err})")
                start = reader.line_num + 1
                continue
            position, start = start, reader.line_num + 1
            if not cells:
                continue
            raw = ",".join(cells).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            if _has_surrogates(cells):
                yield Record(None, None, None, source, position, "invalid UTF-8", _clip(raw))
                continue
            if len(cells) != len(header):
                yield Record(None, None, None, source, position,
                             f"malformed CSV row ({len(cells)} fields, header has {len(header)})", _clip(raw))
                continue
            yield _check(dict(zip(header, cells)), columns, source, position, raw)


def _read_parquet(source: str, columns: Columns, data: bytes | None) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(pa.BufferReader(data) if data is not None else source)
    names = set(pf.schema_arrow.names)
    wanted = [c for c in (columns.id, columns.text, columns.title) if c and c in names]
    n = 0
    for batch in pf.iter_batches(batch_size=1024, columns=wanted):
        for row in batch.to_pylist():
            n += 1
            bad = next((k for k, v in row.items() if isinstance(v, bytes)), None)
            if bad is not None:
                try:
                    row = {k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in row.items()}
                except UnicodeDecodeError as err:
                    yield Record(_as_id(row.get(columns.id)) if columns.id != bad else None, None, None, source, n,
                                 f"invalid UTF-8 in column {bad!r} at byte {err.start}",
                                 _clip(json.dumps(row, default=lambda b: b.decode("utf-8", "backslashreplace"))))
                    continue
            yield _check(row, columns, source, n, json.dumps(row, ensure_ascii=False, default=str))


def _read_txt(source: str, data: bytes | None) -> Record:
    with open_binary(source, data) as f:
        content = f.read()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        return Record(source, None, None, source, 0, f"invalid UTF-8 at byte {err.start}",
                      _clip(content.decode("utf-8", "backslashreplace")))
    return _check({"id": source, "text": text}, Columns("id", "text", None), source, 0, text)
