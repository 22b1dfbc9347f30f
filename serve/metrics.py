"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

disable_created_metrics()  # the *_created series only add noise to a single-process service

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30)


class Metrics:
    """Request counts/latency by route and status, queue depth, batch sizes and the served model version."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("rawan_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram("rawan_http_request_duration_seconds", "HTTP request latency",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("rawan_queue_windows", "token windows queued or running", registry=r)
        self.inflight = Gauge("rawan_inflight_requests", "classify requests admitted and not finished", registry=r)
        self.batch_windows = Histogram("rawan_batch_windows", "windows per ONNX call",
                                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.batch_tokens = Histogram("rawan_batch_tokens", "padded tokens per ONNX call",
                                      buckets=(128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768), registry=r)
        self.inference = Histogram("rawan_inference_seconds", "seconds per ONNX call", buckets=LATENCY_BUCKETS,
                                   registry=r)
        self.articles = Counter("rawan_articles_classified", "articles classified", registry=r)
        self.overloaded = Counter("rawan_overloaded", "requests refused with 503 because the queue was full",
                                  registry=r)
        self.reloads = Counter("rawan_model_reloads", "model swaps", ["result"], registry=r)
        self.model_info = Gauge("rawan_model_info", "served model (value 1)", ["name", "version"], registry=r)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method, str(status)).observe(seconds)

    def observe_batch(self, windows: int, tokens: int, seconds: float) -> None:
        self.batch_windows.observe(windows)
        self.batch_tokens.observe(tokens)
        self.inference.observe(seconds)

    def set_model(self, name: str, version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version).set(1)

    def track_queue(self, depth: Callable[[], float], inflight: Callable[[], float]) -> None:
        self.queue_depth.set_function(depth)
        self.inflight.set_function(inflight)

    def render(self) -> bytes:
        return generate_latest(self.registry)
