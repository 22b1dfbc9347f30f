"""Fine-tuning: article-level multi-label BCE through window pooling, bf16 autocast where the CPU has it, fixed seeds."""

from __future__ import annotations

import copy
import math
import random
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from model.encoders import load_encoder
from model.network import IssueClassifier, WindowPooling, encode_bottom, forward_top, pool_article_logits
from model.text import encode_article, pad_batch
from training.args import TrainingArgs


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def special_ids(hf_tokenizer) -> tuple[int, int, int]:
    """(bos, eos, pad) as the tokenizer frames a sequence: read from an encoded empty string, not guessed."""
    framed = hf_tokenizer("")["input_ids"]
    return int(framed[0]), int(framed[-1]), int(hf_tokenizer.pad_token_id)


def raw_tokenizer(hf_tokenizer):
    """The underlying `tokenizers.Tokenizer` with truncation and padding off (what serving loads)."""
    tok = hf_tokenizer.backend_tokenizer
    tok.no_truncation()
    tok.no_padding()
    return tok


class Trainer:
    """Builds the network from `args.base_encoder` and fine-tunes it on (texts, multi-hot labels)."""

    def __init__(self, args: TrainingArgs, num_labels: int, tokenizer_texts: list[str] | None = None,
                 preloaded: tuple | None = None) -> None:
        """`preloaded`: an `(encoder, tokenizer)` pair from `load_encoder`, copied, so recipe tries load once."""
        self.args = args
        set_seed(args.seed)
        if args.threads:
            torch.set_num_threads(args.threads)
        if preloaded is not None:
            encoder, self.hf_tokenizer = copy.deepcopy(preloaded[0]), preloaded[1]
        else:
            encoder, self.hf_tokenizer = load_encoder(args.base_encoder, tokenizer_texts=tokenizer_texts, seed=args.seed)
        self.model = IssueClassifier(encoder, num_labels, dropout=args.dropout, token_pooling=args.token_pooling)
        self.window_pooling = WindowPooling(num_labels)  # trained only with pooling "lse"
        self.bos_id, self.eos_id, self.pad_id = special_ids(self.hf_tokenizer)
        self.tokenizer = raw_tokenizer(self.hf_tokenizer)
        self.encoded: list = []  # the training articles as windows, kept by fit() for quantisation calibration
        self._freeze()

    def _freeze(self) -> None:
        enc = self.model.encoder
        if self.args.freeze_embeddings:
            enc.embeddings.word_embeddings.weight.requires_grad_(False)
        for layer in enc.encoder.layer[: self.args.freeze_layers]:
            for p in layer.parameters():
                p.requires_grad_(False)

    def encode(self, text: str, max_windows: int | None = None):
        a = self.args
        return encode_article(self.tokenizer, text, max_length=a.max_length, stride=a.stride, bos_id=self.bos_id,
                              eos_id=self.eos_id, max_windows=max_windows)

    def _order(self, n: int, rng: random.Random, weights: list[float] | None) -> list[int]:
        """One epoch's article order: a shuffle, or (sampling "balanced") n draws weighted towards rare labels."""
        if weights is None:
            order = list(range(n))
            rng.shuffle(order)
            return order
        return rng.choices(range(n), weights=weights, k=n)

    def _batches(self, encoded: list, rng: random.Random, weights: list[float] | None = None):
        """Order articles (see `_order`), take a random run of at most `max_train_windows` windows each (indices),
        and group articles into batches of at most `batch_windows` windows."""
        order = self._order(len(encoded), rng, weights)
        batch, n_windows = [], 0
        for i in order:
            wins = list(range(len(encoded[i].windows)))
            if len(wins) > self.args.max_train_windows:
                start = rng.randrange(len(wins) - self.args.max_train_windows + 1)
                wins = wins[start : start + self.args.max_train_windows]
            if batch and n_windows + len(wins) > self.args.batch_windows:
                yield batch
                batch, n_windows = [], 0
            batch.append((i, wins))
            n_windows += len(wins)
        if batch:
            yield batch

    def cache_frozen(self, encoded: list) -> list[list[torch.Tensor]]:
        """Run the frozen embeddings + bottom layers once per window (eval mode, bf16 where used) and keep the output.

        Frozen layers get no gradient, so recomputing them every epoch is pure waste; caching makes an epoch cost
        only the trainable top layers (measured ~3x faster with 8 of 12 layers frozen on 2 cores).
        """
        k, out, bf16 = self.args.freeze_layers, [], self.args.use_bf16()
        self.model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for art in tqdm(encoded, desc=f"caching frozen layers 0-{k - 1}", unit="article"):
                ids, mask = pad_batch(art.windows, self.pad_id)
                hidden = encode_bottom(self.model, torch.from_numpy(ids), torch.from_numpy(mask), k)
                dtype = torch.bfloat16 if bf16 else torch.float32
                out.append([hidden[j, : len(w)].to(dtype) for j, w in enumerate(art.windows)])
        self.model.train()
        return out

    @property
    def uses_cache(self) -> bool:
        return self.args.freeze_layers > 0 and self.args.freeze_embeddings

    def fit(self, texts: list[str], labels: np.ndarray, cache: list | None = None) -> dict:
        """Train; returns a small history (loss per epoch, seconds, windows/s).

        `cache`: the frozen layers' outputs for these texts (`cache_frozen`), when a caller trains several recipes
        with the same frozen layers on the same data and computes them once.
        """
        a = self.args
        rng, bf16 = random.Random(a.seed), a.use_bf16()
        encoded = self.encoded = [self.encode(t) for t in tqdm(texts, desc="tokenising", leave=False)]
        y = torch.tensor(np.asarray(labels), dtype=torch.float32)
        if cache is None and self.uses_cache:
            cache = self.cache_frozen(encoded)
        weights = balanced_weights(labels) if a.sampling == "balanced" else None
        steps_per_epoch = sum(1 for _ in self._batches(encoded, random.Random(a.seed), weights))
        total = a.max_steps or max(1, math.ceil(steps_per_epoch * a.epochs))
        head = list(self.model.head.parameters()) + (list(self.window_pooling.parameters()) if a.pooling == "lse" else [])
        body = [p for n, p in self.model.named_parameters() if p.requires_grad and not n.startswith("head.")]
        opt = torch.optim.AdamW([{"params": body, "lr": a.learning_rate}, {"params": head, "lr": a.head_learning_rate}],
                                weight_decay=a.weight_decay)
        warmup = max(1, int(total * a.warmup_ratio))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)) if s >= warmup
            else (s + 1) / warmup)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        self.model.train()
        history = {"loss": [], "steps": total, "bf16": bf16}
        step, seen, t0 = 0, 0, time.time()
        bar = tqdm(total=total, desc="fine-tuning", unit="step")
        while step < total:
            epoch_loss, n = 0.0, 0
            for batch in self._batches(encoded, rng, weights):
                windows = [(i, w) for i, wins in batch for w in wins]
                owner = torch.tensor([k for k, (_, wins) in enumerate(batch) for _ in wins])
                ids, mask = pad_batch([encoded[i].windows[w] for i, w in windows], self.pad_id)
                mask_t = torch.from_numpy(mask)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    if cache is not None:
                        hidden = torch.nn.utils.rnn.pad_sequence([cache[i][w] for i, w in windows], batch_first=True)
                        window_logits = forward_top(self.model, hidden, mask_t, a.freeze_layers)
                    else:
                        window_logits, _ = self.model(torch.from_numpy(ids), mask_t)
                article_logits = pool_article_logits(window_logits.float(), owner, len(batch), a.pooling,
                                                     self.window_pooling.temperature())
                loss = loss_fn(article_logits, y[[i for i, _ in batch]])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                seen += len(windows)
                epoch_loss, n = epoch_loss + loss.item(), n + 1
                bar.update(1)
                bar.set_postfix(loss=f"{epoch_loss / n:.4f}", win_s=f"{seen / (time.time() - t0):.1f}")
                if step >= total:
                    break
            history["loss"].append(epoch_loss / max(1, n))
        bar.close()
        self.model.eval()
        if a.pooling == "lse":
            history["pool_temperature"] = self.pool_temperature()
        history.update(seconds=round(time.time() - t0, 1), windows_per_s=round(seen / (time.time() - t0), 2))
        return history

    def pool_temperature(self) -> list[float]:
        """The learned per-label temperatures of "lse" pooling (empty for max/mean), for classifier.json."""
        if self.args.pooling != "lse":
            return []
        return [round(float(t), 5) for t in self.window_pooling.temperature().detach()]

    @torch.no_grad()
    def article_probabilities(self, encoded: list, cache: list | None = None) -> np.ndarray:
        """Article probabilities [n, labels] from the torch model (fp32, eval mode), pooled as in training.

        With `cache` (the frozen layers' outputs of these articles) only the top layers run: recipe tries score
        their dev split this way without exporting ONNX.
        """
        self.model.eval()
        out = []
        for k, art in enumerate(encoded):
            ids, mask = pad_batch(art.windows, self.pad_id)
            mask_t = torch.from_numpy(mask)
            if cache is not None:
                hidden = torch.nn.utils.rnn.pad_sequence([h.float() for h in cache[k]], batch_first=True)
                window_logits = forward_top(self.model, hidden, mask_t, self.args.freeze_layers)
            else:
                window_logits, _ = self.model(torch.from_numpy(ids), mask_t)
            owner = torch.zeros(len(art.windows), dtype=torch.long)
            pooled = pool_article_logits(window_logits.float(), owner, 1, self.args.pooling,
                                         self.window_pooling.temperature())
            out.append(torch.sigmoid(pooled[0]).numpy())
        return np.stack(out)


def balanced_weights(labels: np.ndarray) -> list[float]:
    """Sampling weight per article: sqrt(most frequent label count / count of its rarest label), no-issue
    articles counted as one more class. Rare labels are drawn more often without repeating them to memorisation."""
    y = np.asarray(labels) > 0.5
    counts = np.append(y.sum(axis=0), (~y.any(axis=1)).sum()).astype(float)
    ratio = np.sqrt(counts.max() / np.maximum(counts, 1.0))
    return [float(ratio[np.flatnonzero(row)].max()) if row.any() else float(ratio[-1]) for row in y]
