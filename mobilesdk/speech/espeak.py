"""espeak-ng as a phonemizer: text in English, Mandarin (pinyin) or Malay -> the aligner's phoneme symbols.

Why: the aligner (mobilesdk/models/aligner.py) has one CTC head for all languages, with blank = 0
and 39 classes in its `small` preset, so the three languages must share one small label set.
What: `RAW` maps espeak-ng's phoneme mnemonics (`espeak-ng -q -x --sep=/`, per language) to the
symbols of `mobilesdk.speech.phonemes.INVENTORY`; `from_espeak` applies it; `phonemize` runs
espeak-ng on a text word by word (the training data's labels, and `mobilesdk run --text --lang`).
espeak-ng is a Debian package (`apt-get install espeak-ng`), needed only for those two.

The mnemonics are read instead of `--ipa` because espeak-ng 1.51's IPA output keeps one digit of a
Mandarin tone contour, so tone 1 (55) and tone 4 (51) both print as "5". Choices, all deliberate:
- Stress (English, Malay) is dropped: it is not a phoneme, and the model sees pitch and length.
- Mandarin tones are separate symbols T1-T4, emitted where espeak writes them: right after the
  syllable's vowel, before a final n/ng. Folding them into the vowels would need about 5x the
  vowels. The neutral tone (espeak's contours 11, 22, 33, 44) gets no symbol: no tone mark is the
  neutral tone. A third tone changed by sandhi is labelled as spoken (espeak's 35 is T2).
- Mandarin unaspirated stops and affricates take the voiced symbols and aspirated ones the voiceless
  (b [p] -> b, p [pʰ] -> p, z [ts] -> d z, c [tsʰ] -> t s), as pinyin does: English word-initial
  /b d g/ are also voiceless unaspirated, so the symbols mean the same sound in both languages.
- Mandarin retroflex and alveolo-palatal initials merge (zh/j -> dʒ, ch/q -> tʃ, sh/x -> ʃ; r -> r):
  j/q/x only come before i/ü and zh/ch/sh/r never do, and the apical vowel of zhi/chi/shi/ri/zi/ci/si
  is ɪ (which Mandarin otherwise lacks), so every syllable stays distinct.
- Diphthongs, r-coloured vowels and syllabic consonants are sequences (aɪ -> a ɪ, ɑɹ -> ɑ r,
  ɚ -> ə r, əl -> ə l, Malay ɲ -> n j); allophones take their phoneme (flap ɾ -> t, English glottal
  stop -> t, Malay final glottal stop -> k, ʒ -> ʃ, x/χ -> h, every rhotic -> r), and close vowel
  pairs merge (ɛ -> e, æ -> a, ɔ -> o, ʌ/ɐ/ɤ -> ə, long vowels -> short).
UNKNOWN: a mnemonic missing from `RAW` (a new phoneme, or espeak switching language, "(en)")
raises `UnknownPhoneme` naming it, so the map is extended on purpose, never guessed silently.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

from mobilesdk.errors import ConfigError
from mobilesdk.speech.phonemes import WORD, UnknownPhoneme

# Language -> espeak-ng voice. `cmn-latn-pinyin`, not `cmn`: in espeak-ng 1.51 the `cmn` voice
# reads the pinyin it looks characters up as English ("饭" -> "fan four"), espeak-ng issue #1236.
VOICES = {"en": "en-us", "cmn": "cmn-latn-pinyin", "ms": "ms"}
_KEEP_IN_WORD = "'-"  # punctuation kept inside a word (o'clock, budak-budak)

# espeak-ng mnemonic -> inventory symbols, space separated ("" = nothing). Read the same in every
# language (identity entries included, so the map is the whole truth).
_COMMON = {
    **{c: c for c in ("b", "d", "g", "f", "v", "s", "z", "h", "m", "n", "l", "w", "j")},
    "N": "ŋ", "S": "ʃ", "tS": "tʃ", "dZ": "dʒ", "r": "r", "x": "h",
    "i": "i", "u": "u", "o": "o", "a": "a", "@": "ə", "E": "e",
    "aI": "a ɪ", "aU": "a ʊ",
    ";": "",  # palatal glide marker: no segment of its own in the IPA output
}
_EN = {  # en-us
    "p": "p", "t": "t", "k": "k", "D": "ð", "T": "θ", "Z": "ʃ", "C": "h",
    "t#": "t", "t2": "t", "?": "t", "r-": "r", "n-": "n", "l#": "l",
    "I": "ɪ", "I2": "ɪ", "I#": "ɪ", "i:": "i", "u:": "u", "U": "ʊ", "aa": "a", "0": "ɑ", "A:": "ɑ",
    "O:": "o", "O2": "o", "V": "ə", "@2": "ə", "@-": "ə", "a#": "ə", "@L": "ə l",
    "eI": "e ɪ", "oU": "o ʊ", "OI": "o ɪ", "i@": "i ə", "aI@": "a ɪ ə",
    "3": "ə r", "3:": "ə r", "A@": "ɑ r", "O@": "o r", "o@": "o r", "e@": "e r", "i@3": "ɪ r",
    "U@": "ʊ r", "aI3": "a ɪ ə r",
}
_CMN = {  # cmn-latn-pinyin
    "p": "b", "t": "d", "k": "g", "ph": "p", "th": "t", "kh": "k", "ts": "d z", "tsh": "t s",
    "ts.": "dʒ", "ts.h": "tʃ", "tS;": "dʒ", "tS;h": "tʃ", "s.": "ʃ", "S;": "ʃ", "z.": "r", "X": "h",
    "i.": "ɪ", "i[": "ɪ", "A": "ɑ", "o-": "ə", "y": "y", "@r": "ə r",
    "ai": "a ɪ", "ei": "e ɪ", "Au": "ɑ ʊ", "ou": "o ʊ", "ong": "ʊ ŋ",
    "iA": "i ɑ", "iE": "i e", "io": "i o", "iou": "i o ʊ", "ua": "u a", "uo": "u o", "uai": "u a ɪ",
    "uei": "u e ɪ", "u@": "u ə", "y&": "y a", "yE": "y e", "y@": "y ə", "yi": "y i",
    "yu": "y ʊ",  # yong: before ŋ, like ong
}
_MS = {  # ms
    "p": "p", "t": "t", "k": "k", "?": "k", "R": "r", "R2": "r", "*": "r", "n^": "n j",
    "e": "e", "E2": "e", "e:": "e", "i:": "i", "u:": "u", "O": "o",
}
RAW: dict[str, dict[str, tuple[str, ...]]] = {
    lang: {k: tuple(v.split()) for k, v in {**_COMMON, **extra}.items()}
    for lang, extra in (("en", _EN), ("cmn", _CMN), ("ms", _MS))
}
# espeak's Mandarin pitch contours (1 low .. 5 high) -> tone symbol; None = neutral tone.
CMN_TONES: dict[str, str | None] = {"55": "T1", "35": "T2", "214": "T3", "21": "T3", "51": "T4",
                                    "11": None, "22": None, "33": None, "44": None}
_STRESS = "',%="
_TONE = re.compile(r"^(.*?)(\d+)$")


def from_espeak(raw: str, lang: str) -> list[str]:
    """Inventory symbols for `espeak-ng -q -x --sep=/` output of one language, words flattened.

    Pauses ("_", "_|", ...) are dropped: synth.py places word boundaries itself.
    """
    table = RAW[lang]
    out: list[str] = []
    for token in raw.replace(" ", "/").split("/"):
        token = token.strip().lstrip(_STRESS)
        if not token or token.startswith("_"):
            continue
        tone = None
        if lang == "cmn" and (m := _TONE.match(token)):
            token, contour = m.groups()
            if contour not in CMN_TONES:
                raise UnknownPhoneme(f"espeak-ng Mandarin tone contour {contour!r} in {raw!r}")
            tone = CMN_TONES[contour]
        if token not in table:
            raise UnknownPhoneme(f"espeak-ng {lang} phoneme {token!r} in {raw!r} is not mapped")
        out.extend(table[token])
        if tone:
            out.append(tone)
    return out


def available() -> bool:
    """Whether the espeak-ng command is on PATH."""
    return shutil.which("espeak-ng") is not None


def split_words(text: str) -> list[str]:
    """Whitespace-separated words without their punctuation (Mandarin comes segmented by spaces)."""
    words = []
    for token in text.split():
        kept = "".join(c for c in token if c in _KEEP_IN_WORD or not unicodedata.category(c).startswith("P"))
        if kept := kept.strip(_KEEP_IN_WORD):
            words.append(kept)
    return words


def phonemize(text: str, lang: str) -> list[str]:
    """The inventory symbols of `text` in `lang`, words separated by WORD; one espeak-ng call per
    word, as the training data was made (so boundaries sit where the aligner learnt them)."""
    if lang not in VOICES:
        raise ConfigError(f"--lang {lang}: espeak-ng phonemes are mapped for {', '.join(VOICES)}. Fix: use one of them")
    if not available():
        raise ConfigError("espeak-ng is not installed, so text cannot become phonemes. "
                          "Fix: `apt-get install espeak-ng`, or pass --phonemes")
    words = split_words(text)
    if not words:
        raise ConfigError(f"--text {text!r} has no words. Fix: pass the words spoken in the audio")
    out: list[str] = []
    for i, word in enumerate(words):
        raw = subprocess.run(["espeak-ng", "-q", "-x", "--sep=/", "-v", VOICES[lang], "--stdin"], input=word,
                             text=True, capture_output=True, check=True).stdout
        try:
            out += ([WORD] if i else []) + from_espeak(raw, lang)
        except UnknownPhoneme as e:
            raise ConfigError(f"--text: {e}. Fix: pass --phonemes for this word, or extend RAW") from None
    return out
