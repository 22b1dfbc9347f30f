"""Inference on ONNX Runtime: `Classifier.load(dir).predict(texts)`. Shared by the CLI, the API and batch jobs.

The steps are public so servers and batch jobs can interleave them: `prepare` (tokenise and window, CPU-bound,
thread-safe), `infer` (one ORT call over windows of many articles, grouped by a token budget) and `finish`
(pool windows, thresholds, evidence, regions).

Backends (`classifier.json`'s `backend`, or `Classifier.load(dir, backend=...)`): "ort" (ONNX Runtime, the
default, always installed) and "openvino" (the `openvino` package reads the same ONNX files; optional, installed
with `pip install 'rawan[openvino]'`). Both run behind the same two calls (`get_inputs`, `run`), so everything
above `infer` is one code path. Runtimes are imported only when a model is loaded with them.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

import numpy as np

from model.artifact import ArtifactConfig
from model.taxonomy import Taxonomy
from model.text import (EncodedArticle, encode_article, join_title, pad_batch, pool_windows, sentence_logits, sigmoid,
                        token_scores)

log = logging.getLogger("rawan.runtime")
# Padded tokens per inference call: 8 full 256-token windows. Measured on 2 cores (Xeon with AMX, e5-small):
# OpenVINO bf16 64 windows/s at 8 windows per call vs 57 at 32; ORT fp32 13.9 vs 11.9 (smaller batches stay in cache).
DEFAULT_TOKEN_BUDGET = 2048
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


BACKENDS = ("ort", "openvino")
OPENVINO_PRECISIONS = ("f32", "bf16", "f16")


class MissingExtra(ImportError):
    """A backend's runtime is not installed; the message names the pip extra that installs it."""


def resolve_threads(threads: int | None = None) -> int:
    """Threads for one inference session: as given, else RAWAN_THREADS, else every core."""
    return threads or int(os.environ.get("RAWAN_THREADS", 0)) or (os.cpu_count() or 1)


