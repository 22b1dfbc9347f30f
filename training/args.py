"""Training configuration: one validated dataclass, copied verbatim into every model artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from model.encoders import OFFLINE_E5


@dataclass
class TrainingArgs:
    """How a model version is built. Defaults are the offline production recipe (e5-small, 2 CPU cores).

    Windows: `max_length` tokens per window (specials included), a new window every `stride` content tokens,
    so consecutive windows overlap by `max_length - 2 - stride` tokens; window logits are pooled by `pooling`.
    Freezing: the word embeddings and the bottom `freeze_layers` encoder layers stay fixed and their outputs are
    computed once and cached, so an epoch costs only the top layers. 8 of 12 frozen with 4 epochs was the measured
    choice for 2 cores (dev micro-F1 0.908 on an early 61-article dev snapshot, ~8.6 windows/s vs 3.4 unfrozen).
    Token pooling "mean+max" (window logit = masked mean + masked max of the token logits) was chosen on the full
    dev split: micro-F1 0.924 vs 0.882 for the mean alone (6 trainable layers with the mean: 0.845).
    """

    name: str = "rawan-e5-small"
    base_encoder: str = OFFLINE_E5
    max_length: int = 256
    stride: int = 192
    pooling: str = "lse"  # chosen on dev v2 (recipe tries, README): 0.837 vs 0.833 for max, 0 vs 3 no-issue flagged
    sampling: str = "shuffle"
    token_pooling: str = "mean+max"
    epochs: float = 2.0
    batch_windows: int = 16
    learning_rate: float = 6e-5
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    dropout: float = 0.1
    freeze_embeddings: bool = True
    freeze_layers: int = 8
    max_train_windows: int = 2
    bf16: bool | None = None  # None: on where the CPU has native bf16 (model.hardware.has_fast_bf16)
    seed: int = 13
    quantize: bool = False  # int8 variants are built and gated on request (they never passed the gate)
    threads: int = 0
    max_steps: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token_pooling not in ("mean", "mean+max"):
            raise ValueError(f"token_pooling must be 'mean' or 'mean+max', got {self.token_pooling!r}")
        if self.pooling not in ("max", "mean", "lse"):
            raise ValueError(f"pooling must be 'max', 'mean' or 'lse', got {self.pooling!r}")
        if self.sampling not in ("shuffle", "balanced"):
            raise ValueError(f"sampling must be 'shuffle' or 'balanced', got {self.sampling!r}")
        if not 8 <= self.max_length <= 512:
            raise ValueError(f"max_length must be in [8, 512], got {self.max_length}")
        if not 0 < self.stride <= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be in (0, max_length - 2 = {self.max_length - 2}]")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("set epochs > 0 or max_steps > 0")
        if self.batch_windows < 1 or self.max_train_windows < 1:
            raise ValueError("batch_windows and max_train_windows must be >= 1")

    def use_bf16(self) -> bool:
        """Whether to autocast to bf16: as set, or (None) only where the CPU multiplies bf16 natively."""
        from model.hardware import has_fast_bf16

        return has_fast_bf16() if self.bf16 is None else self.bf16

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, ignore_extra: bool = False) -> "TrainingArgs":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown and not ignore_extra:
            raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in data.items() if k in names})
