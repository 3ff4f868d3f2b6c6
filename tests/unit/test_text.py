"""The text pre/post-processing: the tokenizer is `tokenizers` itself (ids and offsets equal its own
encode), normalises as documented, truncates and says so; spans merge tokens into language runs with
offsets into the original string."""
from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer

from mobilesdk.errors import ConfigError
from mobilesdk.text.spans import Span, agreement, spans
from mobilesdk.text.tokenizer import CLS, PAD, SEP, UNK, TextTokenizer, train_wordpiece

SENTENCES = [
    "说实话 I really like 这个新功能 😊", "Makanan ni sedap gila lah!!! 👍", "omg the delivery is sooo late 😡",
    "今天天气很好, let's go makan", "Check https://example.com for RM15 deals at 3pm", "Café au lait, très BON",
] * 4
LANGS = ("zh", "en", "ms", "other")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_wordpiece(SENTENCES, vocab_size=300).save(str(path))
    return TextTokenizer(path)


def test_special_tokens_sit_at_fixed_ids(tok):
    assert [tok.tok.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]")] == [PAD, UNK, CLS, SEP]
    d = tok.describe(64)
    assert d["special_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4} and d["max_tokens"] == 64
    assert d["normalizer"]["lowercase"] and d["normalizer"]["handle_chinese_chars"] and d["normalizer"]["strip_accents"]


@pytest.mark.parametrize("text", SENTENCES[:6] + ["unseen wörds ✨ 漢字"])
def test_encode_is_what_tokenizers_itself_gives(tok, text):
    reference = Tokenizer.from_file(str(tok.path)).encode(text)
    enc = tok.encode(text, 512)
    assert enc.ids == reference.ids and enc.offsets == [tuple(o) for o in reference.offsets] and not enc.truncated


def test_cjk_one_per_token_emoji_kept_lowercased_and_accents_stripped(tok):
    enc = tok.encode("这个新功能 😊 Café BON", 64)
    pieces = [tok.tok.id_to_token(i) for i in enc.ids]
    assert pieces[:5] == ["[CLS]", "这", "个", "新", "功"] and "😊" in pieces and pieces[-1] == "[SEP]"
    assert "cafe" in "".join(p.removeprefix("##") for p in pieces) and UNK not in enc.ids


def test_truncation_keeps_sep_last_and_says_so(tok):
    full = tok.encode(SENTENCES[0], 512)
    cut = tok.encode(SENTENCES[0], 6)
    assert len(cut.ids) == 6 and cut.ids[:5] == full.ids[:5] and cut.ids[-1] == SEP and cut.truncated
    assert tok.encode(SENTENCES[0], 1).ids == [CLS] and tok.encode(SENTENCES[0], 2).ids == [CLS, SEP]


def test_a_stock_tokenizer_keeps_its_own_special_ids(tmp_path):
    """BERT's own vocabulary puts [UNK], [CLS], [SEP] at 100-102: encode and describe follow the file."""
    from transformers import BertTokenizerFast

    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "好"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(str(tmp_path / "vocab.txt")).backend_tokenizer.save(str(tmp_path / "t.json"))
    stock = TextTokenizer(tmp_path / "t.json")
    assert stock.encode("good 好 bad", 16).ids == [101, 104, 105, 100, 102]
    assert stock.encode("good", 1).ids == [101] and stock.encode("good", 2).ids == [101, 102]
    assert stock.describe(16)["special_ids"] == {"pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103}
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        TextTokenizer(tmp_path / "junk.json")


def _probs(labels: list[str]) -> np.ndarray:
    return np.array([[0.9 if lang == name else 0.1 / 3 for name in LANGS] for lang in labels])


def test_spans_of_a_code_switched_sentence(tok):
    text = SENTENCES[0]  # 说实话 I really like 这个新功能 😊
    enc = tok.encode(text, 64)
    by_char = {**{i: "zh" for i in range(0, 3)}, **{i: "en" for i in range(4, 17)}, **{i: "zh" for i in range(18, 23)}}
    labels = ["other" if e <= s else by_char.get(s, "other") for s, e in enc.offsets]
    got = spans(text, enc.offsets, _probs(labels), LANGS)
    assert [(s.lang, text[s.start:s.end]) for s in got] == [("zh", "说实话"), ("en", "I really like"), ("zh", "这个新功能 😊")]
    assert all(abs(s.confidence - 0.9) < 1e-6 for s in got)


def test_pieces_of_one_word_get_one_language_and_punctuation_joins_the_word_before():
    text = "sedapnya!! ok"
    offsets = [(0, 0), (0, 5), (5, 8), (8, 9), (9, 10), (11, 13), (0, 0)]  # [CLS] sedap ##nya ! ! ok [SEP]
    probs = _probs(["other", "ms", "en", "other", "other", "en", "other"])
    probs[2] = [0.05, 0.5, 0.4, 0.05]  # the piece leans en, the word as a whole is ms
    got = spans(text, offsets, probs, LANGS)
    assert [(s.lang, s.start, s.end) for s in got] == [("ms", 0, 10), ("en", 11, 13)]


def test_leading_symbols_join_the_first_language_and_all_other_is_one_span():
    text = "👍👍 great"
    offsets = [(0, 1), (1, 2), (3, 8)]
    assert [s[:3] for s in spans(text, offsets, _probs(["other", "other", "en"]), LANGS)] == [("en", 0, 8)]
    assert [s[:3] for s in spans("123 !!", [(0, 3), (4, 5), (5, 6)], _probs(["other"] * 3), LANGS)] == [("other", 0, 6)]
    assert spans("", [(0, 0)], _probs(["other"]), LANGS) == []


def test_logits_give_the_same_spans_as_probabilities():
    text, offsets = "好 good", [(0, 1), (2, 6)]
    p = _probs(["zh", "en"])
    assert [s[:3] for s in spans(text, offsets, np.log(p) * 3, LANGS)] == [s[:3] for s in spans(text, offsets, p, LANGS)]


def test_agreement_counts_rows_with_identical_spans():
    a = [Span("zh", 0, 3, 0.9), Span("en", 4, 9, 0.8)]
    b = [Span("zh", 0, 3, 0.7), Span("en", 4, 9, 0.6)]  # confidences differ: still the same spans
    c = [Span("zh", 0, 9, 0.9)]
    assert agreement([a, a], [b, c]) == 0.5
