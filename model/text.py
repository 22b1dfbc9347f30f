"""Text normalisation, token windows for long articles, sentence spans and window-score pooling.

Everything here must behave identically in training and serving, so both import it from this one place.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+|\n+")


def normalize_text(text: str) -> str:
    """NFC-normalise and strip; the encoder's vocabulary expects composed characters."""
    return unicodedata.normalize("NFC", text).strip()


def join_title(text: str, title: str | None) -> str:
    """Prepend the title unless the body already starts with it (scraped bodies often repeat it)."""
    body = normalize_text(text)
    if not title:
        return body
    head = normalize_text(title)
    return body if not head or body.startswith(head) else f"{head}\n{body}"


def window_spans(n_tokens: int, size: int, stride: int, max_windows: int | None = None) -> list[tuple[int, int]]:
    """[start, end) token spans of overlapping windows covering `n_tokens` content tokens.

    `size` tokens per window, each window starting `stride` tokens after the previous one; the last window is
    aligned to the end so no window is short unless the text is. Nothing is dropped unless `max_windows` caps it.
    """
    if size <= 0 or stride <= 0 or stride > size:
        raise ValueError(f"need 0 < stride <= size, got size={size} stride={stride}")
    if n_tokens <= size:
        return [(0, n_tokens)]
    starts = list(range(0, n_tokens - size, stride)) + [n_tokens - size]
    spans = [(s, s + size) for s in sorted(set(starts))]
    return spans[:max_windows] if max_windows else spans


@dataclass
class EncodedArticle:
    """An article cut into model-ready windows, with what is needed to map token scores back to the text."""

    text: str
    windows: list[np.ndarray]                  # token ids per window, specials included
    spans: list[tuple[int, int]]               # content-token span of each window
    offsets: np.ndarray                        # [n_content_tokens, 2] character offsets into `text`
    truncated: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        return int(sum(len(w) for w in self.windows))


def encode_article(tokenizer, text: str, *, max_length: int, stride: int, bos_id: int, eos_id: int,
                   max_windows: int | None = None) -> EncodedArticle:
    """Tokenise `text` once (a `tokenizers.Tokenizer`, no special tokens) and cut it into windows.

    Each window holds up to `max_length - 2` content tokens framed by `bos_id`/`eos_id`.
    """
    enc = tokenizer.encode(text, add_special_tokens=False)
    ids = np.asarray(enc.ids, dtype=np.int64)
    offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
    size = max_length - 2
    all_spans = window_spans(len(ids), size, min(stride, size))
    spans = all_spans[:max_windows] if max_windows else all_spans
    frame = lambda chunk: np.concatenate([[bos_id], chunk, [eos_id]]).astype(np.int64)  # noqa: E731
    windows = [frame(ids[s:e]) for s, e in spans]
    return EncodedArticle(text, windows, spans, offsets, truncated=len(spans) < len(all_spans))


def pool_windows(window_logits: np.ndarray, how: str = "max", temperature: Sequence[float] | None = None) -> np.ndarray:
    """Combine [n_windows, n_labels] window logits into one article logit per label.

    "lse" is a learned soft maximum: (logsumexp(r * l) - log n) / r per label, with the temperature r learned in
    training; r -> 0 gives the mean, large r the max, and one window gives the window's own logit.
    """
    if how == "max":
        return window_logits.max(axis=0)
    if how == "mean":
        return window_logits.mean(axis=0)
    if how == "lse":
        if temperature is None or len(temperature) != window_logits.shape[1]:
            raise ValueError("lse pooling needs one learned temperature per label")
        r = np.asarray(temperature, dtype=np.float64)
        z = window_logits.astype(np.float64) * r
        top = z.max(axis=0)
        lse = top + np.log(np.exp(z - top).sum(axis=0)) - np.log(len(window_logits))
        return (lse / r).astype(window_logits.dtype)
    raise ValueError(f"unknown pooling {how!r}; use 'max', 'mean' or 'lse'")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (and lines), whitespace trimmed; good enough for Indonesian news prose."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def token_scores(article: EncodedArticle, token_logits: list[np.ndarray]) -> np.ndarray:
    """Average each content token's per-label logit over the windows that cover it -> [n_tokens, n_labels]."""
    n, n_labels = len(article.offsets), token_logits[0].shape[-1]
    total = np.zeros((n, n_labels), dtype=np.float32)
    count = np.zeros((n, 1), dtype=np.float32)
    for (s, e), tl in zip(article.spans, token_logits):
        total[s:e] += tl[1 : 1 + e - s]  # skip the bos position
        count[s:e] += 1
    return total / np.maximum(count, 1)


def sentence_logits(article: EncodedArticle, per_token: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Mean token logit of every sentence: the classifier's own score decomposed over the text."""
    spans = sentence_spans(article.text)
    starts = article.offsets[:, 0] if len(article.offsets) else np.zeros(0, dtype=np.int64)
    out, kept = [], []
    for s, e in spans:
        lo, hi = np.searchsorted(starts, s, "left"), np.searchsorted(starts, e, "left")
        if hi > lo:
            kept.append((s, e))
            out.append(per_token[lo:hi].mean(axis=0))
    if not out:
        return [], np.zeros((0, per_token.shape[1] if per_token.ndim == 2 else 0), dtype=np.float32)
    return kept, np.stack(out)


def pad_batch(windows: list[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token windows into `input_ids` and `attention_mask` arrays (int64)."""
    width = max(len(w) for w in windows)
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w)] = w
        mask[i, : len(w)] = 1
    return ids, mask
