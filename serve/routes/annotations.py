"""POST /v1/annotations: analysts' corrected labels, stored for retraining (admin token required)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from serve.deps import AdminDep, StoreDep
from serve.errors import responses
from serve.schemas import AnnotationRequest, AnnotationsSaved

router = APIRouter(prefix="/v1", tags=["annotations"])


@router.post("/annotations", status_code=201, response_model=AnnotationsSaved, dependencies=[AdminDep],
             responses=responses(400, 401, 403, 413, 422))
async def create_annotations(body: AnnotationRequest, store: StoreDep) -> dict:
    """Save one record or `records`; a newer annotation of the same text supersedes the older one."""
    ids = await asyncio.to_thread(store.add, body.items(), annotator=body.annotator, source=body.source)
    return {"ids": ids, "count": await asyncio.to_thread(store.count)}
