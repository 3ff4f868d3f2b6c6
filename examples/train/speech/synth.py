"""Speech utterances with phoneme labels and exact word boundaries, synthesized offline by espeak-ng.

Why: the phoneme aligner needs labelled speech in English, Mandarin and Malay, with no network
and no data set to download; the Debian package espeak-ng (`apt-get install espeak-ng`) speaks
all three. What: `synthesize` speaks a sentence one word at a time (one espeak-ng process per word,
which writes the word's WAV and its phoneme mnemonics from the same call, so audio and labels
always agree), trims each word's leading and trailing silence by an energy threshold, resamples it
from espeak's 22050 Hz to 16 kHz with scipy, and joins the words with short silences. Each word's
start and end are therefore known to the sample ("concatenated synthesis"); the price is that each
word has its own citation intonation, and Mandarin tone sandhi does not cross words.
espeak-ng is deterministic (same arguments, same bytes), so `seed` only draws the pause lengths:
the same arguments give the same waveform.
"""
from __future__ import annotations

import functools
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
import phonemes  # noqa: E402

from mobilesdk.speech.espeak import VOICES, available, split_words  # noqa: E402,F401

SAMPLE_RATE = 16000
RATE_RANGE = (80, 450)  # words per minute (espeak-ng -s)
PITCH_RANGE = (0, 99)  # espeak-ng -p
GAP_S = (0.04, 0.16)  # silence between words, uniform
EDGE_S = (0.05, 0.20)  # silence before the first and after the last word, uniform
TRIM_DB = -40.0  # a word's edge frames quieter than its loudest frame by this are silence
FRAME_S = 0.005  # frame length for trimming


@functools.cache
def variants() -> frozenset[str]:
    """espeak-ng's voice variants (f3, m2, klatt, whisper, ...), from `espeak-ng --voices=variant`."""
    listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    return frozenset(line.split("!v/", 1)[1].strip() for line in listing if "!v/" in line)


def _espeak(word: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, int, str]:
    """One word: (int16 samples, their sample rate, `-x --sep=/` phoneme mnemonics)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav, phon = Path(tmp) / "w.wav", Path(tmp) / "p.txt"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-x", "--sep=/",
                        f"--phonout={phon}", "-w", str(wav), "--stdin"],
                       input=word, text=True, capture_output=True, check=True)
        rate_hz, samples = wavfile.read(wav)
        return samples, rate_hz, phon.read_text(encoding="utf-8")


def trim(samples: np.ndarray, rate_hz: int, threshold_db: float = TRIM_DB) -> np.ndarray:
    """`samples` without leading and trailing frames quieter than the loudest frame by threshold_db."""
    frame = max(1, round(FRAME_S * rate_hz))
    x = samples.astype(np.float64)
    n = len(x) // frame
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)) if n else np.zeros(0)
    if not n or rms.max() == 0:
        return samples[:0]
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (threshold_db / 20))
    return samples[loud[0] * frame: (loud[-1] + 1) * frame]


def _to_16k(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    x = samples.astype(np.float32) / 32768.0
    g = math.gcd(SAMPLE_RATE, rate_hz)
    return resample_poly(x, SAMPLE_RATE // g, rate_hz // g).astype(np.float32)


def _check(lang: str, voice_variant: str | None, rate: int, pitch: int) -> str:
    if lang not in VOICES:
        raise ValueError(f"lang {lang!r}: expected one of {sorted(VOICES)}")
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise ValueError(f"rate {rate}: expected {RATE_RANGE[0]}..{RATE_RANGE[1]} words per minute")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise ValueError(f"pitch {pitch}: expected {PITCH_RANGE[0]}..{PITCH_RANGE[1]}")
    if voice_variant is None:
        return VOICES[lang]
    if voice_variant not in variants():  # espeak-ng silently ignores an unknown variant
        raise ValueError(f"voice variant {voice_variant!r} is not one of espeak-ng's: {sorted(variants())}")
    return f"{VOICES[lang]}+{voice_variant}"


def synthesize(text: str, lang: str, voice_variant: str | None = None, rate: int = 175,
               pitch: int = 50, seed: int = 0
               ) -> tuple[np.ndarray, list[str], list[tuple[float, float, str]]]:
    """Speak `text` in `lang` ("en", "cmn", "ms"), with espeak-ng's voice variant (e.g. "f3").

    Returns (float32 mono waveform at 16 kHz, inventory phoneme symbols with `phonemes.WORD`
    between words, [(start_s, end_s, word)] in order). Raises phonemes.UnknownPhoneme when espeak
    gives a symbol the inventory does not map, ValueError on bad arguments or text with no word.
    """
    voice = _check(lang, voice_variant, rate, pitch)
    words = split_words(text)
    if not words:
        raise ValueError(f"no word to speak in {text!r}")
    rng = np.random.default_rng(seed)
    lead, trail = rng.uniform(*EDGE_S, size=2)
    gaps = rng.uniform(*GAP_S, size=len(words) - 1)
    pieces = [np.zeros(round(lead * SAMPLE_RATE), np.float32)]
    labels: list[str] = []
    bounds: list[tuple[float, float, str]] = []
    offset = len(pieces[0])
    for i, word in enumerate(words):
        samples, rate_hz, raw = _espeak(word, voice, rate, pitch)
        audio = _to_16k(trim(samples, rate_hz), rate_hz)
        word_phonemes = phonemes.from_espeak(raw, lang)
        if not len(audio) or not word_phonemes:
            raise ValueError(f"espeak-ng said nothing for {word!r} ({voice})")
        bounds.append((offset / SAMPLE_RATE, (offset + len(audio)) / SAMPLE_RATE, word))
        labels += ([phonemes.WORD] if i else []) + word_phonemes
        pause = np.zeros(round((gaps[i] if i < len(gaps) else trail) * SAMPLE_RATE), np.float32)
        pieces += [audio, pause]
        offset += len(audio) + len(pause)
    return np.concatenate(pieces), labels, bounds
