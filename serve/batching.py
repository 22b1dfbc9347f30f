"""Dynamic micro-batching: windows of concurrent requests share ONNX calls, bounded by a token budget.

One worker thread owns the ONNX session of one model version. Requests put their token windows on a queue and
await a future; the worker takes the oldest windows until the padded batch (count x longest) would exceed the
token budget, waiting at most `max_wait` for more to arrive while other admitted requests are still tokenising
(waiting when nobody else is coming only adds latency). Cross-request grouping can be switched off
(`batching=False`): the worker then runs one request's windows at a time, the baseline the benchmark compares to.

Back-pressure: `outstanding` counts windows queued or running; `submit` raises `Overloaded` when adding a
request would push it past `queue_size` (a request always fits into an idle queue, so big ones cannot starve).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from model.runtime import DEFAULT_TOKEN_BUDGET

InferFn = Callable[[Sequence[np.ndarray]], list[Any]]
Observer = Callable[[int, int, float], None]  # (windows, padded tokens, seconds) of each ONNX call


class Overloaded(Exception):
    """The queue is full; the caller should answer 503 with Retry-After."""


class BatcherClosed(Exception):
    """The batcher was shut down before the request ran."""


@dataclass
class _Job:
    windows: Sequence[np.ndarray]
    future: Future
    results: list[Any] = field(default_factory=list)
    remaining: int = 0
    failed: bool = False


class MicroBatcher:
    """Queue of windows in front of one `infer(windows) -> outputs` function, served by one worker thread."""

    def __init__(self, infer: InferFn, *, token_budget: int = DEFAULT_TOKEN_BUDGET, max_wait_s: float = 0.004,
                 queue_size: int = 2048, batching: bool = True, observer: Observer | None = None,
                 name: str = "batcher") -> None:
        self._infer = infer
        self.token_budget, self.max_wait_s, self.queue_size = token_budget, max_wait_s, queue_size
        self.batching = batching
        self._observer = observer
        self._queue: deque[tuple[_Job, int]] = deque()  # (job, window index), oldest first
        self._cond = threading.Condition()
        self._outstanding = 0  # windows queued or in the running batch
        self._expected = 0     # admitted requests that have not submitted yet (still tokenising)
        self._closed = False
        self.batches = 0       # ONNX calls made; tests read it to see that grouping happened
        self.max_batch_windows = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- request side (any thread) ---------------------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        return self._outstanding

    def expect(self, delta: int) -> None:
        """Announce (+1) or withdraw (-1) a request that will submit soon, so the worker may wait for it."""
        with self._cond:
            self._expected = max(0, self._expected + delta)
            if delta < 0:
                self._cond.notify_all()

    def full(self) -> bool:
        return self._outstanding >= self.queue_size

    def submit(self, windows: Sequence[np.ndarray], *, announced: bool = False) -> Future:
        """Queue one request's windows; the future resolves to their outputs in order.

        `announced=True` withdraws the request's `expect(+1)` in the same step, so the worker never waits for
        a request that has in fact already arrived.
        """
        job = _Job(windows, Future(), [None] * len(windows), len(windows))
        with self._cond:
            if announced:
                self._expected = max(0, self._expected - 1)
                self._cond.notify_all()
            if not windows:
                job.future.set_result([])
                return job.future
            if self._closed:
                raise BatcherClosed("the model was unloaded")
            if self._outstanding and self._outstanding + len(windows) > self.queue_size:
                raise Overloaded(f"{self._outstanding} windows queued (limit {self.queue_size})")
            self._outstanding += len(windows)
            self._queue.extend((job, i) for i in range(len(windows)))
            self._cond.notify_all()
        return job.future

    def close(self, timeout: float | None = 10.0) -> None:
        """Finish what is queued, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- worker -----------------------------------------------------------------------------------------------
    def _padded(self, items) -> int:
        return max(len(j.windows[i]) for j, i in items) * len(items) if items else 0

    def _take(self) -> list[tuple[_Job, int]] | None:
        """Block until a batch is ready (or closed and drained) and pop it."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            if self.batching and not self._closed:
                deadline = time.monotonic() + self.max_wait_s
                while self._expected > 0 and self._padded(self._queue) < self.token_budget:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed:
                        break
                    self._cond.wait(left)
            batch: list[tuple[_Job, int]] = []
            longest = 0
            first_job = self._queue[0][0]
            while self._queue:
                job, i = self._queue[0]
                if not self.batching and job is not first_job:
                    break
                n = len(job.windows[i])
                if batch and max(longest, n) * (len(batch) + 1) > self.token_budget:
                    break
                self._queue.popleft()
                if job.future.cancelled() or job.failed:  # the client went away: skip its work
                    self._outstanding -= 1
                    continue
                batch.append((job, i))
                longest = max(longest, n)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            if not batch:
                continue
            started = time.perf_counter()
            try:
                outputs = self._infer([job.windows[i] for job, i in batch])
            except BaseException as err:  # noqa: BLE001 - every waiting request must hear about it
                self._fail(batch, err)
                continue
            finally:
                with self._cond:
                    self._outstanding -= len(batch)
            elapsed = time.perf_counter() - started
            self.batches += 1
            self.max_batch_windows = max(self.max_batch_windows, len(batch))
            if self._observer:
                self._observer(len(batch), self._padded(batch), elapsed)
            for (job, i), out in zip(batch, outputs):
                job.results[i] = out
                job.remaining -= 1
                if job.remaining == 0:
                    _settle(job.future, job.results)

    @staticmethod
    def _fail(batch, err: BaseException) -> None:
        for job, _ in batch:
            job.failed = True
            _settle(job.future, error=err if isinstance(err, Exception) else RuntimeError(repr(err)))


def _settle(future: Future, result: Any = None, error: Exception | None = None) -> None:
    """Resolve a future unless the client already cancelled it (a race we must not crash the worker on)."""
    try:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)
    except InvalidStateError:
        pass
