"""The Ray Data engine: the same reading, gate and `Scorer`, spread over a cluster.

    read_binary_files (one row per input file)
      -> flat_map(parse_file): the local engine's readers; the gate runs in one named actor (resume, duplicates);
         bad rows are written to errors/ by the task that parsed the file (one file per input, rewritten whole on
         a retry)
      -> map_batches(RayScorer, actor pool): each actor loads the ONNX model once and scores chunks
      -> write_parquet / write_json into the output directory

Connects to RAY_ADDRESS when set, else starts a local cluster. Resume reads back the committed output files (an
unreadable one, left by a kill mid-write, is deleted first), exactly as for the local engine.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

from model.runtime import DEFAULT_TOKEN_BUDGET
from serve.batch.ledger import ERRORS_DIR, Gate, where
from serve.batch.local import RunStats
from serve.batch.readers import Columns, Record, read_records
from serve.batch.writer import commit_bytes, jsonl_bytes

GATE_BATCH = 5000
# CPUs reserved by the read, parse and write tasks. The scoring actors reserve whole CPUs (one per ONNX thread), so
# if these tasks asked for any CPU, a cluster whose CPUs all went to actors would never read anything (seen as a
# hang on a 2-CPU cluster): they ride on the actors' cores.
LIGHT_CPUS = 0


class GateKeeper:
    """The job's one `Gate`, as a Ray actor, so duplicate ids are caught across files and workers."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.outcomes: dict[str, tuple[bool, str | None]] = {}

    def admit(self, records: list[tuple]) -> list[tuple[bool, str | None, dict | None]]:
        """(id, source, position, error, raw, text_hash) -> (write a row?, duplicate_of, report) per record."""
        out = []
        for rid, source, position, error, raw, hashed in records:
            item = self.gate.admit(Record(rid, None, None, source, position, error, raw), hashed)
            decision = (item.row, item.duplicate_of, item.report) if item else (False, None, None)
            self.outcomes[where(source, position)] = (bool(item and item.scorable),
                                                      item.report["kind"] if item and item.report else None)
            out.append(decision)
        return out

    def stats(self) -> dict[str, int]:
        values = list(self.outcomes.values())
        return {"read": len(values), "scored": sum(s for s, _ in values),
                "errors": sum(k == "error" for _, k in values), "duplicates": sum(k == "duplicate" for _, k in values)}


class ParseFile:
    """flat_map callable: one input file's bytes -> the rows to score, its bad rows written to errors/."""

    def __init__(self, columns: Columns, fmt: str | None, gate, errors_dir: str, run: int, names: dict[str, str]):
        self.columns, self.fmt, self.gate = columns, fmt, gate
        self.errors_dir, self.run, self.names = errors_dir, run, names

    def __call__(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        import ray

        from serve.batch.ledger import text_hash

        source = self.names.get(row["path"], row["path"])
        reports: list[dict] = []
        batch: list[Record] = []

        def flush() -> Iterator[dict[str, Any]]:
            keys = [(r.id, r.source, r.position, r.error, r.raw,
                     text_hash(r.text, r.title) if r.error is None else None) for r in batch]
            for r, key, (write, dup, report) in zip(batch, keys, ray.get(self.gate.admit.remote(keys))):
                if report:
                    reports.append(report)
                if write:
                    yield {"id": r.id, "text": r.text, "title": r.title, "source": r.source, "position": r.position,
                           "error": r.error, "text_hash": key[5], "duplicate_of": dup}
            batch.clear()

        for rec in read_records(source, self.columns, self.fmt, data=row["bytes"]):
            batch.append(rec)
            if len(batch) >= GATE_BATCH:
                yield from flush()
        yield from flush()
        if reports:
            digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
            commit_bytes(Path(self.errors_dir) / f"part-ray{self.run}-{digest}.jsonl", jsonl_bytes(reports))


class RayScorer:
    """map_batches actor: one `Scorer` (one ONNX session) for the actor's lifetime."""

    def __init__(self, model_dir: str, threads: int, regions: bool, token_budget: int) -> None:
        from serve.batch.scoring import Scorer, output_schema

        self.scorer = Scorer(model_dir, threads=threads, regions=regions, token_budget=token_budget)
        self.schema = output_schema(self.scorer.labels)

    def __call__(self, batch):
        import pyarrow as pa

        from serve.batch.ledger import Item

        items = [Item(Record(r["id"], r["text"], r["title"], r["source"], r["position"], r["error"]), True,
                      r["text_hash"], r["duplicate_of"]) for r in batch.to_pylist()]
        return pa.Table.from_pylist(self.scorer.score(items), schema=self.schema)


def init_ray(cpus: int | None = None) -> bool:
    """Connect to RAY_ADDRESS, or start a local cluster; True if this call started Ray (and should stop it)."""
    import ray

    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return True


def score_ray(files: list[Path], columns: Columns, input_format: str | None, out: Path, output_format: str,
              gate: Gate, model_dir: Path, *, actors: int | None = None, threads: int = 1, chunk_size: int = 32,
              token_budget: int = DEFAULT_TOKEN_BUDGET, regions: bool = True, cpus: int | None = None,
              progress: bool = True) -> RunStats:
    """Run the job on Ray Data; the output directory gets the same rows as with the local engine."""
    import ray

    started = init_ray(cpus)
    t0 = time.perf_counter()
    try:
        ray.data.DataContext.get_current().enable_progress_bars = progress
        keeper = ray.remote(num_cpus=0)(GateKeeper).remote(gate)
        run = int(time.time())  # names this run's error files (a retried task rewrites its own file whole)
        (out / ERRORS_DIR).mkdir(parents=True, exist_ok=True)
        names = {str(f.resolve()): str(f) for f in files}
        n_actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1) // max(threads, 1)))
        light = {"num_cpus": LIGHT_CPUS}  # reading, parsing and writing are cheap next to ONNX; see LIGHT_CPUS
        ds = ray.data.read_binary_files(list(names), include_paths=True, **light)
        ds = ds.flat_map(ParseFile(columns, input_format, keeper, str(out / ERRORS_DIR), run, names), **light)
        ds = ds.map_batches(RayScorer, batch_size=chunk_size, batch_format="pyarrow", concurrency=n_actors,
                            num_cpus=threads, fn_constructor_kwargs={"model_dir": str(model_dir), "threads": threads,
                                                                     "regions": regions,
                                                                     "token_budget": token_budget})
        from ray.data.datasource import FilenameProvider

        names_out = FilenameProvider(dataset_uuid="part-ray", file_format=output_format)  # what Ledger reads back
        if output_format == "parquet":
            ds.write_parquet(str(out.resolve()), compression="zstd", filename_provider=names_out,
                             ray_remote_args=light)
        else:
            ds.write_json(str(out.resolve()), force_ascii=False, filename_provider=names_out, ray_remote_args=light)
        counts = ray.get(keeper.stats.remote())
    finally:
        if started:
            ray.shutdown()
    stats = RunStats(read=counts["read"], scored=counts["scored"], errors=counts["errors"],
                     duplicates=counts["duplicates"], seconds=time.perf_counter() - t0,
                     extra={"engine": "ray", "actors": n_actors, "threads": threads})
    return stats
