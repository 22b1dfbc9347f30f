"""The served model and its swap: one `ModelSlot` (classifier + micro-batcher) current at a time.

Requests pin the slot they started on (`holder.use()`), so a reload never changes the model under a request: the
new slot is loaded and warmed up off the event loop, then the pointer is swapped in one assignment; the old slot
keeps serving the requests that pinned it and closes its batcher when the last one finishes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

from model.artifact import read_json
from model.registry import resolve_model_path
from serve.batching import MicroBatcher
from serve.config import Settings
from serve.metrics import Metrics

log = logging.getLogger("rawan.serve.model")

WARMUP_TEXT = ("Bawaslu Kota Bekasi menemukan dugaan politik uang menjelang Pilkada 2024. "
               "Petugas membagikan amplop berisi uang kepada warga agar memilih pasangan calon tertentu.")


class NotReady(Exception):
    """No model is loaded yet (or loading failed); answer 503."""


def load_classifier(path: Path, settings: Settings):
    """Load one model version with the service's thread and window settings (tests patch this to slow it down)."""
    from model.runtime import Classifier

    return Classifier.load(path, threads=settings.threads or None, regions=settings.regions,
                           max_windows=settings.max_windows, variant=settings.onnx_file)


@dataclass
class ModelSlot:
    """A loaded model version, its batcher and how many requests are using it."""

    classifier: Any
    batcher: MicroBatcher
    path: Path
    loaded_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    active: int = 0
    retired: bool = False

    @property
    def info(self) -> dict[str, str]:
        return self.classifier.info

    def describe(self) -> dict[str, Any]:
        """The /v1/model body: labels with display names and thresholds, metrics of the served variant."""
        clf = self.classifier
        cfg = clf.config
        metrics = read_json(self.path / "metrics.json")
        fallback = clf.fallback
        served = "fp32" if fallback else metrics.get("served_variant")
        variant = metrics.get("variants", {}).get(served, {}) if served else {}
        summary = {split: {k: v for k, v in variant.get(split, {}).items() if k != "per_label"}
                   for split in ("dev", "test") if split in variant}
        per_label = variant.get("test", {}).get("per_label", {})
        return {
            "name": cfg.name, "version": cfg.version, "created": cfg.created or None, "loaded_at": self.loaded_at,
            "onnx_file": clf.onnx_file, "backend": clf.backend,
            "fallback": fallback, "base_encoder": cfg.base_encoder, "taxonomy_version": cfg.taxonomy_version,
            "max_length": cfg.max_length, "stride": cfg.stride, "pooling": cfg.pooling,
            "labels": [{"id": label, "name": dict(issue.name), "description": issue.description,
                        "threshold": round(float(t), 4), "test": per_label.get(label)}
                       for label, issue, t in zip(clf.labels, clf.taxonomy.issues, clf.thresholds)],
            "thresholds": {label: round(float(t), 4) for label, t in zip(clf.labels, clf.thresholds)},
            "metrics": {"served_variant": served, "gate": metrics.get("gate"), **summary},
        }


