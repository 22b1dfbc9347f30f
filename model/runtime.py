"""Inference on ONNX Runtime: `Classifier.load(dir).predict(texts)`. Shared by the CLI, the API and batch jobs.

The steps are public so servers and batch jobs can interleave them: `prepare` (tokenise and window, CPU-bound,
thread-safe), `infer` (one ORT call over windows of many articles, grouped by a token budget) and `finish`
(pool windows, thresholds, evidence, regions).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from model.artifact import ArtifactConfig
from model.taxonomy import Taxonomy
from model.text import (EncodedArticle, encode_article, join_title, pad_batch, pool_windows, sentence_logits, sigmoid,
                        token_scores)

DEFAULT_MAX_WINDOWS = 64  # ~16k tokens, about 100k characters of Indonesian news; longer texts are flagged truncated


@dataclass
class Prediction:
    """One article's result, in the shape every Rawan interface returns."""

    id: str | None
    model: dict[str, str]
    scores: dict[str, float]
    labels: list[str]
    issues: list[dict[str, Any]]
    regions: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    windows: int = 0
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "labels": self.labels, "issues": self.issues,
                "regions": self.regions, "evidence": self.evidence, "windows": self.windows,
                "truncated": self.truncated}


def session_options(threads: int | None = None):
    """Explicit ORT threading: intra-op = cores given to this process, inter-op 1, no spinning (shared cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or int(os.environ.get("RAWAN_THREADS", 0)) or (os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class Classifier:
    """A loaded model version: tokenizer, ONNX session, thresholds, taxonomy and region tagger."""

    def __init__(self, directory: Path, config: ArtifactConfig, taxonomy: Taxonomy, tokenizer, session,
                 region_tagger=None, max_windows: int = DEFAULT_MAX_WINDOWS) -> None:
        self.directory, self.config, self.taxonomy = directory, config, taxonomy
        self.tokenizer, self.session, self.region_tagger = tokenizer, session, region_tagger
        self.max_windows = max_windows
        self.labels = list(config.labels)
        self.thresholds = np.array([config.thresholds.get(label, 0.5) for label in self.labels], dtype=np.float32)
        self._input_names = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, directory: str | Path, *, threads: int | None = None, variant: str | None = None,
             regions: bool = True, max_windows: int = DEFAULT_MAX_WINDOWS) -> "Classifier":
        """Load a model directory. `variant` overrides the ONNX file chosen at build time (e.g. "model.onnx")."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = Path(directory)
        config = ArtifactConfig.load(directory)
        taxonomy = Taxonomy.load(directory / "taxonomy.json")
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        onnx_path = directory / (variant or config.onnx_file)
        session = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads),
                                       providers=["CPUExecutionProvider"])
        tagger = None
        if regions:
            from model.regions import RegionTagger

            tagger = RegionTagger.load()
        return cls(directory, config, taxonomy, tokenizer, session, tagger, max_windows)

    @property
    def info(self) -> dict[str, str]:
        return {"name": self.config.name, "version": self.config.version}

    # -- steps ---------------------------------------------------------------------------------------------
    def prepare(self, text: str, title: str | None = None) -> EncodedArticle:
        """Normalise, join the title and cut into token windows (no ONNX work; safe to run in threads)."""
        c = self.config
        return encode_article(self.tokenizer, join_title(text, title), max_length=c.max_length, stride=c.stride,
                              bos_id=c.bos_id, eos_id=c.eos_id, max_windows=self.max_windows)

    def infer(self, windows: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """One ONNX call over a batch of windows -> per window (logits [labels], token_logits [len, labels])."""
        ids, mask = pad_batch(list(windows), self.config.pad_id)
        feed = {"input_ids": ids, "attention_mask": mask}
        logits, token_logits = self.session.run(["logits", "token_logits"],
                                                {k: v for k, v in feed.items() if k in self._input_names})
        return [(logits[i], token_logits[i, : len(w)]) for i, w in enumerate(windows)]

    def finish(self, article: EncodedArticle, outputs: list[tuple[np.ndarray, np.ndarray]], *,
               article_id: str | None = None, threshold: float | None = None, evidence: bool = True,
               regions: bool = True, lang: str = "id", max_evidence: int = 3) -> Prediction:
        """Pool window outputs into article scores, apply thresholds, attach evidence sentences and regions."""
        window_logits = np.stack([o[0] for o in outputs])
        probs = sigmoid(pool_windows(window_logits, self.config.pooling, self.config.pool_temperature or None))
        cut = np.full_like(self.thresholds, threshold) if threshold is not None else self.thresholds
        predicted = probs >= cut
        issues = [{"id": label, "name": issue.display(lang), "score": round(float(p), 4), "predicted": bool(hit)}
                  for label, issue, p, hit in zip(self.labels, self.taxonomy.issues, probs, predicted)]
        labels = [label for label, hit in zip(self.labels, predicted) if hit]
        ev = self._evidence(article, outputs, predicted, cut, max_evidence) if evidence and labels else {}
        found = self.region_tagger.tag(article.text) if (regions and self.region_tagger is not None) else []
        return Prediction(article_id, self.info, {k: float(p) for k, p in zip(self.labels, probs)}, labels, issues,
                          found, ev, len(article.windows), article.truncated)

    def _evidence(self, article: EncodedArticle, outputs, predicted: np.ndarray, cut: np.ndarray,
                  k: int) -> dict[str, list[dict[str, Any]]]:
        per_token = token_scores(article, [o[1] for o in outputs])
        spans, sent_logits = sentence_logits(article, per_token)
        if not spans:
            return {}
        sent_probs = sigmoid(sent_logits)
        out: dict[str, list[dict[str, Any]]] = {}
        for j in np.flatnonzero(predicted):
            order = np.argsort(-sent_probs[:, j])[:k]
            keep = [i for n, i in enumerate(order) if n == 0 or sent_probs[i, j] >= cut[j]]
            out[self.labels[j]] = [{"sentence": article.text[spans[i][0]:spans[i][1]], "start": int(spans[i][0]),
                                    "end": int(spans[i][1]), "score": round(float(sent_probs[i, j]), 4)}
                                   for i in keep]
        return out

    # -- convenience -----------------------------------------------------------------------------------------
    def predict(self, texts: Iterable[str], *, titles: Iterable[str | None] | None = None,
                ids: Iterable[str | None] | None = None, token_budget: int = 8192, **finish_kw) -> list[Prediction]:
        """Score many articles, grouping their windows into ONNX batches of at most `token_budget` tokens."""
        texts = list(texts)
        titles = list(titles) if titles is not None else [None] * len(texts)
        ids = list(ids) if ids is not None else [None] * len(texts)
        articles = [self.prepare(t, h) for t, h in zip(texts, titles)]
        outputs = self.infer_articles(articles, token_budget)
        return [self.finish(a, o, article_id=i, **finish_kw) for a, o, i in zip(articles, outputs, ids)]

    def infer_articles(self, articles: Sequence[EncodedArticle], token_budget: int = 8192):
        """Run every window of `articles` through ONNX in length-sorted batches; outputs grouped per article."""
        flat = [(a, w) for a, art in enumerate(articles) for w in range(len(art.windows))]
        flat.sort(key=lambda aw: len(articles[aw[0]].windows[aw[1]]))
        results: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for batch in token_batches(flat, lambda aw: len(articles[aw[0]].windows[aw[1]]), token_budget):
            outs = self.infer([articles[a].windows[w] for a, w in batch])
            results.update(zip(batch, outs))
        return [[results[(a, w)] for w in range(len(art.windows))] for a, art in enumerate(articles)]


def token_batches(items: Sequence, length, budget: int) -> Iterable[list]:
    """Split length-sorted items into batches whose padded size (count x longest) stays within `budget` tokens."""
    batch: list = []
    longest = 0
    for item in items:
        n = length(item)
        if batch and max(longest, n) * (len(batch) + 1) > budget:
            yield batch
            batch, longest = [], 0
        batch.append(item)
        longest = max(longest, n)
    if batch:
        yield batch


def load_classifier(directory: str | Path, **kw) -> Classifier:
    return Classifier.load(directory, **kw)
