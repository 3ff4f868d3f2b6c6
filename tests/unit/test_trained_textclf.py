"""The committed textclf checkpoint and tokenizer: the tokenizer covers the corpus, and the model
does its job on the held-out test split (examples/models/textclf/metrics.json records the same
numbers from the training run)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "examples/models/textclf"
DATA = ROOT / "examples/train/data/textclf"
sys.path.insert(0, str(ROOT / "examples/train"))
import textclf as training  # noqa: E402

from mobilesdk.models import build_model  # noqa: E402
from mobilesdk.models.textclf import PRESETS, TextClfConfig  # noqa: E402
from mobilesdk.text.tokenizer import TextTokenizer  # noqa: E402


def test_the_committed_tokenizer_covers_the_corpus_and_fits_the_model():
    tok = TextTokenizer(MODEL_DIR / "tokenizer.json")
    assert tok.vocab_size <= PRESETS["small"]["vocab"]
    unknown = sum(tok.encode(r["text"], 1 << 20).ids.count(1) for r in training.read(DATA / "test.jsonl"))
    assert unknown == 0  # every character of the held-out split is in the vocabulary
    vocab = (MODEL_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab == [t for t, _ in sorted(tok.tok.get_vocab().items(), key=lambda kv: kv[1])]


@pytest.fixture(scope="module")
def scores():
    cfg = TextClfConfig(**PRESETS["small"])
    tok = TextTokenizer(MODEL_DIR / "tokenizer.json")
    model, _ = build_model("textclf", "small", checkpoint=MODEL_DIR / "model.safetensors")
    test = training.encode_split(tok, training.read(DATA / "test.jsonl"), list(cfg.languages), list(cfg.sentiments),
                                 cfg.max_tokens)
    return training.evaluate(model, test)


def test_token_language_id_on_the_test_split(scores):
    assert scores["token_lid_accuracy"] >= 0.97


def test_sentiment_on_the_test_split(scores):
    assert scores["sentiment_accuracy"] >= 0.80


def test_an_untrained_model_is_at_chance():
    """The same measurement on the random init: the test above can fail."""
    cfg = TextClfConfig(**PRESETS["small"])
    tok = TextTokenizer(MODEL_DIR / "tokenizer.json")
    model, _ = build_model("textclf", "small")
    test = training.encode_split(tok, training.read(DATA / "test.jsonl")[:200], list(cfg.languages),
                                 list(cfg.sentiments), cfg.max_tokens)
    s = training.evaluate(model, test)
    assert s["token_lid_accuracy"] < 0.7 and s["sentiment_accuracy"] < 0.6
