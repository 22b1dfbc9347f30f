"""One classify request end to end: admission, tokenisation off the loop, batched ONNX, pooling and evidence.

CPU work that is not ONNX (tokenising, pooling, evidence, regions) runs on a small thread pool so the event loop
stays free to accept and answer other requests; ONNX runs on the slot's batcher thread.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from serve.batching import Overloaded
from serve.holder import ModelHolder
from serve.schemas import ArticleIn, ClassifyRequest


async def classify(holder: ModelHolder, pool: ThreadPoolExecutor, req: ClassifyRequest) -> list[dict[str, Any]]:
    """Classify every article of a request on the model version current when it arrived."""
    items: list[ArticleIn] = req.items()
    loop = asyncio.get_running_loop()
    async with holder.use() as slot:
        if holder.inflight > holder.settings.max_inflight or slot.batcher.full():
            raise Overloaded(f"{holder.inflight} requests in flight, {slot.batcher.outstanding} windows queued")
        clf, batcher = slot.classifier, slot.batcher
        batcher.expect(+1)  # lets the batcher wait briefly for our windows while we tokenise
        try:
            articles = await loop.run_in_executor(pool, lambda: [clf.prepare(a.text, a.title) for a in items])
        except BaseException:
            batcher.expect(-1)
            raise
        future = batcher.submit([w for art in articles for w in art.windows], announced=True)
        outputs = await asyncio.wrap_future(future)

        def finish() -> list[dict[str, Any]]:
            out, start = [], 0
            for item, art in zip(items, articles):
                n = len(art.windows)
                pred = clf.finish(art, outputs[start:start + n], article_id=item.id, threshold=req.threshold,
                                  evidence=req.evidence, regions=req.regions, lang=req.lang).to_dict()
                if req.return_text:
                    pred["text"] = art.text
                out.append(pred)
                start += n
            return out

        return await loop.run_in_executor(pool, finish)
