"""Batch scoring of archives: `score_files(inputs, output)` on the local engine or on Ray Data.

Both engines read with `readers`, decide with `ledger.Gate` (resume, duplicates, bad rows), score with
`scoring.Scorer` and write the same row layout, so their outputs are interchangeable. See docs/batch.md.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from model.runtime import DEFAULT_TOKEN_BUDGET
from serve.batch.ledger import MANIFEST, SUMMARY, Gate, Ledger, output_parts, write_json_atomic
from serve.batch.readers import Columns, Record, count_rows, expand_inputs, read_records
from serve.batch.summary import format_summary, summarize

__all__ = ["score_files", "Columns", "summarize", "format_summary"]

ENGINES = ("local", "ray")


def score_files(inputs: Iterable[str], output: str | Path, *, model: str | Path | None = None,
                engine: str = "local", output_format: str = "parquet", columns: Columns = Columns(),
                input_format: str | None = None, resume: bool = False, dedupe_text: bool = False,
                workers: int = 1, threads: int | None = None, chunk_size: int = 32, part_rows: int = 2000,
                token_budget: int = DEFAULT_TOKEN_BUDGET, regions: bool = True, progress: bool = True,
                ray_actors: int | None = None, ray_cpus: int | None = None) -> dict[str, Any]:
    """Score every article of `inputs` into the directory `output`; returns the summary (also `_summary.json`).

    Args:
        inputs: files, globs or directories (JSONL, CSV, Parquet, .gz, .txt).
        output: a directory of `part-*.parquet|jsonl` files plus `errors/` and `_manifest.json`.
        model: model directory or registry reference (default: the champion of the default model).
        resume: continue a killed job: rows already committed are skipped, nothing is written twice.
        dedupe_text: score each distinct text once; later copies get a row with `duplicate_of`.
    """
    from model.artifact import ArtifactConfig
    from model.registry import resolve_model_path

    if threads is None:  # local: the cores split between workers; Ray: one core per actor (Ray packs actors)
        threads = max(1, (os.cpu_count() or 1) // max(workers, 1)) if engine == "local" else 1
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    model_dir = resolve_model_path(model).resolve()
    cfg = ArtifactConfig.load(model_dir)
    out = Path(output)
    files = expand_inputs(inputs, input_format)
    if not files:
        raise FileNotFoundError("no input files found")
    manifest = _open_output(out, resume, {"engine": engine, "format": output_format,
                                          "model": {"name": cfg.name, "version": cfg.version}})
    ledger = Ledger.read(out)
    gate = Gate(ledger, dedupe_text)
    if engine == "local":
        stats = _run_local(files, columns, input_format, out, output_format, cfg.labels, gate, ledger, model_dir,
                           workers=workers, threads=threads, chunk_size=chunk_size, part_rows=part_rows,
                           token_budget=token_budget, regions=regions, progress=progress)
    else:
        from serve.batch.ray_engine import score_ray

        stats = score_ray(files, columns, input_format, out, output_format, gate, model_dir,
                          actors=ray_actors, threads=threads, chunk_size=chunk_size, token_budget=token_budget,
                          regions=regions, cpus=ray_cpus, progress=progress).to_dict()
    summary = summarize(out)
    summary["run"] = stats
    summary["model"] = {"name": cfg.name, "version": cfg.version, "path": str(model_dir)}
    manifest["runs"][-1].update(finished=_now(), **stats)
    write_json_atomic(out / MANIFEST, manifest)
    write_json_atomic(out / SUMMARY, summary)
    return summary


def _run_local(files, columns, input_format, out, output_format, labels, gate, ledger, model_dir, *, workers,
               threads, chunk_size, part_rows, token_budget, regions, progress) -> dict:
    from serve.batch.local import score_local
    from serve.batch.scoring import output_schema
    from serve.batch.writer import PartWriter

    writer = PartWriter(out, output_format, output_schema(labels), part_rows=part_rows,
                        first_part=ledger.next_part)
    bar = None
    if progress:
        from tqdm import tqdm

        total = sum(count_rows(f, input_format) for f in files)
        bar = tqdm(total=total, unit="art", desc="rawan batch", file=sys.stderr, smoothing=0.05,
                   dynamic_ncols=True)
    try:
        stats = score_local(iter_records(files, columns, input_format), gate, writer, model_dir, workers=workers,
                            threads=threads, chunk_size=chunk_size, token_budget=token_budget, regions=regions,
                            progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return stats.to_dict()


def iter_records(files: Iterable[Path], columns: Columns, fmt: str | None = None) -> Iterator[Record]:
    for f in files:
        yield from read_records(f, columns, fmt)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _open_output(out: Path, resume: bool, job: dict) -> dict:
    """Create the output directory, or check that a resumed job matches the one that started it."""
    from model.artifact import read_json

    manifest = read_json(out / MANIFEST)
    if out.exists() and (manifest or output_parts(out)) and not resume:
        raise ValueError(f"{out} already holds batch output: pass --resume to continue it, or choose a new --output")
    if manifest:
        for key, value in job.items():
            if manifest.get(key) != value:
                raise ValueError(f"cannot resume {out}: it was started with {key}={manifest.get(key)!r}, "
                                 f"this run has {key}={value!r}")
    else:
        manifest = {**job, "created": _now(), "runs": []}
    out.mkdir(parents=True, exist_ok=True)
    manifest["runs"].append({"started": _now(), "resume": resume})
    write_json_atomic(out / MANIFEST, manifest)
    return manifest
