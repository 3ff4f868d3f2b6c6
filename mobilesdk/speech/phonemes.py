"""The phoneme inventory of the reference aligner: its CTC head's class names, shared by English,
Mandarin and Malay (index 0 = CTC blank, 1 = word boundary, then consonants, vowels, Mandarin tones).

The aligner's `small` preset takes these as its labels, so the manifest, `mobilesdk run` and the
bindings turn class ids into symbols and back. How espeak-ng's phonemes map onto them, and why
these symbols, is the training data's business: examples/train/speech/phonemes.py.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

BLANK = "<b>"  # CTC blank, index 0
WORD = "|"  # word boundary: the pause between words
CONSONANTS = ("p", "b", "t", "d", "k", "g", "f", "v", "θ", "ð", "s", "z", "ʃ", "h", "tʃ", "dʒ",
              "m", "n", "ŋ", "l", "r", "w", "j")
VOWELS = ("i", "ɪ", "e", "a", "ɑ", "o", "ʊ", "u", "ə", "y")
TONES = ("T1", "T2", "T3", "T4")  # Mandarin; the neutral tone has no symbol
INVENTORY: tuple[str, ...] = (BLANK, WORD, *CONSONANTS, *VOWELS, *TONES)
INDEX: dict[str, int] = {s: i for i, s in enumerate(INVENTORY)}


class UnknownPhoneme(ValueError):
    """A symbol with no entry in the map or the inventory."""


def to_ids(phonemes: str | Iterable[str]) -> list[int]:
    """Indices of inventory symbols, given space separated ("h ə l o ʊ") or as a sequence."""
    symbols = phonemes.split() if isinstance(phonemes, str) else list(phonemes)
    missing = [s for s in symbols if s not in INDEX]
    if missing:
        raise UnknownPhoneme(f"not in the inventory: {missing}")
    return [INDEX[s] for s in symbols]


def to_symbols(ids: Sequence[int]) -> list[str]:
    """The inverse of `to_ids`."""
    return [INVENTORY[i] for i in ids]