def session_options(threads: int | None = None):
    """Explicit ORT threading: intra-op = cores given to this process, inter-op 1, no spinning (shared cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = resolve_threads(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def ort_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session with Rawan's threading."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])


def openvino_capabilities() -> list[str]:
    """What OpenVINO's CPU plugin says this CPU runs natively (e.g. FP32, BF16, INT8); raises MissingExtra."""
    return list(_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _openvino():
    try:
        import openvino
    except ImportError as err:
        raise MissingExtra("the OpenVINO backend needs the openvino package: pip install 'rawan[openvino]'") from err
    return openvino


class OpenVinoSession:
    """An OpenVINO CPU compiled model behind the two calls `Classifier` makes of an ORT session.

    `precision` is the inference precision of the float parts ("f32", or "bf16" where the CPU has AMX or
    avx512_bf16; int8 QDQ graphs run their quantised MatMuls in int8 either way). It is always set explicitly:
    the CPU plugin's own default is bf16 on bf16-capable CPUs, which would change scores without anyone asking.
    One stream, no core pinning (the cores are shared), dynamic batch and sequence axes as in the ONNX file.
    Each thread gets its own infer request, so a `Classifier` may be shared like an ORT one.
    """

    def __init__(self, path: str | Path, threads: int | None = None, precision: str = "f32") -> None:
        ov = _openvino()
        if precision not in OPENVINO_PRECISIONS:
            raise ValueError(f"OpenVINO precision must be one of {OPENVINO_PRECISIONS}, got {precision!r}")
        why = backend_problem("openvino", {"precision": precision})
        if why:
            raise ValueError(why)
        core = ov.Core()
        self.threads = resolve_threads(threads)
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": 1,
                  "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False,
                  # no per-token activation quantisation behind our back: scores must not depend on the build
                  "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        actual = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # what the plugin actually runs
        self.precision = actual.get_type_name() if hasattr(actual, "get_type_name") else str(actual)
        self._outputs = {o.get_any_name(): o for o in self.compiled.outputs}
        self._local = threading.local()

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=i.get_any_name()) for i in self.compiled.inputs]

    def run(self, output_names: Sequence[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        result = request.infer(feed)  # outputs are copied out of the request (share_outputs=False)
        return [np.asarray(result[self._outputs[name]]) for name in output_names]


def served_variant_problem(config: ArtifactConfig, backend: str, options: dict[str, Any] | None) -> str | None:
    """Why classifier.json's served variant cannot run as gated on this machine, or None.

    `rawan quantize` picks a variant on the machine it runs on; a copy of the model directory may land on a CPU
    without the variant's runtime or kernels (OpenVINO bf16 without AMX/avx512_bf16, an int8 graph with full-range
    weights without VNNI). Only variants other than model.onnx on ORT can have a problem.
    """
    if backend == "ort" and config.onnx_file == "model.onnx":
        return None
    from model.hardware import missing_features

    missing = missing_features(config.requires)
    if missing:
        return f"this CPU lacks {', '.join(missing)}, which the variant was gated with"
    return backend_problem(backend, options)


def backend_problem(backend: str, options: dict[str, Any] | None) -> str | None:
    """Why `backend` with `options` cannot run here (its runtime is missing, or the CPU lacks the precision)."""
    if backend != "openvino":
        return None
    try:
        caps = openvino_capabilities()
    except MissingExtra as err:
        return str(err)
    precision = dict(options or {}).get("precision", "f32")
    if precision != "f32" and precision.upper() not in caps:
        return f"this CPU has no native {precision} (OpenVINO CPU capabilities: {', '.join(caps)})"
    return None


def open_session(path: str | Path, backend: str = "ort", threads: int | None = None,
                 options: dict[str, Any] | None = None):
    """The inference session of one ONNX file on one backend (imports that backend's runtime only now)."""
    options = dict(options or {})
    if backend == "ort":
        if options:
            raise ValueError(f"the ort backend takes no options, got {sorted(options)}")
        return ort_session(path, threads)
    if backend == "openvino":
        return OpenVinoSession(path, threads, **options)
    raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


class Classifier:
    """A loaded model version: tokenizer, inference session, thresholds, taxonomy and region tagger."""

    def __init__(self, directory: Path, config: ArtifactConfig, taxonomy: Taxonomy, tokenizer, session,
                 region_tagger=None, max_windows: int = DEFAULT_MAX_WINDOWS, backend: str = "ort",
                 threads: int | None = None, onnx_file: str | None = None, fallback: str | None = None) -> None:
        self.directory, self.config, self.taxonomy = directory, config, taxonomy
        self.onnx_file = onnx_file or config.onnx_file  # what this instance runs (model.onnx after a fallback)
        self.fallback = fallback  # why classifier.json's variant is not the one running, if it is not
        self.tokenizer, self.session, self.region_tagger = tokenizer, session, region_tagger
        self.max_windows = max_windows
        self.backend, self.threads = backend, resolve_threads(threads)
        self.labels = list(config.labels)
        self.thresholds = np.array([config.thresholds.get(label, 0.5) for label in self.labels], dtype=np.float32)
        self._input_names = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, directory: str | Path, *, threads: int | None = None, variant: str | None = None,
             regions: bool = True, max_windows: int = DEFAULT_MAX_WINDOWS, backend: str | None = None,
             backend_options: dict[str, Any] | None = None) -> "Classifier":
        """Load a model directory.

        `variant` overrides the ONNX file chosen at build time (e.g. "model.onnx"); `backend` ("ort" or
        "openvino") and `backend_options` (OpenVINO: `{"precision": "bf16"}`) override `classifier.json`'s. A
        backend asked for here whose runtime is missing raises `MissingExtra` (an ImportError) naming the pip
        extra. When classifier.json's own variant cannot run on this machine (`served_variant_problem`), the
        reference graph model.onnx is served on ORT instead, with a warning, and `fallback` says why.
        """
        from tokenizers import Tokenizer

        directory = Path(directory)
        config = ArtifactConfig.load(directory)
        taxonomy = Taxonomy.load(directory / "taxonomy.json")
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        onnx_path = directory / (variant or config.onnx_file)
        fallback = None
        if backend is None:
            backend = config.backend
            backend_options = config.backend_options if backend_options is None else backend_options
            fallback = served_variant_problem(config, backend, backend_options) if variant is None else None
        if fallback:
            # the variant was gated on another kind of machine: serve the reference graph, with the same thresholds
            log.warning("%s: not serving %s on %s here (%s); serving model.onnx on ORT fp32 instead",
                        directory, config.onnx_file, backend, fallback)
            onnx_path, backend, backend_options = directory / "model.onnx", "ort", {}
        session = open_session(onnx_path, backend, threads, backend_options)
        tagger = None
        if regions:
            from model.regions import RegionTagger

            tagger = RegionTagger.load()
        return cls(directory, config, taxonomy, tokenizer, session, tagger, max_windows, backend, threads,
                   onnx_path.name, fallback)

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
        """One inference call over a batch of windows -> per window (logits [labels], token_logits [len, labels])."""
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
                ids: Iterable[str | None] | None = None, token_budget: int = DEFAULT_TOKEN_BUDGET,
                **finish_kw) -> list[Prediction]:
        """Score many articles, grouping their windows into ONNX batches of at most `token_budget` tokens."""
        texts = list(texts)
        titles = list(titles) if titles is not None else [None] * len(texts)
        ids = list(ids) if ids is not None else [None] * len(texts)
        articles = [self.prepare(t, h) for t, h in zip(texts, titles)]
        outputs = self.infer_articles(articles, token_budget)
        return [self.finish(a, o, article_id=i, **finish_kw) for a, o, i in zip(articles, outputs, ids)]

    def infer_articles(self, articles: Sequence[EncodedArticle], token_budget: int = DEFAULT_TOKEN_BUDGET):
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
