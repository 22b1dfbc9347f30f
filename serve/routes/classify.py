"""POST /v1/classify: issue labels with scores, regions and evidence sentences for one or many articles."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serve import pipeline
from serve.deps import HolderDep, MetricsDep, PoolDep, SettingsDep
from serve.errors import PayloadTooLarge, responses
from serve.schemas import ArticleResult, BatchResult, ClassifyRequest

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ArticleResult | BatchResult, responses=responses(400, 413, 422, 503))
async def classify_articles(body: ClassifyRequest, holder: HolderDep, pool: PoolDep, settings: SettingsDep,
                            metrics: MetricsDep) -> JSONResponse:
    """Classify one article (`text`) or a list (`articles`); scores are sigmoid probabilities."""
    if body.articles is not None and len(body.articles) > settings.max_articles:
        raise PayloadTooLarge(f"{len(body.articles)} articles; at most {settings.max_articles} per request")
    results = await pipeline.classify(holder, pool, body)
    metrics.articles.inc(len(results))
    if body.articles is None:
        return JSONResponse(results[0])
    return JSONResponse({"articles": results, "model": results[0]["model"]})
