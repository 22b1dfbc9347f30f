import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from model.text import (encode_article, join_title, pool_windows, sentence_logits, sentence_spans, token_scores,
                        window_spans)


@pytest.mark.parametrize("n,size,stride", [(0, 10, 5), (7, 10, 5), (10, 10, 5), (11, 10, 5), (1000, 254, 192),
                                           (513, 254, 254)])
def test_windows_cover_every_token_without_short_tails(n, size, stride):
    spans = window_spans(n, size, stride)
    covered = np.zeros(n, dtype=bool)
    for s, e in spans:
        covered[s:e] = True
        assert e - s == min(size, n)
    assert covered.all()
    assert spans[0][0] == 0 and spans[-1][1] == n


def test_bad_window_settings_raise():
    with pytest.raises(ValueError):
        window_spans(10, 5, 6)


def _word_tokenizer(text):
    vocab = {w: i + 3 for i, w in enumerate(sorted(set(text.split())))}
    vocab["[UNK]"] = 0
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def test_long_article_is_windowed_not_truncated():
    text = " ".join(f"w{i}" for i in range(1000))
    art = encode_article(_word_tokenizer(text), text, max_length=66, stride=48, bos_id=1, eos_id=2)
    assert not art.truncated
    assert len(art.windows) == len(window_spans(1000, 64, 48))
    assert all(w[0] == 1 and w[-1] == 2 and len(w) == 66 for w in art.windows)
    capped = encode_article(_word_tokenizer(text), text, max_length=66, stride=48, bos_id=1, eos_id=2, max_windows=3)
    assert capped.truncated and len(capped.windows) == 3


def test_title_is_joined_once():
    assert join_title("Isi berita.", "Judul") == "Judul\nIsi berita."
    assert join_title("Judul\nIsi berita.", "Judul") == "Judul\nIsi berita."
    assert join_title("  Isi  ", None) == "Isi"


def test_sentence_spans_split_sentences_and_lines():
    text = "Kalimat satu. Kalimat dua!\nBaca juga: berita lain\n\n“Kutipan,” kata dia."
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Kalimat satu.", "Kalimat dua!", "Baca juga: berita lain", "“Kutipan,” kata dia."]


def test_pooling_and_token_decomposition():
    logits = np.array([[0.0, 2.0], [1.0, -1.0]])
    assert pool_windows(logits, "max").tolist() == [1.0, 2.0]
    assert pool_windows(logits, "mean").tolist() == [0.5, 0.5]
    text = "a b c. d e f."
    art = encode_article(_word_tokenizer(text), text, max_length=6, stride=2, bos_id=1, eos_id=2)
    # token logits per window: label 0 is high on token "e" only
    outs = []
    for (s, e), w in zip(art.spans, art.windows):
        tl = np.zeros((len(w), 1), dtype=np.float32)
        for k in range(s, e):
            tl[1 + k - s, 0] = 5.0 if k == 4 else -5.0
        outs.append(tl)
    per_token = token_scores(art, outs)
    spans, sl = sentence_logits(art, per_token)
    assert [text[s:e] for s, e in spans] == ["a b c.", "d e f."]
    assert sl[1, 0] > sl[0, 0]
