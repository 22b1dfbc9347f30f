"""The scoring step both engines share: items in, output rows out, on the runtime's own windowing code.

Keeping one `Scorer` for the local threads and the Ray actors is what makes their scores the same: same model
files, same `prepare`/`infer_articles`/`finish`, same row layout (`output_schema`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from model.runtime import DEFAULT_TOKEN_BUDGET
from serve.batch.ledger import Item

REGION_FIELDS = ["code", "name", "level", "province_code", "province_name", "score"]


def output_schema(labels: Sequence[str]):
    """One row per article. `scores` has one float field per label, in the model's label order."""
    import pyarrow as pa

    region = pa.struct([(f, pa.float32() if f == "score" else pa.string()) for f in REGION_FIELDS])
    return pa.schema([
        ("id", pa.string()), ("model", pa.string()), ("model_version", pa.string()),
        ("labels", pa.list_(pa.string())), ("scores", pa.struct([(label, pa.float32()) for label in labels])),
        ("regions", pa.list_(region)), ("windows", pa.int32()), ("truncated", pa.bool_()),
        ("text_hash", pa.string()), ("duplicate_of", pa.string()), ("error", pa.string()),
        ("source", pa.string()), ("position", pa.int64()),
    ])


class Scorer:
    """A loaded model and the row layout; one per worker thread or Ray actor (ONNX sessions are not shared)."""

    def __init__(self, model_dir: str | Path, *, threads: int = 1, regions: bool = True,
                 token_budget: int = DEFAULT_TOKEN_BUDGET) -> None:
        from model.runtime import Classifier

        self.clf = Classifier.load(model_dir, threads=threads, regions=regions)
        self.regions, self.token_budget = regions, token_budget
        self.labels = self.clf.labels

    def score(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        """Output rows for the items that get one, in input order; only `scorable` items reach ONNX.

        If a chunk fails, its items are scored one by one so a single bad article becomes an error row.
        """
        try:
            return self._score(items)
        except Exception:
            if len(items) == 1:
                raise
        rows = []
        for it in items:
            try:
                rows.extend(self._score([it]))
            except Exception as err:  # noqa: BLE001 - one article must not stop the job
                it.rec.error = f"scoring failed ({type(err).__name__}: {err})"[:500]
                it.report = {"source": it.rec.source, "position": it.rec.position, "id": it.rec.id,
                             "kind": "error", "reason": it.rec.error, "row": None}
                rows.extend([self.row(it)] if it.row else [])
        return rows

    def _score(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        clf = self.clf
        todo = [it for it in items if it.scorable]
        articles = [clf.prepare(it.rec.text, it.rec.title) for it in todo]
        outputs = clf.infer_articles(articles, self.token_budget)
        preds = {id(it): clf.finish(a, o, article_id=it.rec.id, evidence=False, regions=self.regions)
                 for it, a, o in zip(todo, articles, outputs)}
        return [self.row(it, preds.get(id(it))) for it in items if it.row]

    def row(self, item: Item, pred=None) -> dict[str, Any]:
        rec = item.rec
        out: dict[str, Any] = {"id": rec.id, "model": self.clf.config.name, "model_version": self.clf.config.version,
                               "labels": None, "scores": None, "regions": None, "windows": None, "truncated": None,
                               "text_hash": item.text_hash, "duplicate_of": item.duplicate_of, "error": rec.error,
                               "source": rec.source, "position": rec.position}
        if pred is not None:
            out.update(labels=pred.labels, scores=pred.scores, windows=pred.windows, truncated=pred.truncated,
                       regions=[region_row(r) for r in pred.regions])
        return out


def region_row(r: dict[str, Any]) -> dict[str, Any]:
    prov = r.get("province") or {}
    return {"code": r["code"], "name": r["name"], "level": r.get("level"),
            "province_code": prov.get("code") or r["code"][:2], "province_name": prov.get("name") or r["name"],
            "score": r.get("score")}
