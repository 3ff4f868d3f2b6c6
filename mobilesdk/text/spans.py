"""Language spans from token-level language ID: the product the LID head exists for.

`spans(text, offsets, lid_probs, labels)` groups tokens into words (WordPiece pieces of one word
touch and are letters or digits on both sides of the seam; CJK characters are words of their own),
takes each word's language from its tokens' mean probabilities, lets `other` words (punctuation,
emoji, numbers) join the language before them (or after them, at the start of the text), and merges
runs of one language into spans with character offsets into the original string. Hand-written: no
library turns token LID into spans. The Kotlin and Swift bindings reproduce this function.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

OTHER = "other"


class Span(NamedTuple):
    lang: str
    start: int  # character offsets into the text, end exclusive
    end: int
    confidence: float  # mean probability of `lang` over the span's own-language words


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FA1F


def _joins(text: str, left_end: int, right_start: int) -> bool:
    """True when the token ending at `left_end` and the one starting at `right_start` are pieces of one word."""
    if left_end != right_start or left_end == 0 or right_start >= len(text):
        return False
    a, b = text[left_end - 1], text[right_start]
    return a.isalnum() and b.isalnum() and not _is_cjk(a) and not _is_cjk(b)


def words(text: str, offsets, lid_probs: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(start, end, mean probabilities) per word; special tokens (empty offsets) are left out."""
    out: list[tuple[int, int, list]] = []
    for (s, e), p in zip(offsets, lid_probs):
        if e <= s:
            continue
        if out and _joins(text, out[-1][1], s):
            out[-1] = (out[-1][0], e, out[-1][2] + [p])
        else:
            out.append((s, e, [p]))
    return [(s, e, np.mean(ps, axis=0)) for s, e, ps in out]


def spans(text: str, offsets, lid_probs: np.ndarray, labels: list[str] | tuple[str, ...]) -> list[Span]:
    """Language spans of `text`. `lid_probs` [tokens, len(labels)] are probabilities (or logits: the
    argmax is the same, confidences are then softmaxed here) for the tokens with these `offsets`."""
    probs = np.asarray(lid_probs, dtype=np.float64)
    if probs.size and (probs.min() < 0 or not np.allclose(probs.sum(-1), 1, atol=1e-3)):
        probs = softmax(probs)
    ws = [(s, e, labels[int(p.argmax())], float(p.max())) for s, e, p in words(text, offsets, probs)]
    real = [i for i, w in enumerate(ws) if w[2] != OTHER]
    if not real:
        return [Span(OTHER, ws[0][0], ws[-1][1], float(np.mean([w[3] for w in ws])))] if ws else []
    merged: list[list] = []  # [lang, start, end, confidences]
    for i, (s, e, lang, conf) in enumerate(ws):
        own = lang != OTHER
        if not own:  # joins the language before it, or the first language after it at the start
            lang = merged[-1][0] if merged else ws[real[0]][2]
        if merged and merged[-1][0] == lang:
            merged[-1][2] = e
            merged[-1][3] += [conf] if own else []
        else:
            merged.append([lang, s, e, [conf] if own else []])
    return [Span(lang, s, e, round(float(np.mean(c)), 4)) for lang, s, e, c in merged]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, in float64."""
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def agreement(reference: list[list[Span]], got: list[list[Span]]) -> float:
    """Share of rows whose spans have the same languages and boundaries (confidences aside)."""
    same = [[s[:3] for s in a] == [s[:3] for s in b] for a, b in zip(reference, got)]
    return float(np.mean(same)) if same else 1.0
