"""The torch network: an encoder, per-token label logits, and their pooling into a window logit.

Because the head is linear, `mean_t(W h_t + b) == W mean_t(h_t) + b`: with `token_pooling="mean"` the window logit
is exactly the mean-pooled classifier e5 was trained for. The default "mean+max" adds the masked max of the token
logits, so one decisive phrase can raise a label. Serving scores evidence sentences from the same token logits at
no extra encoder cost.
"""

from __future__ import annotations

import torch
from torch import nn


class IssueClassifier(nn.Module):
    """Multi-label issue classifier over one token window.

    Inputs: `input_ids`, `attention_mask` ([batch, seq], int64). Outputs: `logits` [batch, labels] and
    `token_logits` [batch, seq, labels] (raw logits; apply a sigmoid for probabilities).
    """

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1, token_pooling: str = "mean") -> None:
        super().__init__()
        if token_pooling not in TOKEN_POOLING:
            raise ValueError(f"token_pooling must be one of {TOKEN_POOLING}, got {token_pooling!r}")
        self.token_pooling = token_pooling
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        token_logits = self.head(self.dropout(hidden))
        return pool_tokens(token_logits, attention_mask, self.token_pooling), token_logits


TOKEN_POOLING = ("mean", "mean+max")


def pool_tokens(token_logits: torch.Tensor, attention_mask: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """Window logits from token logits: the attention-masked mean (e5's pooling), optionally plus the masked max.

    "mean+max" adds the strongest single token per label, which keeps the mean-pooled prior while letting one
    decisive phrase (a risk named in a list) raise the score.
    """
    mask = attention_mask.unsqueeze(-1).to(token_logits.dtype)
    mean = (token_logits * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if how == "mean":
        return mean
    masked = token_logits.masked_fill(mask == 0, torch.finfo(token_logits.dtype).min)
    return mean + masked.max(dim=1).values


class WindowPooling(nn.Module):
    """Learned temperature of "lse" pooling across windows (one per label; see `model.text.pool_windows`).

    Kept apart from `IssueClassifier` because pooling across windows happens outside the ONNX graph: the learned
    temperatures are written to classifier.json and applied by the runtime.
    """

    def __init__(self, num_labels: int, initial: float = 4.0) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.full((num_labels,), float(torch.log(torch.expm1(torch.tensor(initial))))))

    def temperature(self) -> torch.Tensor:
        return nn.functional.softplus(self.raw) + 1e-3


def pool_article_logits(window_logits: torch.Tensor, article_index: torch.Tensor, n_articles: int,
                        how: str = "max", temperature: torch.Tensor | None = None) -> torch.Tensor:
    """Pool [n_windows, labels] window logits into [n_articles, labels] (`article_index` maps window -> article)."""
    labels = window_logits.shape[1]
    index = article_index.unsqueeze(1).expand(-1, labels)
    if how == "lse":
        r = temperature
        z = window_logits * r
        top = torch.full((n_articles, labels), float("-inf"), dtype=z.dtype).scatter_reduce(
            0, index, z, reduce="amax", include_self=True).detach()
        sums = torch.zeros((n_articles, labels), dtype=z.dtype).index_add_(0, article_index, torch.exp(z - top[article_index]))
        counts = torch.bincount(article_index, minlength=n_articles).to(z.dtype).unsqueeze(1)
        return (top + torch.log(sums) - torch.log(counts)) / r
    if how == "max":
        out = torch.full((n_articles, labels), float("-inf"), dtype=window_logits.dtype)
        return out.scatter_reduce(0, index, window_logits, reduce="amax", include_self=True)
    if how == "mean":
        out = torch.zeros((n_articles, labels), dtype=window_logits.dtype)
        return out.scatter_reduce(0, index, window_logits, reduce="mean", include_self=False)
    raise ValueError(f"unknown pooling {how!r}")


def _mask(encoder: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor):
    return encoder._create_attention_masks(attention_mask=attention_mask, encoder_attention_mask=None,
                                           embedding_output=hidden, encoder_hidden_states=None, past_key_values=None)[0]


def encode_bottom(model: IssueClassifier, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  n_layers: int) -> torch.Tensor:
    """Hidden states after the embeddings and the first `n_layers` layers (BERT-family encoders).

    Training freezes these layers, so their output is computed once per window and cached.
    """
    enc = model.encoder
    hidden = enc.embeddings(input_ids=input_ids)
    mask = _mask(enc, hidden, attention_mask)
    for layer in enc.encoder.layer[:n_layers]:
        hidden = layer(hidden, mask)
    return hidden


def forward_top(model: IssueClassifier, hidden: torch.Tensor, attention_mask: torch.Tensor,
                n_layers: int) -> torch.Tensor:
    """Window logits from cached bottom hidden states: the remaining layers, the head and the masked mean."""
    enc = model.encoder
    mask = _mask(enc, hidden, attention_mask)
    for layer in enc.encoder.layer[n_layers:]:
        hidden = layer(hidden, mask)
    return pool_tokens(model.head(model.dropout(hidden)), attention_mask, model.token_pooling)


def load_torch_classifier(directory) -> IssueClassifier:
    """Rebuild the fine-tuned torch network of a model version (for benchmarks and re-export)."""
    import json
    from pathlib import Path

    from transformers import AutoConfig, AutoModel

    directory = Path(directory)
    enc_cfg = json.loads((directory / "encoder_config.json").read_text())
    config = AutoConfig.for_model(**enc_cfg)
    encoder = AutoModel.from_config(config, add_pooling_layer=False)
    state = torch.load(directory / "torch_state.pt", map_location="cpu", weights_only=True)
    pooling = json.loads((directory / "classifier.json").read_text()).get("token_pooling", "mean")
    model = IssueClassifier(encoder, state["head.weight"].shape[0], token_pooling=pooling)
    model.load_state_dict(state)
    return model.eval()
