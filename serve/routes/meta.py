"""Operational routes: liveness, readiness, Prometheus metrics and the served model's card."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from serve.deps import HolderDep, MetricsDep
from serve.errors import responses
from serve.holder import NotReady
from serve.schemas import Health, ModelInfo, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def read_health() -> dict:
    """The process is alive (says nothing about the model)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
async def read_readiness(holder: HolderDep) -> JSONResponse:
    """200 once a model is loaded and a warm-up inference has run; 503 before (or if loading failed)."""
    body = {"ready": holder.ready, "state": holder.state, "error": holder.error,
            "model": holder.slot.info if holder.slot else None}
    return JSONResponse(body, status_code=200 if holder.ready else 503,
                        headers=None if holder.ready else {"Retry-After": "1"})


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def read_metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(metrics.render(), media_type=metrics.content_type)


@router.get("/v1/model", response_model=ModelInfo, responses=responses(503))
async def read_model(holder: HolderDep) -> dict:
    """Name, version, labels with display names and thresholds, evaluation metrics and created time."""
    slot = holder.slot
    if slot is None or not holder.ready:
        raise NotReady(holder.error or "the model is still loading")
    return slot.describe()
