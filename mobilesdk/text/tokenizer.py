"""The text models' tokenizer: a Hugging Face `tokenizers` WordPiece, saved as `tokenizer.json`.

`new_wordpiece()` makes the untrained pipeline (training: examples/train/textclf.py), `TextTokenizer`
loads a saved one and encodes with truncation, `describe()` is what the manifest records so the
bindings can reproduce it exactly. The normalisation is BERT's: clean control characters, CJK
characters split one per token, lowercase, accents stripped (NFD, combining marks removed; this also
drops emoji variation selectors). Pre-tokenisation splits on whitespace and punctuation (BERT's),
isolates every symbol (emoji, `\\p{So}` / `\\p{Sk}`) and splits digit runs from letters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mobilesdk.errors import ConfigError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # train_wordpiece gives them ids 0..4
PAD, UNK, CLS, SEP = 0, 1, 2, 3


def new_wordpiece():
    """The untrained tokenizer pipeline, and the trainer factory for its vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.BertPreTokenizer(),
        pre_tokenizers.Split(Regex(r"[\p{So}\p{Sk}]"), behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=False),
    ])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)]
    )
    tok.decoder = decoders.WordPiece()
    return tok


def train_wordpiece(sentences: list[str], vocab_size: int, min_frequency: int = 2):
    """A WordPiece vocabulary trained on `sentences` (every character seen stays in the alphabet)."""
    from tokenizers import trainers

    tok = new_wordpiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=list(SPECIAL_TOKENS), continuing_subword_prefix="##")
    tok.train_from_iterator(sentences, trainer)
    return tok


def write_vocab(tok, path: Path) -> None:
    """vocab.txt, one token per line in id order (the BERT convention; the bindings read it)."""
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    path.write_text("".join(f"{t}\n" for t, _ in vocab), encoding="utf-8")


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each token in the text; (0, 0) for specials
    truncated: bool  # the text had more tokens than max_tokens; the tail was cut


class TextTokenizer:
    """A saved `tokenizer.json` in `tokenizers` format: ours, or a stock model's own (any special ids)."""

    def __init__(self, path: str | Path):
        from tokenizers import Tokenizer

        self.path = Path(path)
        try:
            self.tok = Tokenizer.from_file(str(self.path))
        except Exception as e:  # tokenizers raises a bare Exception on a bad file
            raise ConfigError(f"tokenizer `{self.path}` cannot be read ({e}). Fix: point `tokenizer` at a "
                              "tokenizer.json written by `tokenizers`") from None
        self.specials = self.tok.num_special_tokens_to_add(False)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str, max_tokens: int) -> Encoded:
        """Ids with the post-processor's specials ([CLS]/[SEP]), cut to max_tokens (below the specials'
        count: just the first specials)."""
        if max_tokens <= self.specials:
            self.tok.no_truncation()
            return Encoded(self.tok.encode("").ids[:max_tokens], [(0, 0)] * max_tokens, bool(text.strip()))
        self.tok.enable_truncation(max_tokens)
        enc = self.tok.encode(text)
        return Encoded(list(enc.ids), [tuple(o) for o in enc.offsets], bool(enc.overflowing))

    def describe(self, max_tokens: int) -> dict:
        """What the manifest records: special ids, max length, and the pipeline stages verbatim."""
        saved = json.loads(self.tok.to_str())
        return {
            "kind": saved["model"]["type"].lower(),  # wordpiece for ours
            "vocab_size": self.vocab_size,
            "max_tokens": max_tokens,
            "special_ids": {t.content.strip("[]<>").lower(): i for i, t in
                            sorted(self.tok.get_added_tokens_decoder().items()) if t.special},
            "continuing_subword_prefix": saved["model"].get("continuing_subword_prefix", "##"),
            "normalizer": saved["normalizer"],
            "pre_tokenizer": saved["pre_tokenizer"],
            "truncation": "longest_first: tokens past max_tokens are cut, [SEP] is kept last",
        }