class ModelHolder:
    """Owns the current slot, readiness, reloads and the optional registry poller."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings, self.metrics = settings, metrics
        self.slot: ModelSlot | None = None
        self.state = "loading"
        self.error: str | None = None
        self.inflight = 0
        self._reload_lock = asyncio.Lock()
        self._count_lock = threading.Lock()
        self._poller: asyncio.Task | None = None
        metrics.track_queue(lambda: self.slot.batcher.outstanding if self.slot else 0, lambda: self.inflight)

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.slot is not None

    def resolve(self) -> Path:
        s = self.settings
        return resolve_model_path(s.model, s.models_dir, s.model_name).resolve()

    # -- loading ----------------------------------------------------------------------------------------------
    def _build(self, path: Path) -> ModelSlot:
        """Load, start a batcher and run one warm-up inference (blocking; called in a thread)."""
        s = self.settings
        clf = load_classifier(path, s)
        batcher = MicroBatcher(clf.infer, token_budget=s.token_budget, max_wait_s=s.max_wait_ms / 1000,
                               queue_size=s.queue_size, batching=s.batching, observer=self.metrics.observe_batch,
                               name=f"batcher-{clf.config.version}")
        if s.warmup:
            try:
                art = clf.prepare(WARMUP_TEXT)
                clf.finish(art, batcher.submit(art.windows).result(timeout=120), evidence=True)
                full = art.windows[0][:1].repeat(clf.config.max_length)  # grow ORT's arena to full-size windows
                batcher.submit([full] * 4).result(timeout=120)
            except BaseException:
                batcher.close()
                raise
        return ModelSlot(clf, batcher, path)

    async def start(self) -> None:
        """Initial load (background task at startup); /readyz turns 200 when it is done."""
        started = time.perf_counter()
        if self.settings.reload_poll_s > 0:  # also recovers a failed first load once a champion appears
            self._poller = asyncio.create_task(self._poll())
        try:
            path = await asyncio.to_thread(self.resolve)
            slot = await asyncio.to_thread(self._build, path)
        except Exception as err:  # noqa: BLE001 - the process stays alive and says why it is not ready
            self.state, self.error = "failed", f"{type(err).__name__}: {err}"
            log.error("model load failed", extra={"error": self.error})
            return
        if self.slot is None:  # the poller may have loaded a model meanwhile
            self._install(slot)
        else:
            slot.batcher.close()
        log.info("model ready", extra={"model": self.slot.info, "path": str(self.slot.path),
                                       "seconds": round(time.perf_counter() - started, 3)})

    def _install(self, slot: ModelSlot) -> None:
        old, self.slot = self.slot, slot
        self.state, self.error = "ready", None
        self.metrics.set_model(**slot.info)
        if old is not None:
            self._retire(old)

    def _retire(self, slot: ModelSlot) -> None:
        with self._count_lock:
            slot.retired = True
            idle = slot.active == 0
        if idle:
            threading.Thread(target=slot.batcher.close, daemon=True).start()

    async def reload(self, *, force: bool = False) -> dict[str, Any]:
        """Load the model the settings point at now (e.g. a newly promoted champion) and swap it in."""
        async with self._reload_lock:
            previous = self.slot.info if self.slot else None
            path = await asyncio.to_thread(self.resolve)
            if self.slot is not None and path == self.slot.path and not force:
                return {"changed": False, "previous": previous, "current": previous}
            try:
                slot = await asyncio.to_thread(self._build, path)
            except Exception:
                self.metrics.reloads.labels("failed").inc()
                raise
            self._install(slot)
            self.metrics.reloads.labels("ok").inc()
            log.info("model swapped", extra={"previous": previous, "current": slot.info, "path": str(path)})
            return {"changed": True, "previous": previous, "current": slot.info}

    async def _poll(self) -> None:
        """Reload when the registry pointer (aliases.json) names another version; errors are logged, never fatal."""
        last_error = None
        while True:
            await asyncio.sleep(self.settings.reload_poll_s)
            if self.state == "loading":
                continue
            try:
                path = await asyncio.to_thread(self.resolve)
                if self.slot is None or path != self.slot.path:
                    await self.reload()
                last_error = None
            except Exception as err:  # noqa: BLE001
                message = f"{type(err).__name__}: {err}"
                if message != last_error:  # once per distinct problem, not every poll
                    log.error("polled reload failed", extra={"error": message})
                last_error = message

    # -- request side -----------------------------------------------------------------------------------------
    @asynccontextmanager
    async def use(self) -> AsyncIterator[ModelSlot]:
        """Pin the current slot for one request (raises NotReady before the first load)."""
        slot = self.slot
        if slot is None or not self.ready:
            raise NotReady(self.error or "the model is still loading")
        with self._count_lock:
            slot.active += 1
            self.inflight += 1
        try:
            yield slot
        finally:
            with self._count_lock:
                slot.active -= 1
                self.inflight -= 1
                close = slot.retired and slot.active == 0
            if close:
                threading.Thread(target=slot.batcher.close, daemon=True).start()

    async def stop(self) -> None:
        if self._poller:
            self._poller.cancel()
        if self.slot is not None:
            await asyncio.to_thread(self.slot.batcher.close)
