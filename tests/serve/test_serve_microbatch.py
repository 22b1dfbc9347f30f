"""The micro-batcher alone (fake ONNX function) and through the app under concurrent requests."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
import pytest

from serve.batching import MicroBatcher, Overloaded
from serve_helpers import wait_ready_async


class Recorder:
    """A fake `infer` that records batch sizes and can be held closed."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, windows):
        self.gate.wait(10)
        self.batches.append([len(w) for w in windows])
        return [int(w[0]) for w in windows]


def windows(tag: int, n: int, length: int = 10):
    return [np.full(length, tag, dtype=np.int64) for _ in range(n)]


def test_results_come_back_in_order_per_request():
    rec = Recorder()
    b = MicroBatcher(rec, token_budget=1000, max_wait_s=0.0)
    try:
        futures = [b.submit(windows(t, 3)) for t in range(5)]
        assert [f.result(5) for f in futures] == [[t] * 3 for t in range(5)]
    finally:
        b.close()


def test_windows_of_waiting_requests_share_a_batch_within_the_budget():
    rec = Recorder()
    rec.gate.clear()
    b = MicroBatcher(rec, token_budget=60, max_wait_s=0.0)
    try:
        first = b.submit(windows(0, 1))
        time.sleep(0.05)  # the worker is now holding the first batch
        rest = [b.submit(windows(t, 2)) for t in range(1, 6)]
        rec.gate.set()
        for f in [first, *rest]:
            f.result(5)
        assert rec.batches[0] == [10]
        assert all(len(batch) * max(batch) <= 60 for batch in rec.batches)
        assert max(len(batch) for batch in rec.batches[1:]) == 6  # three requests grouped, up to the budget
    finally:
        b.close()


def test_batching_off_never_mixes_requests():
    rec = Recorder()
    rec.gate.clear()
    b = MicroBatcher(rec, token_budget=10_000, batching=False)
    try:
        futures = [b.submit(windows(t, 2)) for t in range(4)]
        rec.gate.set()
        for f in futures:
            f.result(5)
        assert [len(batch) for batch in rec.batches] == [2, 2, 2, 2]
    finally:
        b.close()


def test_full_queue_raises_overloaded_and_recovers():
    rec = Recorder()
    rec.gate.clear()
    b = MicroBatcher(rec, token_budget=100, queue_size=4)
    try:
        big = b.submit(windows(1, 6))  # an idle queue takes any request
        with pytest.raises(Overloaded):
            b.submit(windows(2, 1))
        rec.gate.set()
        big.result(5)
        assert b.outstanding == 0
        assert b.submit(windows(3, 2)).result(5) == [3, 3]
    finally:
        b.close()


def test_waits_for_expected_requests_but_not_longer_than_max_wait():
    rec = Recorder()
    b = MicroBatcher(rec, token_budget=1000, max_wait_s=0.2)
    try:
        started = time.perf_counter()
        b.submit(windows(1, 1)).result(5)
        assert time.perf_counter() - started < 0.15  # nobody else announced: no waiting
        b.expect(+1)
        started = time.perf_counter()
        first = b.submit(windows(2, 1))
        time.sleep(0.05)
        second = b.submit(windows(3, 1))
        b.expect(-1)
        first.result(5), second.result(5)
        assert rec.batches[-1] == [10, 10]  # grouped because the second was expected
        assert time.perf_counter() - started < 0.5
    finally:
        b.close()


def test_inference_errors_reach_every_waiting_request_and_the_worker_survives():
    calls = {"n": 0}

    def flaky(ws):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return [0] * len(ws)

    b = MicroBatcher(flaky, token_budget=1000)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            b.submit(windows(1, 2)).result(5)
        assert b.submit(windows(1, 2)).result(5) == [0, 0]
    finally:
        b.close()


def test_cancelled_requests_are_skipped():
    rec = Recorder()
    rec.gate.clear()
    b = MicroBatcher(rec, token_budget=20)
    try:
        running = b.submit(windows(1, 1))
        time.sleep(0.05)
        dropped = b.submit(windows(2, 3))
        assert dropped.cancel()
        kept = b.submit(windows(3, 1))
        rec.gate.set()
        running.result(5), kept.result(5)
        assert all(2 not in set(batch) for batch in rec.batches)
        assert sum(len(batch) for batch in rec.batches) == 2 and b.outstanding == 0
    finally:
        b.close()


# -- through the app ---------------------------------------------------------------------------------------------
async def _run_app(app, fn):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rawan", timeout=60) as client:
            await wait_ready_async(client)
            return await fn(client)


def _scores(body):
    return body["issues"], body["labels"], body["evidence"], body["regions"], body["windows"]


def test_concurrent_requests_are_batched_and_identical_to_one_at_a_time(settings_factory, seeds):
    from serve.app import create_app

    # fp32: dynamic int8 graphs quantise activations per batch, so their scores move ~1e-3 with batch company
    app = create_app(settings_factory(max_wait_ms=20.0, onnx_file="model.onnx"))
    texts = [s[: 400 + 150 * i] for i, s in enumerate(seeds * 3)]  # 15 articles of different lengths

    async def scenario(client):
        alone = [(await client.post("/v1/classify", json={"text": t})).json() for t in texts]
        holder = app.state.holder
        before = holder.slot.batcher.batches
        together = await asyncio.gather(*[client.post("/v1/classify", json={"text": t}) for t in texts])
        return alone, [r.json() for r in together], holder.slot.batcher, before

    alone, together, batcher, before = asyncio.run(_run_app(app, scenario))
    assert [_scores(a) for a in alone] == [_scores(b) for b in together]
    total_windows = sum(a["windows"] for a in alone)
    assert batcher.batches - before < len(texts)  # fewer ONNX calls than requests
    assert batcher.max_batch_windows > max(a["windows"] for a in alone)  # windows of several requests together
    assert total_windows > 0


def test_back_pressure_answers_503_with_retry_after(settings_factory, seeds):
    from serve.app import create_app

    app = create_app(settings_factory(queue_size=4, retry_after_s=2))

    async def scenario(client):
        slot = app.state.holder.slot
        gate = threading.Event()
        real = slot.batcher._infer

        def slow(ws):
            gate.wait(10)
            return real(ws)

        slot.batcher._infer = slow
        first = asyncio.create_task(client.post("/v1/classify", json={"text": seeds[0]}))
        while slot.batcher.outstanding == 0:
            await asyncio.sleep(0.01)
        refused = await client.post("/v1/classify", json={"text": seeds[1]})
        metrics = (await client.get("/metrics")).text
        gate.set()
        slot.batcher._infer = real
        done = await first
        after = await client.post("/v1/classify", json={"text": seeds[1]})
        return refused, done, after, metrics

    refused, done, after, metrics = asyncio.run(_run_app(app, scenario))
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert refused.json()["error_type"] == "overloaded"
    assert done.status_code == 200 and after.status_code == 200
    assert "rawan_overloaded_total 1.0" in metrics and "rawan_queue_windows" in metrics
