"""`create_app(settings)`: the FastAPI app. The model loads in the background at startup; /readyz says when."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serve import errors
from serve.config import Settings
from serve.holder import ModelHolder
from serve.logging import setup_logging
from serve.metrics import Metrics
from serve.middleware import BodyGuardMiddleware, RequestContextMiddleware
from serve.routes import admin, annotations, classify, labelstudio, meta, page
from serve.routes.page import STATIC_DIR

DESCRIPTION = ("Rawan classifies Indonesian election news: electoral-risk issue labels (multi-label, sigmoid scores, "
               "per-label thresholds), Kemendagri regions and the evidence sentences behind each label.")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing heavy happens until the lifespan starts (then the model loads off the loop)."""
    settings = settings or Settings()
    setup_logging(settings.log_level)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = ThreadPoolExecutor(settings.cpu_workers, thread_name_prefix="rawan-cpu")
        app.state.holder = holder = ModelHolder(settings, metrics)
        loading = asyncio.create_task(holder.start())
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await holder.stop()
            app.state.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="Rawan", version="1", description=DESCRIPTION, lifespan=lifespan, docs_url="/docs")
    app.state.settings, app.state.metrics, app.state.store = settings, metrics, None
    modules = (classify, meta, annotations, admin, labelstudio, page)
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app, settings.retry_after_s)
    known = frozenset(r.path for m in modules for r in m.router.routes)
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, known_paths=known)  # outermost: sees every reply
    return app
