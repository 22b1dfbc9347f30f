"""The local engine: a streaming pipeline on one machine.

    read + gate (main thread) -> chunks of `chunk_size` rows -> W worker threads, each with its own ONNX session of
    T intra-op threads (tokenise, infer by token budget, pool, regions) -> in-order commit of parts (main thread)

At most `2 x W` chunks are in flight, so memory stays flat whatever the archive size. ONNX Runtime releases the
GIL, so reading, tokenising and ORT overlap. On 2 cores W=1, T=2 measured ~8% faster than W=2, T=1 (and 70 MB
smaller) on the tiny test model, so it is the default; `bench/batch_throughput.py --configs` re-measures.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from model.runtime import DEFAULT_TOKEN_BUDGET
from serve.batch.ledger import Gate, Item
from serve.batch.readers import Record
from serve.batch.scoring import Scorer
from serve.batch.writer import PartWriter


@dataclass
class RunStats:
    """What this run did (the summary adds what the output holds in total)."""

    read: int = 0
    scored: int = 0
    skipped: int = 0
    errors: int = 0
    duplicates: int = 0
    windows: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        rate = self.scored / self.seconds if self.seconds else 0.0
        return {"read": self.read, "scored": self.scored, "skipped_committed": self.skipped, "errors": self.errors,
                "duplicates": self.duplicates, "windows": self.windows, "seconds": round(self.seconds, 2),
                "articles_per_s": round(rate, 2), **self.extra}


def chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Chunks holding `size` scorable items (bad and duplicate rows ride along for free)."""
    chunk: list[Item] = []
    n = 0
    for it in items:
        chunk.append(it)
        n += it.scorable
        if n >= size or len(chunk) >= 8 * size:
            yield chunk
            chunk, n = [], 0
    if chunk:
        yield chunk


def score_local(records: Iterable[Record], gate: Gate, writer: PartWriter, model_dir: str | Path, *,
                workers: int = 1, threads: int = 2, chunk_size: int = 32, token_budget: int = DEFAULT_TOKEN_BUDGET,
                regions: bool = True, progress=None) -> RunStats:
    """Score `records` into `writer`; `progress` is a tqdm-like bar advanced once per input row."""
    stats = RunStats(extra={"engine": "local", "workers": workers, "threads": threads})
    t0 = time.perf_counter()
    scorers: queue.SimpleQueue[Scorer] = queue.SimpleQueue()
    for _ in range(workers):
        scorers.put(Scorer(model_dir, threads=threads, regions=regions, token_budget=token_budget))

    def work(chunk: list[Item]) -> list[dict]:
        scorer = scorers.get()
        try:
            return scorer.score(chunk)
        finally:
            scorers.put(scorer)

    def admitted() -> Iterator[Item]:
        for rec in records:
            stats.read += 1
            item = gate.admit(rec)
            if item is None or not (item.row or item.report):
                stats.skipped += 1
                if progress is not None:
                    progress.update(1)
                continue
            yield item

    def commit(chunk: list[Item], future: Future) -> None:
        rows = future.result()
        reports = [it.report for it in chunk if it.report]
        writer.add(rows, reports)
        stats.scored += sum(it.scorable for it in chunk)
        stats.windows += sum(r["windows"] or 0 for r in rows)
        stats.errors += sum(r["kind"] == "error" for r in reports)
        stats.duplicates += sum(r["kind"] == "duplicate" for r in reports)
        if progress is not None:
            progress.update(len(chunk))
            progress.set_postfix(scored=stats.scored, errors=stats.errors, refresh=False)

    with ThreadPoolExecutor(workers, thread_name_prefix="rawan-batch") as pool:
        inflight: deque[tuple[list[Item], Future]] = deque()
        for chunk in chunked(admitted(), chunk_size):
            inflight.append((chunk, pool.submit(work, chunk)))
            while len(inflight) > 2 * workers:
                commit(*inflight.popleft())
        while inflight:
            commit(*inflight.popleft())
    writer.flush()
    stats.seconds = time.perf_counter() - t0
    return stats
